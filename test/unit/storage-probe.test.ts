/**
 * The storage probe, its kept results and the gate, over a fake store (an in-memory S3 whose answers to
 * damaged bytes, right bytes and assembly are chosen per test) and an injected clock.
 */
import { describe, expect, it } from "vitest";
import type { StorageProbe } from "../../functions/contract/storage.js";
import { AppError } from "../../functions/core/errors.js";
import {
  type ProbeConfiguration,
  type ProbeResults,
  resolveProbe,
} from "../../functions/core/probe-results.js";
import { StorageGate } from "../../functions/core/storage-gate.js";
import {
  PROBE_KEY_PREFIX,
  type ProbeRules,
  runStorageProbe,
  type StorageAnswer,
  type StorageProbeTarget,
} from "../../functions/core/storage-probe.js";
import { STORAGE_PROFILES } from "../../functions/core/storage-profiles.js";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");

interface FakeBehaviour {
  /** Answer to bytes that differ from the signed ones; default a digest refusal. */
  damaged?: StorageAnswer;
  /** Answer to right bytes; default accepted. */
  right?: StorageAnswer;
  /** Answer to CompleteMultipartUpload; default accepted when parts are uniform. */
  complete?: StorageAnswer;
  /** Storage's clock minus ours. */
  skewMs?: number;
  /** startUpload throws this. */
  unreachable?: Error;
  /** Cleanup throws. */
  cleanupFails?: boolean;
}

function fakeStore(b: FakeBehaviour = {}) {
  let now = T0;
  const clock = { now: () => new Date(now) };
  const calls: string[] = [];
  const open = new Set<string>();
  const objects = new Set<string>();
  const date = () => new Date(now + (b.skewMs ?? 0)).toUTCString();
  const answer = (bytes: Uint8Array, signed: Uint8Array): StorageAnswer => {
    now += 40; // every request takes 40 ms of the injected clock
    const same = bytes.length === signed.length && bytes.every((x, i) => x === signed[i]);
    const a = same
      ? (b.right ?? { status: 200, code: "", etag: `"e${bytes.length}"` })
      : (b.damaged ?? { status: 400, code: "BadDigest" });
    return { ...a, date: date() };
  };
  const target: StorageProbeTarget = {
    async startUpload(key) {
      calls.push(`create ${key}`);
      if (b.unreachable) throw b.unreachable;
      open.add(key);
      const sizes = new Map<number, number>();
      return {
        async putPart(n, bytes, signed) {
          calls.push(`part ${n} ${bytes.length}`);
          const a = answer(bytes, signed);
          if (a.status === 200) sizes.set(n, bytes.length);
          return a;
        },
        async complete(parts) {
          calls.push(`complete ${parts.map((p) => p.partNumber).join(",")}`);
          const lens = parts.map((p) => sizes.get(p.partNumber) ?? -1);
          const uniform = lens.slice(0, -1).every((l) => l === lens[0]) && lens.every((l) => l > 0);
          const a =
            b.complete ?? (uniform ? { status: 200, code: "" } : { status: 400, code: "InvalidPart" });
          if (a.status === 200) {
            open.delete(key);
            objects.add(key);
          }
          return { ...a, date: date() };
        },
        async abort() {
          calls.push(`abort ${key}`);
          if (b.cleanupFails) throw new Error("storage is gone");
          open.delete(key);
        },
      };
    },
    async putObject(key, bytes, signed) {
      calls.push(`object ${bytes.length}`);
      const a = answer(bytes, signed);
      if (a.status === 200) objects.add(key);
      return a;
    },
    async deleteObject(key) {
      calls.push(`delete ${key}`);
      if (b.cleanupFails) throw new Error("storage is gone");
      objects.delete(key);
    },
  };
  return { target, clock, calls, open, objects };
}

const sha256Rules: ProbeRules = { partCheck: "sha256", uniformParts: false, minPartSize: 5 * 1024 * 1024 };
const md5Uniform: ProbeRules = { partCheck: "md5", uniformParts: true, minPartSize: 5 * 1024 * 1024 };

