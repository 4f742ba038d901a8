import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import type { NewEvent } from "../../cli/engine/events.js";
import { carve } from "../../cli/engine/planner.js";
import { type EngineOptions, sendBatch } from "../../cli/engine/send/batch-sender.js";
import { TRANSITIONS } from "../../cli/engine/send/file-phases.js";
import type { FileTransfer } from "../../cli/engine/send/file-transfer.js";
import type { Manifest } from "../../cli/engine/send/manifest.js";
import type { Scheduler } from "../../cli/engine/send/scheduler.js";
import { MiB } from "../../functions/contract/limits.js";
import { FakeFiles, FakeServer, fakeManifest, sha } from "./send-fakes.js";

const engine: EngineOptions = {
  concurrency: 4,
  transfers: 8,
  hashers: 4,
  memoryBudget: 64 * MiB,
  adaptive: false,
  partSize: 5 * MiB,
  retry: { maxRetries: 2, baseMs: 1, capMs: 2 },
};

function start(
  server: FakeServer,
  files: FakeFiles,
  manifest: Manifest,
  over: Partial<EngineOptions> = {},
  journal?: Parameters<typeof sendBatch>[2]["journal"],
) {
  const stop = new AbortController();
  const abort = new AbortController();
  const events: NewEvent[] = [];
  let scheduler: Scheduler | undefined;
  let transfers: FileTransfer[] = [];
  const done = sendBatch(
    manifest,
    { ...engine, ...over },
    {
      transport: server,
      files,
      emit: (e) => events.push(e),
      stop: stop.signal,
      abort: abort.signal,
      priority: "normal",
      journal,
      onScheduler: (s) => {
        scheduler = s;
      },
      onTransfers: (t) => {
        transfers = t;
      },
    },
  );
  return {
    done,
    events,
    interrupt: () => stop.abort(new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED)),
    get scheduler() {
      return scheduler as Scheduler;
    },
    get transfers() {
      return transfers;
    },
  };
}

const ofType = <T extends NewEvent["type"]>(events: NewEvent[], type: T) =>
  events.filter((e): e is Extract<NewEvent, { type: T }> => e.type === type);

function expectStored(server: FakeServer, manifest: Manifest, files: FakeFiles) {
  for (const f of manifest.files) {
    const t = server.transferByPath(f.path);
    expect(t?.status, f.path).toBe("complete");
    expect(t?.object && sha(t.object), f.path).toBe(sha(files.data.get(f.local)?.body ?? Buffer.alloc(0)));
  }
}

describe("a batch of small files", () => {
  it("costs two coordinator round trips per file, shared: entries, PUT, completions", async () => {
    const server = new FakeServer();
    server.callDelayMs = 5;
    const files = new FakeFiles();
    const entries = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [`dir/f${i}.bin`, randomBytes(1000 + i)]),
    );
    const m = fakeManifest(files, entries);
    const run = start(server, files, m);
    const r = await run.done;
    expect(r.files.every((f) => f.status === "done")).toBe(true);
    expectStored(server, m, files);
    const coordinatorCalls =
      (server.calls.createBatch ?? 0) + (server.calls.addFiles ?? 0) + (server.calls.completeFiles ?? 0);
    expect(server.calls.createBatch).toBe(1);
    expect(coordinatorCalls).toBeLessThanOrEqual(10); // far fewer calls than files
    expect(server.calls.presign ?? 0).toBe(0);
    for (const t of run.transfers)
      expect(t.history).toEqual(["queued", "hashing", "initialising", "sending", "finishing", "done"]);
    // Every done event names the batch; the batch ends with what moved.
    expect(ofType(run.events, "done").every((d) => d.batchId === r.batchId)).toBe(true);
    const end = ofType(run.events, "batch").find((b) => b.phase === "end");
    expect(end?.filesDone).toBe(60);
    expect(end?.bytesSent).toBe(m.totalBytes);
  });

  it("within-batch duplicates wait for the first, then dedupe instead of sending again", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const same = randomBytes(5000);
    const m = fakeManifest(files, {
      "a/one.bin": same,
      "b/two.bin": Buffer.from(same),
      "c/three.bin": Buffer.from(same),
    });
    const run = start(server, files, m);
    const r = await run.done;
    expect(r.files.map((f) => f.status)).toEqual(["done", "done", "done"]);
    expect(server.bytesPut).toBe(5000);
    const dd = r.files.filter((f) => f.deduplicated);
    expect(dd).toHaveLength(2);
    const waited = run.transfers.filter((t) => t.history.includes("waiting-duplicate"));
    expect(waited).toHaveLength(2);
    // They were initialised only after the first was complete.
    const firstPath = r.files.find((f) => !f.deduplicated)?.path as string;
    const firstDone = ofType(run.events, "done").findIndex((d) => d.path === firstPath);
    for (const w of waited) {
      const startIdx = ofType(run.events, "done").findIndex((d) => d.path === w.file.path);
      expect(startIdx).toBeGreaterThan(firstDone);
    }
  });

  it("a file storage lost after its PUT (PART_NOT_STORED) is PUT again", async () => {
    const server = new FakeServer();
    server.loseObjects = 1;
    const files = new FakeFiles();
    const m = fakeManifest(files, { "x.bin": randomBytes(3000) });
    const r = await start(server, files, m).done;
    expect(r.files[0]?.status).toBe("done");
    expect(server.bytesPut).toBe(6000);
    expectStored(server, m, files);
  });
});

