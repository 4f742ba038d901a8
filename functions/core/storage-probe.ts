/**
 * The storage probe: what the configured store really enforces, shown rather than trusted. Over a narrow
 * port (StorageProbeTarget, implemented over S3 by adapters/store-probe-target.ts) it
 *   1. PUTs a small part whose bytes differ from the digest signed for it (the profile's check): storage
 *      must refuse it with a DIGEST error (400 BadDigest / InvalidDigest / XAmzContentChecksumMismatch);
 *      a signature error or anything else proves nothing and fails the probe;
 *   2. PUTs the right bytes under the same number: storage must accept them;
 *   3. does the same with a single PutObject (a tiny object under PROBE_KEY_PREFIX, deleted after);
 *   4. on uniform-parts profiles, assembles an upload cut by the rule (one part of the minimum size and a
 *      short last one);
 * and measures storage's clock against the coordinator's from the Date of storage's answers. It cleans
 * up after itself (abort or delete), whatever the outcome; cleanup failures are reported, not fatal.
 * Result (contract StorageProbe): verified (damaged bytes refused, right bytes accepted, the uniform
 * upload assembled), unverified (storage accepted damaged bytes), failed (the probe could not finish, or
 * storage refused right bytes), with one sentence for a person.
 */
import { randomUUID } from "node:crypto";
import type { PartCheck, StorageProbe } from "../contract/storage.js";
import type { Clock } from "./ports.js";

/**
 * Keys the probe writes under: inside objects/, the only prefix the deployed API may write and delete
 * (infra/storage.ts OBJECT_PREFIX), and apart from transfers' keys (objects/tr_…). An upload left behind
 * (cleanup failed) is aborted by the bucket's lifecycle rule like any other.
 */
export const PROBE_KEY_PREFIX = "objects/sfts-probe/";

/** The S3 error codes that mean "these bytes do not match the digest you signed". */
export const DIGEST_REFUSALS: readonly string[] = [
  "BadDigest",
  "InvalidDigest",
  "XAmzContentChecksumMismatch",
];

/** The bytes of the small part and object (a damaged copy differs in one byte). */
export const PROBE_BYTES = 4096;

/** What storage answered to one request. */
export interface StorageAnswer {
  /** HTTP status. */
  status: number;
  /** S3 error code from the answer's body (<Code>…</Code>), "" if none. */
  code: string;
  /** Storage's Date header, if it sent one. */
  date?: string | undefined;
  /** An accepted part's ETag. */
  etag?: string | undefined;
}

/** One multipart upload the probe started. */
export interface ProbeUpload {
  /** PUTs `bytes` as part `partNumber`, presigned with the digest of `signedDigestOf`. */
  putPart(partNumber: number, bytes: Uint8Array, signedDigestOf: Uint8Array): Promise<StorageAnswer>;
  /** CompleteMultipartUpload of these parts (uniform-parts profiles): the object then exists. */
  complete(parts: readonly { partNumber: number; etag: string; bytes: Uint8Array }[]): Promise<StorageAnswer>;
  abort(): Promise<void>;
}

/** The storage calls the probe needs; each signs the profile's check. Network failures throw. */
export interface StorageProbeTarget {
  startUpload(key: string): Promise<ProbeUpload>;
  /** A single PutObject of `bytes`, presigned with the digest of `signedDigestOf`. */
  putObject(key: string, bytes: Uint8Array, signedDigestOf: Uint8Array): Promise<StorageAnswer>;
  deleteObject(key: string): Promise<void>;
}

export interface ProbeRules {
  partCheck: PartCheck;
  uniformParts: boolean;
  /** The uniform upload's first part has this size (the store's minimum part size). */
  minPartSize: number;
}

export interface ProbeOptions {
  clock?: Clock;
  /** Told of cleanup that failed (an upload or object left behind under PROBE_KEY_PREFIX). */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Distinguishes this run's keys; random unless given. */
  runId?: string;
}

const CHECK_NAMES: Record<PartCheck, string> = {
  sha256: "SHA-256 (x-amz-checksum-sha256)",
  md5: "MD5 (Content-MD5)",
};

const accepted = (a: StorageAnswer) => a.status >= 200 && a.status < 300;
const digestRefusal = (a: StorageAnswer) => a.status === 400 && DIGEST_REFUSALS.includes(a.code);
export const describeAnswer = (a: StorageAnswer) => (a.code ? `${a.status} ${a.code}` : String(a.status));

/** Thrown inside the run to end it as failed with a reason. */
class ProbeFailure extends Error {}