async function probeWith(b: FakeBehaviour, rules = sha256Rules) {
  const f = fakeStore(b);
  const warnings: string[] = [];
  const probe = await runStorageProbe(f.target, rules, {
    clock: f.clock,
    runId: "run1",
    warn: (m, fields) => warnings.push(`${m} ${JSON.stringify(fields)}`),
  });
  return { probe, warnings, ...f };
}

describe("the storage probe", () => {
  it("verifies a store that refuses damaged bytes with a digest error and accepts the right ones", async () => {
    const { probe, calls, open, objects } = await probeWith({});
    expect(probe.state).toBe("verified");
    expect(probe.partCheck).toBe("sha256");
    expect(probe.damagedPart).toBe("400 BadDigest");
    expect(probe.damagedObject).toBe("400 BadDigest");
    expect(probe.uniformAssembled).toBeUndefined();
    expect(probe.message).toMatch(/refused damaged bytes under the signed SHA-256/);
    expect(probe.checkedAt).toBe(new Date(T0).toISOString());
    // A damaged then a right part, the same for a single PUT; on a non-uniform profile the upload is aborted.
    expect(calls).toEqual([
      `create ${PROBE_KEY_PREFIX}run1/upload`,
      "part 2 4096",
      "part 2 4096",
      "object 4096",
      "object 4096",
      `delete ${PROBE_KEY_PREFIX}run1/object`,
      `abort ${PROBE_KEY_PREFIX}run1/upload`,
    ]);
    expect(open.size).toBe(0);
    expect(objects.size).toBe(0);
  });

  it("takes InvalidDigest and XAmzContentChecksumMismatch as digest refusals too", async () => {
    for (const code of ["InvalidDigest", "XAmzContentChecksumMismatch"]) {
      const { probe } = await probeWith({ damaged: { status: 400, code } });
      expect(probe.state).toBe("verified");
      expect(probe.damagedPart).toBe(`400 ${code}`);
    }
  });

  it("finds a store that accepts damaged bytes unverified", async () => {
    const { probe, objects, open } = await probeWith({ damaged: { status: 200, code: "" } });
    expect(probe.state).toBe("unverified");
    expect(probe.damagedPart).toBe("200");
    expect(probe.message).toMatch(
      /accepted a part and an object whose bytes did not match the signed SHA-256/,
    );
    expect(open.size + objects.size).toBe(0);
  });

  it("fails on a signature error: it is no proof that storage checks the digest", async () => {
    const { probe, calls } = await probeWith({ damaged: { status: 403, code: "SignatureDoesNotMatch" } });
    expect(probe.state).toBe("failed");
    expect(probe.message).toMatch(
      /answered 403 SignatureDoesNotMatch to a part .* which is no digest refusal/,
    );
    // It stops there, and still aborts what it started.
    expect(calls.at(-1)).toBe(`abort ${PROBE_KEY_PREFIX}run1/upload`);
    expect(calls.filter((c) => c.startsWith("object"))).toEqual([]);
  });

  it("fails on a 400 that is not a digest refusal", async () => {
    const { probe } = await probeWith({ damaged: { status: 400, code: "InvalidRequest" } });
    expect(probe.state).toBe("failed");
    expect(probe.message).toContain("400 InvalidRequest");
  });

  it("fails when storage refuses the right bytes", async () => {
    const { probe } = await probeWith({ right: { status: 400, code: "InvalidArgument" } });
    expect(probe.state).toBe("failed");
    expect(probe.damagedPart).toBe("400 BadDigest");
    expect(probe.message).toBe(
      "The storage probe could not finish: storage refused a correct part (400 InvalidArgument).",
    );
  });

  it("fails when storage cannot be reached, saying why", async () => {
    const { probe, calls } = await probeWith({ unreachable: new Error("connect ECONNREFUSED 127.0.0.1:9") });
    expect(probe.state).toBe("failed");
    expect(probe.message).toMatch(/could not be reached \(connect ECONNREFUSED 127\.0\.0\.1:9\)/);
    expect(calls).toEqual([`create ${PROBE_KEY_PREFIX}run1/upload`]);
  });

  it("on a uniform-parts profile, assembles an upload cut by the rule and deletes it", async () => {
    const { probe, calls, objects, open } = await probeWith(
      { damaged: { status: 400, code: "InvalidDigest" } },
      md5Uniform,
    );
    expect(probe.state).toBe("verified");
    expect(probe.partCheck).toBe("md5");
    expect(probe.uniformAssembled).toBe(true);
    expect(probe.message).toMatch(/MD5 \(Content-MD5\).*assembled an upload cut by the uniform-parts rule/);
    expect(calls).toContain(`part 1 ${5 * 1024 * 1024}`);
    expect(calls).toContain("complete 1,2");
    expect(calls.at(-1)).toBe(`delete ${PROBE_KEY_PREFIX}run1/upload`);
    expect(open.size + objects.size).toBe(0);
  });

  it("fails when the uniform upload does not assemble", async () => {
    const { probe, open } = await probeWith({ complete: { status: 400, code: "InvalidPart" } }, md5Uniform);
    expect(probe.state).toBe("failed");
    expect(probe.uniformAssembled).toBe(false);
    expect(probe.message).toMatch(/cut by the uniform-parts rule .* did not assemble \(400 InvalidPart\)/);
    expect(open.size).toBe(0); // aborted
  });

  it("measures storage's clock against its own from the Date header", async () => {
    const ahead = await probeWith({ skewMs: 90_000 });
    // The Date has a one-second resolution: the skew is within a second of the truth.
    expect(Math.abs((ahead.probe.clockSkewMs ?? 0) - 90_000)).toBeLessThan(1000);
    const behind = await probeWith({ skewMs: -30_000 });
    expect(Math.abs((behind.probe.clockSkewMs ?? 0) + 30_000)).toBeLessThan(1000);
  });

  it("reports cleanup it could not do, without changing the verdict", async () => {
    const { probe, warnings } = await probeWith({ cleanupFails: true });
    expect(probe.state).toBe("verified");
    expect(warnings.join("\n")).toMatch(/could not clean up.*storage is gone/);
  });
});