describe("a multipart file", () => {
  it("gets its first parts' URLs with the init answer, PUTs them, and assembles with the last records", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = fakeManifest(files, { "big.bin": randomBytes(23 * MiB) });
    const run = start(server, files, m);
    const r = await run.done;
    expect(r.files[0]?.status).toBe("done");
    expectStored(server, m, files);
    expect(server.calls.presign ?? 0).toBe(0); // 4 parts, all presigned in the answer
    expect(server.calls.assemble).toBe(1);
    expect(run.transfers[0]?.history).toEqual([
      "queued",
      "hashing",
      "initialising",
      "sending",
      "finishing",
      "done",
    ]);
    expect(
      ofType(run.events, "part")
        .map((p) => p.partNumber)
        .sort(),
    ).toEqual([1, 2, 3, 4]);
    expect(files.hashes).toBe(1);
  });

  it("fetches later parts' URLs ahead, the presign calls carrying the records of parts sent meanwhile", async () => {
    const server = new FakeServer();
    server.putDelayMs = 5;
    const files = new FakeFiles();
    const m = fakeManifest(files, { "huge.bin": randomBytes(61 * MiB) }); // 12 parts of 5 MiB
    const r = await start(server, files, m, { concurrency: 2 }).done; // 4 parts come presigned
    expect(r.files[0]?.status).toBe("done");
    expectStored(server, m, files);
    expect(server.calls.presign).toBeGreaterThan(0);
    // 8 parts after the presigned 4: at most one call each for URL and record together, not two.
    expect((server.calls.presign ?? 0) + (server.calls.recordParts ?? 0)).toBeLessThanOrEqual(9);
    expect(server.puts.maxPart).toBeLessThanOrEqual(2);
  });

  it("a part storage holds that nobody recorded is recorded on resume, not sent again", async () => {
    const server = new FakeServer();
    server.dropRecords = true; // the first run's records never arrive
    const files = new FakeFiles();
    const m = fakeManifest(files, { "crash.bin": randomBytes(15 * MiB) });
    const first = await start(server, files, m).done;
    expect(first.files[0]?.status).toBe("failed");
    const put = server.bytesPut;
    expect(put).toBe(15 * MiB);
    server.dropRecords = false;
    const second = start(server, files, m);
    const r = await second.done;
    expect(r.files[0]?.status).toBe("done");
    expect(server.bytesPut).toBe(put); // nothing sent twice
    // Hashed while it was sent: it started as a new upload, then switched to its own once its content was known.
    expect(ofType(second.events, "start").at(-1)?.resumed).toBe(true);
    expectStored(server, m, files);
  });
});

