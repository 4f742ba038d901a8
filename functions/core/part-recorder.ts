/**
 * Recording parts the client PUT and storage accepted. Storage is trusted, not the caller: every part
 * is checked against what storage holds (size, ETag, its verified SHA-256 when it keeps one) before a
 * record is written; later, a record counts as held while storage has a part of its size and ETag (and
 * SHA-256, where ListParts returns one: SeaweedFS's and most md5-profile stores' do not, and there the
 * ETag, the MD5 of the part's bytes, is what tells a part sent again with other bytes). Storage may list
 * several entries for one number (a store that keeps every upload of it: SeaweedFS); a claim or record
 * holds when ANY of them matches, and the recorded ETag is what CompleteMultipartUpload is given, which
 * picks those bytes there (on S3 there is one entry per number, so this is S3's check). On an upload cut
 * by one part size (uniform parts), claims must sit where that size puts them. Two paths:
 *   recordOne   the per-part call (POST /upload/{id}/parts/{n}/done): one GetPart (and a ListParts only
 *               when that entry is not the claimed part), one transaction.
 *   recordMany  records carried on presign, parts/done or assemble: one ListParts for all of them, then
 *               one transaction per ≤ 99 new parts (the part items + one META update of the counters).
 *               Parts recorded already fall back to the per-part rules (existing, or replaced).
 * So a part costs at most two item writes (its record, its share of one META update); byte counters for
 * the dashboard go through the StatsBuffer, never one write per part.
 */
import type { TransferEvent } from "../contract/monitor.js";
import { type PartLimits, S3_PART_LIMITS } from "../contract/part-rules.js";
import type { PartDoneResponse, RecordedPart, RecordPartsResponse } from "../contract/schemas.js";
import { minuteOf } from "./activity.js";
import { base64ToHex } from "./checksums.js";
import { AppError } from "./errors.js";
import { checkNeighbours, checkPart, type PartRange, RECORD_TRANSACTION_PARTS } from "./part-math.js";
import type {
  ClientMetrics,
  Clock,
  ObjectStore,
  PartRecord,
  StoredPart,
  TransferRecord,
  TransferRepo,
} from "./ports.js";
import type { StatsBuffer } from "./stats-buffer.js";
import { checkUniform } from "./storage-rules.js";

/** A part the client says it stored: where it sits, its SHA-256, the ETag storage answered. */
export interface PartClaim {
  partNumber: number;
  offset: number;
  size: number;
  sha256: string;
  etag: string;
}

export type NoteFn = (
  t: Pick<TransferRecord, "id" | "name">,
  kind: TransferEvent["kind"],
  message: string,
  extra?: { code?: string; partNumber?: number },
) => Promise<void>;

export interface PartRecorderDeps {
  repo: TransferRepo;
  store: ObjectStore;
  clock: Clock;
  stats: StatsBuffer;
  note: NoteFn;
  /** The store's part limits (the profile's); S3's if absent. */
  limits?: PartLimits;
}

export const stripQuotes = (etag: string): string => etag.replace(/^"+|"+$/g, "");

/** Whether this one entry storage lists is the recorded part: its size, ETag, and SHA-256 where kept. */
function entryHolds(s: StoredPart, p: PartRecord): boolean {
  if (s.partNumber !== p.partNumber || s.size !== p.size) return false;
  if (p.etag !== "" && stripQuotes(s.etag) !== stripQuotes(p.etag)) return false;
  return s.checksumSha256 === undefined || base64ToHex(s.checksumSha256) === p.sha256;
}

/** Whether this one entry is the part a client claims it stored (size, ETag, SHA-256 where kept). */
function entryMatches(s: StoredPart, claim: Omit<PartClaim, "partNumber">): boolean {
  if (s.size !== claim.size || stripQuotes(s.etag) !== stripQuotes(claim.etag)) return false;
  return s.checksumSha256 === undefined || base64ToHex(s.checksumSha256) === claim.sha256;
}