// ---- kept results

const config: ProbeConfiguration = {
  profile: "versitygw",
  endpoint: "http://127.0.0.1:1",
  bucket: "b",
  version: "1",
  ignoreChecksumForTests: false,
};

function memoryResults(opts: { failReads?: boolean } = {}) {
  const items = new Map<string, StorageProbe>();
  const results: ProbeResults = {
    async get(key) {
      if (opts.failReads) throw new Error("table unreachable");
      return items.get(key);
    },
    async putIfAbsent(key, probe) {
      const kept = items.get(key);
      if (kept) return kept;
      items.set(key, probe);
      return probe;
    },
    async put(key, probe) {
      items.set(key, probe);
    },
  };
  return { results, items };
}

const probeOf = (state: StorageProbe["state"], message: string = state): StorageProbe => ({
  state,
  partCheck: "sha256",
  message,
});

describe("kept probe results", () => {
  it("runs the probe once per configuration and keeps its result", async () => {
    const { results, items } = memoryResults();
    let runs = 0;
    const run = async () => {
      runs++;
      return probeOf("verified");
    };
    expect((await resolveProbe({ results, config, run, fresh: false })).state).toBe("verified");
    expect((await resolveProbe({ results, config, run, fresh: false })).state).toBe("verified");
    expect(runs).toBe(1);
    // Another version (a deploy) or another endpoint is another configuration.
    await resolveProbe({ results, config: { ...config, version: "2" }, run, fresh: false });
    await resolveProbe({ results, config: { ...config, ignoreChecksumForTests: true }, run, fresh: false });
    expect(runs).toBe(3);
    expect(items.size).toBe(3);
  });

  it("of two concurrent first runs, the first kept wins", async () => {
    const { results } = memoryResults();
    const [a, b] = await Promise.all([
      resolveProbe({ results, config, run: async () => probeOf("verified", "first"), fresh: false }),
      resolveProbe({ results, config, run: async () => probeOf("verified", "second"), fresh: false }),
    ]);
    expect(a.message).toBe("first");
    expect(b.message).toBe("first");
  });

  it("never keeps a failed probe", async () => {
    const { results, items } = memoryResults();
    expect(
      (await resolveProbe({ results, config, run: async () => probeOf("failed"), fresh: false })).state,
    ).toBe("failed");
    expect(items.size).toBe(0);
  });

  it("fresh runs the probe regardless and replaces what was kept", async () => {
    const { results } = memoryResults();
    await resolveProbe({ results, config, run: async () => probeOf("verified"), fresh: false });
    const again = await resolveProbe({
      results,
      config,
      run: async () => probeOf("unverified"),
      fresh: true,
    });
    expect(again.state).toBe("unverified");
    expect(
      (await resolveProbe({ results, config, run: async () => probeOf("verified"), fresh: false })).state,
    ).toBe("unverified");
  });

  it("a table it cannot read costs a probe, not the result", async () => {
    const { results } = memoryResults({ failReads: true });
    const warnings: string[] = [];
    const p = await resolveProbe({
      results,
      config,
      run: async () => probeOf("verified"),
      fresh: false,
      warn: (m) => warnings.push(m),
    });
    expect(p.state).toBe("verified");
    expect(warnings).toEqual(["could not read the kept storage probe result"]);
  });
});

