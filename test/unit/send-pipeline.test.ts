import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import type { NewEvent } from "../../cli/engine/events.js";
import { type EngineOptions, sendBatch } from "../../cli/engine/send/batch-sender.js";
import type { Manifest } from "../../cli/engine/send/manifest.js";
import type { Scheduler } from "../../cli/engine/send/scheduler.js";
import { MiB } from "../../functions/contract/limits.js";
import { FakeFiles, FakeServer, fakeManifest, sha } from "./send-fakes.js";

const engine: EngineOptions = {
  concurrency: 64,
  transfers: 8,
  hashers: 4,
  memoryBudget: 64 * MiB,
  adaptive: false,
  partSize: 5 * MiB,
  retry: { maxRetries: 3, baseMs: 1, capMs: 2 },
};

function start(server: FakeServer, files: FakeFiles, manifest: Manifest, over: Partial<EngineOptions> = {}) {
  const events: NewEvent[] = [];
  let scheduler: Scheduler | undefined;
  const done = sendBatch(
    manifest,
    { ...engine, ...over },
    {
      transport: server,
      files,
      emit: (e) => events.push(e),
      stop: new AbortController().signal,
      abort: new AbortController().signal,
      priority: "normal",
      onScheduler: (s) => {
        scheduler = s;
      },
    },
  );
  return {
    done,
    events,
    get scheduler() {
      return scheduler as Scheduler;
    },
  };
}

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe("send pipeline: reads, hashes and presigns run ahead of the PUTs", () => {
  it("while every PUT is held, later parts are read, hashed and presigned, within --memory", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const body = randomBytes(30 * 5 * MiB);
    const m = fakeManifest(files, { "big.bin": body });
    const gate = server.gate("put");
    const run = start(server, files, m, { memoryBudget: 100 * MiB });
    await gate.reached;
    // 20 parts fit the budget: the slots' parts and the next ones, read and presigned ahead.
    await until(() => run.scheduler.memoryHeld >= 95 * MiB && (server.calls.presign ?? 0) >= 1);
    const inPut = run.scheduler.inFlight("part");
    expect(files.reads).toBeGreaterThan(inPut);
    expect(files.reads).toBeGreaterThan(16); // past the parts whose URLs came with the init answer
    expect(run.scheduler.memoryHeld).toBeLessThanOrEqual(100 * MiB);
    gate.open();
    const r = await run.done;
    expect(r.files[0]?.status).toBe("done");
    expect(sha(server.transferByPath("big.bin")?.object ?? Buffer.alloc(0))).toBe(sha(body));
  }, 30_000);

  it("part records never hold a slot: PUTs go on while the record call is held", async () => {
    const server = new FakeServer();
    server.putDelayMs = 120;
    const files = new FakeFiles();
    // 6 parts (within the first parts hashed before the init): every URL comes with the init answer, so
    // only record calls carry records (no presigns).
    const body = randomBytes(6 * 5 * MiB);
    const m = fakeManifest(files, { "big.bin": body });
    const records = server.gate("recordParts");
    // Memory for one part at a time: six rounds of PUTs, the later ones while the first record call is held.
    const run = start(server, files, m, { concurrency: 8, memoryBudget: 5 * MiB });
    // The first record call (250 ms after the first part) is held; every part is stored meanwhile.
    await until(() => server.bytesPut === body.length, 20_000);
    expect(server.calls.recordParts).toBe(1);
    expect(server.calls.presign ?? 0).toBe(0);
    records.open();
    const r = await run.done;
    expect(r.files[0]?.status).toBe("done");
  }, 30_000);
});

describe("send pipeline: memory stays within --memory whatever the concurrency", () => {
  it("concurrency 64: peak held ≤ the budget, and the file is stored whole", async () => {
    const server = new FakeServer();
    server.putDelayMs = 3;
    const files = new FakeFiles();
    const body = randomBytes(30 * 5 * MiB);
    const m = fakeManifest(files, { "big.bin": body, "b2.bin": randomBytes(12 * 5 * MiB) });
    const run = start(server, files, m, { concurrency: 64, memoryBudget: 32 * MiB, adaptive: true });
    const r = await run.done;
    expect(r.files.every((f) => f.status === "done")).toBe(true);
    expect(run.scheduler.peak.memory).toBeLessThanOrEqual(32 * MiB);
    expect(sha(server.transferByPath("big.bin")?.object ?? Buffer.alloc(0))).toBe(sha(body));
    expect(server.puts.maxPart).toBeGreaterThan(1);
  }, 30_000);
});

describe("send pipeline: the link model's decisions", () => {
  it("are in the events, and failures reach it with their kind", async () => {
    const server = new FakeServer();
    server.putDelayMs = 1;
    for (let i = 0; i < 3; i++)
      server.putFaults.push(new CliError("SlowDown", "Please reduce your request rate", EXIT.NETWORK, true));
    const files = new FakeFiles();
    const m = fakeManifest(files, { "big.bin": randomBytes(10 * 5 * MiB) });
    const run = start(server, files, m, { concurrency: 16 });
    const r = await run.done;
    expect(r.files[0]?.status).toBe("done");
    const link = run.events.filter((e) => e.type === "link");
    expect(link.length).toBeGreaterThanOrEqual(2);
    expect(link[0]).toMatchObject({ concurrency: 8, partSize: 5 * MiB });
    // Three throttled answers at once: halved once, not three times.
    expect(
      link.some((e) => e.type === "link" && e.reason === "throttled: halve" && e.concurrency === 4),
    ).toBe(true);
    expect(run.scheduler.link.limit).toBeGreaterThanOrEqual(4);
  });
});

describe("send pipeline: a part waiting to retry holds no slot", () => {
  it("with one slot, the parts waiting go first while the failed one backs off", async () => {
    const server = new FakeServer();
    server.putFaults.push(
      new CliError("ECONNRESET", "Sending the part failed (ECONNRESET)", EXIT.NETWORK, true),
    );
    const files = new FakeFiles();
    const body = randomBytes(3 * 5 * MiB);
    const m = fakeManifest(files, { "big.bin": body });
    const run = start(server, files, m, { concurrency: 1 });
    const r = await run.done;
    expect(r.files[0]?.status).toBe("done");
    const stored = [...(server.transferByPath("big.bin")?.stored.keys() ?? [])];
    // Part 1 failed first; parts 2 and 3 were waiting for the slot and took it before its retry.
    expect(stored).toEqual([2, 3, 1]);
    expect(sha(server.transferByPath("big.bin")?.object ?? Buffer.alloc(0))).toBe(sha(body));
  });
});