/**
 * Storage's entries per part number. S3 keeps one per number (an upload of it replaces the last); some
 * stores keep every upload of a number and list them all, in no set order (SeaweedFS: the profile's
 * partReupload "keeps-each"), and CompleteMultipartUpload then assembles the entry whose ETag it is given.
 * So no check here keeps "the" entry of a number: each asks whether ANY entry of it matches.
 */
export function entriesByNumber(stored: readonly StoredPart[]): Map<number, StoredPart[]> {
  const out = new Map<number, StoredPart[]>();
  for (const s of stored) {
    const list = out.get(s.partNumber);
    if (list) list.push(s);
    else out.set(s.partNumber, [s]);
  }
  return out;
}

/**
 * Whether storage holds this recorded part as recorded: one of the entries it lists for the number has
 * the size and the ETag storage gave the part when it was recorded, and its SHA-256 where the store keeps
 * one. Completing with the recorded ETag then assembles exactly those bytes, on either kind of store.
 */
export function storageHolds(entries: readonly StoredPart[] | undefined, p: PartRecord): boolean {
  return (entries ?? []).some((s) => entryHolds(s, p));
}

/** The records storage does not hold as recorded (none of the entries listed for their number matches). */
export function partsNotHeld(stored: readonly StoredPart[], records: readonly PartRecord[]): PartRecord[] {
  const byNumber = entriesByNumber(stored);
  return records.filter((p) => !storageHolds(byNumber.get(p.partNumber), p));
}

/**
 * The entry of part n that is the part claimed; throws PART_NOT_STORED when storage lists none that is.
 * `entries` are storage's entries for n (one on S3, every upload of n on a store that keeps each).
 */
export function checkStoredPart(
  n: number,
  claim: Omit<PartClaim, "partNumber">,
  entries: readonly StoredPart[],
): StoredPart {
  const match = entries.find((s) => entryMatches(s, claim));
  if (match) return match;
  const fail = (message: string): never => {
    throw new AppError("PART_NOT_STORED", message, { partNumber: n });
  };
  const [stored] = entries;
  if (!stored) return fail(`Storage holds no part ${n} for this upload; upload it before marking it done.`);
  if (entries.length > 1)
    return fail(
      `Storage holds ${entries.length} uploads of part ${n}, none of ${claim.size} bytes with ETag ${claim.etag} and the SHA-256 given.`,
    );
  if (stored.size !== claim.size)
    return fail(`Storage holds ${stored.size} bytes as part ${n}, not ${claim.size}.`);
  if (stored.checksumSha256 !== undefined && base64ToHex(stored.checksumSha256) !== claim.sha256)
    return fail(`Storage holds part ${n} with another SHA-256 than the one given.`);
  return fail(`Storage holds part ${n} with ETag ${stored.etag}, not ${claim.etag}.`);
}

const sameBytes = (a: PartRecord, b: PartRecord) =>
  a.sha256 === b.sha256 && a.offset === b.offset && a.size === b.size;

export class PartRecorder {
  private readonly limits: PartLimits;

  constructor(private readonly deps: PartRecorderDeps) {
    this.limits = deps.limits ?? S3_PART_LIMITS;
  }