function patterned(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function damagedCopy(bytes: Uint8Array): Uint8Array {
  const d = Uint8Array.from(bytes);
  const at = Math.floor(d.length / 2);
  d[at] = (d[at] ?? 0) ^ 0xff;
  return d;
}

export async function runStorageProbe(
  target: StorageProbeTarget,
  rules: ProbeRules,
  options: ProbeOptions = {},
): Promise<StorageProbe> {
  const clock = options.clock ?? { now: () => new Date() };
  const warn = options.warn ?? (() => {});
  const run = options.runId ?? randomUUID();
  const check = CHECK_NAMES[rules.partCheck];
  const base = { partCheck: rules.partCheck, checkedAt: clock.now().toISOString() };
  let clockSkewMs: number | undefined;
  /** Sends one request, noting storage's clock from the first answer that carries a Date. */
  const timed = async (call: () => Promise<StorageAnswer>): Promise<StorageAnswer> => {
    const before = clock.now().getTime();
    const answer = await call();
    const after = clock.now().getTime();
    const date = answer.date ? Date.parse(answer.date) : Number.NaN;
    // Date is storage's time cut to the second (on average half a second early); the request's midpoint
    // is the best local match for it.
    if (clockSkewMs === undefined && Number.isFinite(date))
      clockSkewMs = date + 500 - Math.round((before + after) / 2);
    return answer;
  };
  const findings: Pick<StorageProbe, "damagedPart" | "damagedObject" | "uniformAssembled"> = {};
  const cleanups: { what: string; fn: () => Promise<void> }[] = [];
  const small = patterned(PROBE_BYTES, 7);
  const damaged = damagedCopy(small);

  /** A damaged PUT then a right one; whether storage accepted the damaged bytes. */
  const damagedThenRight = async (
    what: "part" | "single PUT",
    put: (bytes: Uint8Array) => Promise<StorageAnswer>,
  ) => {
    const bad = await timed(() => put(damaged));
    findings[what === "part" ? "damagedPart" : "damagedObject"] = describeAnswer(bad);
    if (!accepted(bad) && !digestRefusal(bad))
      throw new ProbeFailure(
        `storage answered ${describeAnswer(bad)} to a ${what} whose bytes did not match its signed ${check}, which is no digest refusal (expected 400 ${DIGEST_REFUSALS.join(" / ")})`,
      );
    const good = await timed(() => put(small));
    if (!accepted(good))
      throw new ProbeFailure(`storage refused a correct ${what} (${describeAnswer(good)})`);
    return { bad, good, damagedAccepted: accepted(bad) };
  };

  try {
    const partKey = `${PROBE_KEY_PREFIX}${run}/upload`;
    const upload = await target.startUpload(partKey);
    let assembled = false;
    cleanups.push({
      what: `upload ${partKey}`,
      fn: () => (assembled ? target.deleteObject(partKey) : upload.abort()),
    });
    // Part 2 is the short last part of the uniform upload below; on other profiles it is just a part.
    const part = await damagedThenRight("part", (b) => upload.putPart(2, b, small));

    const objectKey = `${PROBE_KEY_PREFIX}${run}/object`;
    cleanups.push({ what: `object ${objectKey}`, fn: () => target.deleteObject(objectKey) });
    const object = await damagedThenRight("single PUT", (b) => target.putObject(objectKey, b, small));

    if (rules.uniformParts) {
      const first = patterned(rules.minPartSize, 11);
      const one = await timed(() => upload.putPart(1, first, first));
      if (!accepted(one)) throw new ProbeFailure(`storage refused a correct part (${describeAnswer(one)})`);
      const done = await timed(() =>
        upload.complete([
          { partNumber: 1, etag: one.etag ?? "", bytes: first },
          { partNumber: 2, etag: part.good.etag ?? "", bytes: small },
        ]),
      );
      assembled = accepted(done);
      findings.uniformAssembled = assembled;
      if (!assembled)
        throw new ProbeFailure(
          `an upload cut by the uniform-parts rule (${rules.minPartSize} bytes, then ${PROBE_BYTES}) did not assemble (${describeAnswer(done)})`,
        );
    }

    if (part.damagedAccepted || object.damagedAccepted) {
      const which =
        part.damagedAccepted && object.damagedAccepted
          ? "a part and an object"
          : part.damagedAccepted
            ? "a part"
            : "an object";
      return {
        ...base,
        ...findings,
        state: "unverified",
        ...(clockSkewMs !== undefined && { clockSkewMs }),
        message: `Storage accepted ${which} whose bytes did not match the signed ${check}: it does not verify what the coordinator signs, so damaged parts would go unnoticed until assembly.`,
      };
    }
    return {
      ...base,
      ...findings,
      state: "verified",
      ...(clockSkewMs !== undefined && { clockSkewMs }),
      message: `Storage refused damaged bytes under the signed ${check}, answering ${findings.damagedPart}, and accepted the right ones${rules.uniformParts ? ", and assembled an upload cut by the uniform-parts rule" : ""}: parts are verified by storage.`,
    };
  } catch (err) {
    const reason =
      err instanceof ProbeFailure
        ? err.message
        : `storage could not be reached (${err instanceof Error ? err.message : String(err)})`;
    return {
      ...base,
      ...findings,
      state: "failed",
      ...(clockSkewMs !== undefined && { clockSkewMs }),
      message: `The storage probe could not finish: ${reason}.`,
    };
  } finally {
    for (const c of cleanups.reverse()) {
      await c.fn().catch((err: unknown) =>
        warn("the storage probe could not clean up", {
          what: c.what,
          error: err instanceof Error ? err.message : String(err),
        }),
      );
    }
  }
}