// ---- the gate

function gateWith(
  results: StorageProbe[],
  opts: { allowUnverified?: boolean; profile?: keyof typeof STORAGE_PROFILES } = {},
) {
  let now = T0;
  let runs = 0;
  const resolved: boolean[] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const gate = new StorageGate({
    profile: STORAGE_PROFILES[opts.profile ?? "versitygw"],
    allowUnverified: opts.allowUnverified ?? false,
    endpoint: "http://s3.local",
    clock: { now: () => new Date(now) },
    retryFailedAfterMs: 60_000,
    resolve: async ({ fresh }) => {
      resolved.push(fresh);
      if (hold) await new Promise<void>((r) => (release = r));
      const r = results[Math.min(runs, results.length - 1)] as StorageProbe;
      runs++;
      return r;
    },
  });
  return {
    gate,
    runs: () => runs,
    resolved,
    advance: (ms: number) => (now += ms),
    holdNext: () => (hold = true),
    release: () => {
      hold = false;
      release?.();
    },
  };
}

describe("the storage gate", () => {
  it("pending → probing → verified: serves, with the profile's check", async () => {
    const g = gateWith([probeOf("verified", "Storage refused damaged bytes.")]);
    expect(g.gate.phase).toBe("pending");
    expect(g.gate.serving).toBe(false);
    g.holdNext();
    const ensured = g.gate.ensure();
    await Promise.resolve();
    expect(g.gate.phase).toBe("probing");
    const second = g.gate.ensure(); // a concurrent caller shares the run
    g.release();
    const [info] = await Promise.all([ensured, second]);
    expect(g.runs()).toBe(1);
    expect(g.gate.phase).toBe("verified");
    expect(info.serving).toBe(true);
    expect(info.rules.profile).toBe("versitygw");
    expect(info.endpoint).toBe("http://s3.local");
    expect(g.gate.storageCheck()).toBe("sha256");
    await expect(g.gate.guard()).resolves.toBeUndefined();
    const s = await g.gate.summary();
    expect(s).toMatchObject({
      profile: "versitygw",
      probe: "verified",
      serving: true,
      message: "Storage refused damaged bytes.",
    });
  });

  it("unverified without allowUnverified → refused: guard throws STORAGE_UNVERIFIED with the reason", async () => {
    const g = gateWith([probeOf("unverified", "Storage accepted a part whose bytes did not match.")]);
    await g.gate.ensure();
    expect(g.gate.phase).toBe("refused");
    const err = await g.gate.guard().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("STORAGE_UNVERIFIED");
    expect((err as AppError).status).toBe(503);
    expect((err as AppError).message).toMatch(
      /^Storage accepted a part .* set SFTS_ALLOW_UNVERIFIED_STORAGE=1/,
    );
    // An unverified result is a finding, not a failure: it is not probed again.
    g.advance(10 * 60_000);
    await g.gate.ensure();
    expect(g.runs()).toBe(1);
    expect((await g.gate.summary()).serving).toBe(false);
  });

  it("unverified with allowUnverified → unverified-allowed: serves, and records say storageCheck none", async () => {
    const g = gateWith([probeOf("unverified", "Storage accepted damaged bytes.")], { allowUnverified: true });
    const info = await g.gate.ensure();
    expect(g.gate.phase).toBe("unverified-allowed");
    expect(info.serving).toBe(true);
    expect(info.allowUnverified).toBe(true);
    expect(g.gate.storageCheck()).toBe("none");
    await expect(g.gate.guard()).resolves.toBeUndefined();
    expect((await g.gate.summary()).message).toMatch(
      /served anyway \(SFTS_ALLOW_UNVERIFIED_STORAGE=1\).*storageCheck "none"/,
    );
  });

  it("allowUnverified does not serve a probe that failed", async () => {
    const g = gateWith([probeOf("failed", "The storage probe could not finish: x.")], {
      allowUnverified: true,
    });
    await g.gate.ensure();
    expect(g.gate.phase).toBe("refused");
    await expect(g.gate.guard()).rejects.toThrow(
      /could not finish: x\. Transfers are refused until a probe succeeds/,
    );
  });

  it("a failed probe is run again after a while, not before", async () => {
    const g = gateWith([probeOf("failed"), probeOf("verified")]);
    await g.gate.ensure();
    expect(g.gate.phase).toBe("refused");
    g.advance(59_000);
    await expect(g.gate.guard()).rejects.toThrow();
    expect(g.runs()).toBe(1);
    g.advance(1_000);
    await g.gate.guard();
    expect(g.runs()).toBe(2);
    expect(g.gate.phase).toBe("verified");
  });

  it("a resolver that throws leaves the gate refused (failed), with its reason", async () => {
    const gate = new StorageGate({
      profile: STORAGE_PROFILES.generic,
      allowUnverified: true,
      endpoint: "e",
      resolve: async () => {
        throw new Error("boom");
      },
    });
    const info = await gate.ensure();
    expect(gate.phase).toBe("refused");
    expect(info.probe).toMatchObject({
      state: "failed",
      partCheck: "md5",
      message: "The storage probe could not finish: boom.",
    });
  });

  it("ensure({ fresh: true }) probes again even when settled", async () => {
    const g = gateWith([probeOf("verified"), probeOf("unverified")]);
    await g.gate.ensure();
    await g.gate.ensure({ fresh: true });
    expect(g.resolved).toEqual([false, true]);
    expect(g.gate.phase).toBe("refused");
  });

  it("guard() on a pending gate runs the probe first (the first request waits for it)", async () => {
    const g = gateWith([probeOf("verified")]);
    await g.gate.guard();
    expect(g.runs()).toBe(1);
    expect(g.gate.phase).toBe("verified");
  });

  it("summary() waits a bounded time for a probe, then says it is running", async () => {
    const g = gateWith([probeOf("verified")]);
    g.holdNext();
    const s = await g.gate.summary(20);
    expect(s).toMatchObject({ probe: "pending", serving: false });
    expect(s.message).toMatch(/probe is running/);
    g.release();
    await g.gate.ensure();
    expect((await g.gate.summary(20)).serving).toBe(true);
  });
});