describe("interruption leaves a resumable state in every phase", () => {
  const mixed = (files: FakeFiles) =>
    fakeManifest(files, { "small.bin": randomBytes(100_000), "big.bin": randomBytes(12 * MiB) });

  async function resumeAndCheck(server: FakeServer, files: FakeFiles, m: Manifest) {
    expect(server.fails).toEqual([]); // nothing was declared failed
    const before = server.bytesPut;
    const again = await start(server, files, m).done;
    expect(again.files.map((f) => f.status)).toEqual(["done", "done"]);
    expectStored(server, m, files);
    return server.bytesPut - before;
  }

  it("while hashing", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = mixed(files);
    const gate = files.gate("hash");
    const run = start(server, files, m);
    await gate.reached;
    run.interrupt();
    gate.open();
    const r = await run.done;
    expect(r.files.map((f) => f.status)).toEqual(["interrupted", "interrupted"]);
    expect(run.transfers.find((t) => t.kind === "multipart")?.history).toEqual([
      "queued",
      "hashing",
      "interrupted",
    ]);
    files.gates.clear();
    expect(await resumeAndCheck(server, files, m)).toBe(m.totalBytes);
  });

  it("while initialising", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = mixed(files);
    const gate = server.gate("createBatch");
    const run = start(server, files, m);
    await gate.reached;
    run.interrupt();
    gate.open();
    const r = await run.done;
    expect(r.files.map((f) => f.status)).toEqual(["interrupted", "interrupted"]);
    // The entry on its way got its answer, and the file stopped there.
    expect(run.transfers.some((t) => t.history.at(-2) === "initialising")).toBe(true);
    expect(server.bytesPut).toBe(0);
    server.gates.clear();
    expect(await resumeAndCheck(server, files, m)).toBe(m.totalBytes);
  });

  it("while sending: parts in flight finish and are recorded; the resume sends only the rest", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = mixed(files);
    const gate = server.gate("put");
    const run = start(server, files, m, { concurrency: 1, transfers: 1 });
    await gate.reached;
    run.interrupt();
    gate.open();
    const r = await run.done;
    expect(r.files.map((f) => f.status)).toEqual(["interrupted", "interrupted"]);
    const big = server.transferByPath("big.bin");
    const sentFirst = server.bytesPut;
    expect(sentFirst).toBeGreaterThan(0);
    expect(sentFirst).toBeLessThan(m.totalBytes);
    // What storage holds of the big file is recorded, so nothing of it is lost.
    const stored = [...(big?.stored.values() ?? [])].reduce((n, p) => n + p.size, 0);
    expect([...(big?.recorded.values() ?? [])].reduce((n, p) => n + p.size, 0)).toBe(stored);
    server.gates.clear();
    const resent = await resumeAndCheck(server, files, m);
    expect(resent).toBeLessThanOrEqual(m.totalBytes - stored);
    expect(sentFirst + resent).toBeLessThanOrEqual(m.totalBytes + 100_000);
  });

  it("while finishing: the call in flight ends, the file is done; the rest resumes", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = mixed(files);
    const gate = server.gate("assemble");
    const run = start(server, files, m);
    await gate.reached;
    run.interrupt();
    gate.open();
    const r = await run.done;
    const big = r.files.find((f) => f.path === "big.bin");
    expect(big?.status).toBe("done");
    expect(run.transfers.find((t) => t.kind === "multipart")?.history.at(-2)).toBe("finishing");
    server.gates.clear();
    const resent = await resumeAndCheck(server, files, m);
    expect(resent).toBeLessThanOrEqual(100_000);
  });
});

describe("giving up on a file tells the server why", () => {
  it("a file that changed while it was sent fails with exit 9, and the transfer is marked failed with the reason", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = fakeManifest(files, { "moving.bin": randomBytes(12 * MiB) });
    const gate = server.gate("put");
    const run = start(server, files, m);
    await gate.reached;
    files.change("/fake/moving.bin", randomBytes(12 * MiB));
    gate.open();
    const r = await run.done;
    expect(r.files[0]?.status).toBe("failed");
    expect(r.files[0]?.error?.exitCode).toBe(EXIT.INTEGRITY);
    expect(server.fails).toHaveLength(1);
    expect(server.fails[0]?.reason).toMatch(/^FILE_CHANGED: .*changed while it was being sent/);
    expect(server.transferByPath("moving.bin")?.status).toBe("failed");
    expect(ofType(run.events, "error")[0]?.exitCode).toBe(EXIT.INTEGRITY);
  });

  it("storage refusing a PUT for good fails the file and calls fail(); other files go on", async () => {
    const server = new FakeServer();
    server.putFaults.push(
      new CliError("AccessDenied", "Storage refused the part: AccessDenied", EXIT.REJECTED),
    );
    const files = new FakeFiles();
    const m = fakeManifest(files, { "a.bin": randomBytes(10), "b.bin": randomBytes(20) });
    const r = await start(server, files, m, { transfers: 1 }).done;
    expect(r.files.map((f) => f.status).sort()).toEqual(["done", "failed"]);
    const failed = r.files.find((f) => f.status === "failed");
    expect(server.fails).toEqual([
      { transferId: failed?.transferId, reason: expect.stringMatching(/^AccessDenied/) },
    ]);
  });

  it("a token refused fails the batch once: no file is failed on the server, no call per file", async () => {
    const server = new FakeServer();
    server.createBatch = async () => {
      throw new CliError("UNAUTHORIZED", "The server refused the API token", EXIT.AUTH);
    };
    const files = new FakeFiles();
    const m = fakeManifest(
      files,
      Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, randomBytes(100)])),
    );
    const run = start(server, files, m);
    const r = await run.done;
    expect(r.fatal?.exitCode).toBe(EXIT.AUTH);
    expect(r.files.every((f) => f.status === "failed")).toBe(true);
    expect(ofType(run.events, "error")).toHaveLength(1);
    expect(server.fails).toEqual([]);
    expect(server.calls.addFiles ?? 0).toBe(0);
  });
});