  private notPartOf(t: TransferRecord): never {
    throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${t.status}; cannot record parts.`, {
      status: t.status,
    });
  }

  private async counters(id: string): Promise<{ partsDone: number; bytesDone: number }> {
    const t = await this.deps.repo.getTransfer(id);
    return { partsDone: t?.partsDone ?? 0, bytesDone: t?.bytesDone ?? 0 };
  }

  private addBytes(bytes: number, parts: number): Promise<void> {
    if (bytes === 0 && parts === 0) return Promise.resolve();
    return this.deps.stats.add(
      { bytesReceived: bytes },
      { minute: minuteOf(this.deps.clock.now()), delta: { bytes, parts } },
    );
  }

  private async noteClientError(t: TransferRecord, client: ClientMetrics | undefined, partNumber?: number) {
    const reported = client?.lastError;
    if (reported && reported !== t.lastError)
      await this.deps.note(t, "client-error", reported, partNumber !== undefined ? { partNumber } : {});
  }

  /**
   * Storage's entries for a claimed part: the one GetPart finds when it is the claimed part (always so on
   * S3 for a true claim), else every entry ListParts gives for the number, since a store that keeps each
   * upload of a number may list the claimed one after another (a re-sent part, a gap re-split on resume).
   */
  private async entriesOf(t: TransferRecord, claim: PartClaim): Promise<StoredPart[]> {
    const { store } = this.deps;
    const uploadId = t.uploadId as string;
    const first = await store.getPart(t.objectKey, uploadId, claim.partNumber);
    if (!first) return [];
    if (entryMatches(first, claim)) return [first];
    const all = await store.listParts(t.objectKey, uploadId);
    return all.filter((s) => s.partNumber === claim.partNumber);
  }

  /** A part that was sent again with other bytes: storage holds the new ones (checked by the caller). */
  private async replace(t: TransferRecord, old: PartRecord, part: PartRecord, now: string): Promise<void> {
    checkNeighbours(part, await this.deps.repo.partNeighbours(t.id, part.partNumber), this.limits);
    if (!(await this.deps.repo.replacePart(t.id, old, part, now)))
      throw new AppError(
        "PART_CONFLICT",
        `Part ${part.partNumber} changed while it was being recorded; retry.`,
      );
    await this.addBytes(part.size - old.size, 0);
  }

  /** The per-part path: POST /upload/{id}/parts/{n}/done. */
  async recordOne(
    t: TransferRecord,
    claim: PartClaim,
    client: ClientMetrics | undefined,
  ): Promise<PartDoneResponse> {
    const { repo } = this.deps;
    const { partNumber } = claim;
    checkPart(t.size, claim, this.limits);
    checkUniform(t, [claim]);
    if (t.status !== "uploading") {
      const parts = await repo.listParts(t.id);
      const same = parts.find((p) => p.partNumber === partNumber && p.sha256 === claim.sha256);
      if (same && t.status === "complete")
        return { partNumber, recorded: "existing", partsDone: t.partsDone, bytesDone: t.bytesDone };
      this.notPartOf(t);
    }
    let stored: StoredPart;
    try {
      stored = checkStoredPart(partNumber, claim, await this.entriesOf(t, claim));
    } catch (err) {
      if (err instanceof AppError)
        await this.deps.note(t, "part-rejected", err.message, { code: err.code, partNumber });
      throw err;
    }
    await this.noteClientError(t, client, partNumber);
    const now = this.deps.clock.now().toISOString();
    const part: PartRecord = {
      partNumber,
      offset: claim.offset,
      size: claim.size,
      sha256: claim.sha256,
      etag: stripQuotes(stored.etag),
      uploadedAt: now,
    };
    const r = await repo.recordPart(t.id, part, client, now);
    if (r.outcome === "not-uploading") {
      const status = (await repo.getTransfer(t.id))?.status ?? t.status;
      throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${status}; cannot record parts.`, { status });
    }
    if (r.outcome === "new") {
      await this.addBytes(part.size, 1);
      return { partNumber, recorded: "new", partsDone: r.partsDone, bytesDone: r.bytesDone };
    }
    let recorded: PartDoneResponse["recorded"] = "existing";
    if (!sameBytes(r.existing, part)) {
      await this.replace(t, r.existing, part, now);
      recorded = "replaced";
    }
    return { partNumber, recorded, ...(await this.counters(t.id)) };
  }

  /**
   * Checks claims before anything is written (a refused call changes nothing): valid places in the file,
   * no number twice, no overlaps among them.
   */
  validate(fileSize: number, claims: readonly PartRange[]): void {
    const seen = new Set<number>();
    for (const c of claims) {
      if (seen.has(c.partNumber))
        throw new AppError("INVALID_PART", `Part ${c.partNumber} is recorded twice.`);
      seen.add(c.partNumber);
      checkPart(fileSize, c, this.limits);
    }
    for (const c of claims)
      checkNeighbours(
        c,
        claims.filter((o) => o.partNumber !== c.partNumber),
        this.limits,
      );
  }

  /** Records several parts at once (carried on presign, parts/done or assemble). */
  async recordMany(
    t: TransferRecord,
    claims: readonly PartClaim[],
    client: ClientMetrics | undefined,
  ): Promise<RecordPartsResponse> {
    const { repo, store } = this.deps;
    this.validate(t.size, claims);
    checkUniform(t, claims);
    if (claims.length === 0) return { recorded: [], partsDone: t.partsDone, bytesDone: t.bytesDone };
    if (t.status !== "uploading") {
      if (t.status === "complete") {
        const byNumber = new Map((await repo.listParts(t.id)).map((p) => [p.partNumber, p]));
        if (claims.every((c) => byNumber.get(c.partNumber)?.sha256 === c.sha256))
          return {
            recorded: claims.map((c) => ({ partNumber: c.partNumber, recorded: "existing" as const })),
            partsDone: t.partsDone,
            bytesDone: t.bytesDone,
          };
      }
      this.notPartOf(t);
    }
    // One ListParts checks every claim; nothing is written unless all of them hold.
    const entries = entriesByNumber(await store.listParts(t.objectKey, t.uploadId as string));
    const stored = new Map<number, StoredPart>();
    for (const c of claims) {
      try {
        stored.set(c.partNumber, checkStoredPart(c.partNumber, c, entries.get(c.partNumber) ?? []));
      } catch (err) {
        if (err instanceof AppError)
          await this.deps.note(t, "part-rejected", err.message, { code: err.code, partNumber: c.partNumber });
        throw err;
      }
    }
    await this.noteClientError(t, client);
    const now = this.deps.clock.now().toISOString();
    const records: PartRecord[] = claims.map((c) => ({
      partNumber: c.partNumber,
      offset: c.offset,
      size: c.size,
      sha256: c.sha256,
      etag: stripQuotes((stored.get(c.partNumber) as StoredPart).etag),
      uploadedAt: now,
    }));
    const outcome = new Map<number, RecordedPart["recorded"]>();
    for (let i = 0; i < records.length; i += RECORD_TRANSACTION_PARTS) {
      let chunk = records.slice(i, i + RECORD_TRANSACTION_PARTS);
      // Each round either records the whole chunk or takes out the parts recorded already.
      for (let round = 0; chunk.length > 0; round++) {
        if (round > RECORD_TRANSACTION_PARTS)
          throw new AppError("PART_CONFLICT", "Parts kept changing while they were being recorded; retry.");
        const r = await repo.recordParts(t.id, chunk, client, now);
        if (r.outcome === "not-uploading") {
          const status = (await repo.getTransfer(t.id))?.status ?? t.status;
          throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${status}; cannot record parts.`, {
            status,
          });
        }
        if (r.outcome === "new") {
          for (const p of chunk) outcome.set(p.partNumber, "new");
          await this.addBytes(
            chunk.reduce((a, p) => a + p.size, 0),
            chunk.length,
          );
          break;
        }
        const existing = new Map(r.existing.map((p) => [p.partNumber, p]));
        for (const old of r.existing) {
          const part = chunk.find((p) => p.partNumber === old.partNumber) as PartRecord;
          if (sameBytes(old, part)) outcome.set(part.partNumber, "existing");
          else {
            await this.replace(t, old, part, now);
            outcome.set(part.partNumber, "replaced");
          }
        }
        chunk = chunk.filter((p) => !existing.has(p.partNumber));
      }
    }
    return {
      recorded: records.map((p) => ({
        partNumber: p.partNumber,
        recorded: outcome.get(p.partNumber) ?? "new",
      })),
      ...(await this.counters(t.id)),
    };
  }
}