describe("which routes the gate holds", () => {
  it("holds what writes to storage or advances an upload, never reads or giving up", async () => {
    const { isGatedRoute } = await import("../../functions/api/storage-routes.js");
    const id = "tr_0123456789abcdef0123456789";
    const held = [
      ["POST", "/upload/init"],
      ["POST", `/upload/${id}/content`],
      ["POST", `/upload/${id}/parts`],
      ["POST", `/upload/${id}/parts/done`],
      ["POST", `/upload/${id}/parts/3/done`],
      ["GET", `/upload/missing/${id}`],
      ["POST", `/assemble/${id}`],
      ["POST", "/batch"],
      ["POST", "/batch/bt_1/files"],
      ["POST", "/batch/bt_1/complete"],
    ];
    const free = [
      ["POST", `/upload/${id}/fail`],
      ["DELETE", `/upload/${id}`],
      ["DELETE", "/batch/bt_1"],
      ["GET", "/api/files"],
      ["GET", `/api/files/${id}`],
      ["GET", `/download/${id}`],
      ["POST", `/api/files/${id}/share`],
      ["GET", "/api/storage"],
      ["GET", "/api/stats"],
      ["GET", "/health"],
      ["GET", "/s/tok"],
    ];
    expect(held.filter(([m, p]) => !isGatedRoute(m as string, p as string))).toEqual([]);
    expect(free.filter(([m, p]) => isGatedRoute(m as string, p as string))).toEqual([]);
  });
});