describe("resume without a journal", () => {
  it("finds the batch by digest and answers complete files from its listing, without a call each", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = fakeManifest(
      files,
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, randomBytes(500)])),
    );
    await start(server, files, m).done;
    const put = server.bytesPut;
    const adds = server.calls.addFiles ?? 0;
    const second = start(server, files, m);
    const r = await second.done;
    expect(r.resumed).toBe(true);
    expect(r.files.every((f) => f.status === "done")).toBe(true);
    expect(server.bytesPut).toBe(put);
    expect(server.calls.addFiles ?? 0).toBe(adds);
    expect(server.calls.listBatchFiles).toBe(1);
    expect(ofType(second.events, "done").every((d) => d.resumed && d.bytesSent === 0)).toBe(true);
  });
});

describe("with a journal", () => {
  it("skips hashing unchanged files and names their transfers", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const m = fakeManifest(files, { "j.bin": randomBytes(12 * MiB), "k.bin": randomBytes(10) });
    const saved = new Map<string, { sha256: string; transferId?: string }>();
    const journal = {
      batchId: undefined as string | undefined,
      lookup: (f: { path: string }) => saved.get(f.path),
      record: (f: { path: string }, sha256: string, transferId?: string) => {
        saved.set(f.path, { sha256, ...(transferId !== undefined && { transferId }) });
      },
      flush: () => {},
      remove: () => saved.clear(),
    };
    const gate = server.gate("put");
    const first = start(server, files, m, { concurrency: 1, transfers: 1 }, journal);
    await gate.reached;
    first.interrupt();
    gate.open();
    await first.done;
    expect(saved.size).toBe(2);
    server.gates.clear();
    const hashes = files.hashes;
    const r = await start(server, files, m, {}, journal).done;
    expect(r.files.every((f) => f.status === "done")).toBe(true);
    expect(files.hashes).toBe(hashes); // the big file was not hashed again
    expect(saved.size).toBe(0); // done: the journal is removed
    expectStored(server, m, files);
  });
});

describe("the budget and the ceilings hold in a real mix", () => {
  it("memory, part slots and single-PUT slots stay within their limits", async () => {
    const server = new FakeServer();
    server.putDelayMs = 2;
    const files = new FakeFiles();
    const entries: Record<string, Buffer> = {};
    for (let i = 0; i < 3; i++) entries[`big${i}.bin`] = randomBytes(21 * MiB);
    for (let i = 0; i < 40; i++) entries[`s/${i}.bin`] = randomBytes(200_000);
    const m = fakeManifest(files, entries);
    const run = start(server, files, m, { memoryBudget: 16 * MiB, concurrency: 2, transfers: 3 });
    const r = await run.done;
    expect(r.files.every((f) => f.status === "done")).toBe(true);
    expectStored(server, m, files);
    expect(run.scheduler.peak.memory).toBeLessThanOrEqual(16 * MiB);
    expect(server.puts.maxPart).toBeLessThanOrEqual(2);
    expect(server.puts.maxSingle).toBeLessThanOrEqual(3);
    expect(server.puts.maxSingle).toBeGreaterThan(1);
  });
});

describe("phases", () => {
  it("every phase can end in failed or interrupted; done, failed and interrupted are final", () => {
    for (const [phase, next] of Object.entries(TRANSITIONS)) {
      if (["done", "failed", "interrupted"].includes(phase)) expect(next).toEqual([]);
      else expect(next).toEqual(expect.arrayContaining(["failed", "interrupted"]));
    }
  });

  it("carve takes a stored part out of the missing ranges, or refuses a hole no part can fill", () => {
    const all = [{ offset: 0, size: 20 * MiB, firstPart: 1, lastPart: 10_000 }];
    expect(carve(all, { partNumber: 2, offset: 5 * MiB, size: 5 * MiB }, 20 * MiB)).toEqual([
      { offset: 0, size: 5 * MiB, firstPart: 1, lastPart: 1 },
      { offset: 10 * MiB, size: 10 * MiB, firstPart: 3, lastPart: 10_000 },
    ]);
    expect(carve(all, { partNumber: 2, offset: 1 * MiB, size: 5 * MiB }, 20 * MiB)).toBeUndefined();
    expect(carve(all, { partNumber: 1, offset: 0, size: 5 * MiB }, 20 * MiB)).toEqual([
      { offset: 5 * MiB, size: 15 * MiB, firstPart: 2, lastPart: 10_000 },
    ]);
  });
});
