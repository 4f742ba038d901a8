import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type EngineOptions, INIT_AHEAD, sendBatch } from "../../cli/engine/send/batch-sender.js";
import type { Scheduler } from "../../cli/engine/send/scheduler.js";
import { MAX_BATCH_CALL_FILES, MiB } from "../../functions/contract/limits.js";
import { FakeFiles, FakeServer, fakeManifest } from "./send-fakes.js";

const engine: EngineOptions = {
  concurrency: 8,
  transfers: 32,
  hashers: 8,
  memoryBudget: 128 * MiB,
  adaptive: false,
  partSize: 8 * MiB,
  retry: { maxRetries: 2, baseMs: 1, capMs: 2 },
};

async function sendSmallFiles(count: number, over: Partial<EngineOptions> = {}) {
  const server = new FakeServer();
  // Coordinator calls much slower than PUTs, as on the local stack: what made calls carry few files.
  server.callDelayMs = 40;
  server.putDelayMs = 5;
  const files = new FakeFiles();
  const entries: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) entries[`d/f${i}`] = randomBytes(4096);
  const m = fakeManifest(files, entries);
  let scheduler: Scheduler | undefined;
  const r = await sendBatch(
    m,
    { ...engine, ...over },
    {
      transport: server,
      files,
      emit: () => {},
      stop: new AbortController().signal,
      abort: new AbortController().signal,
      priority: "normal",
      onScheduler: (s) => {
        scheduler = s;
      },
    },
  );
  for (const f of m.files) expect(server.transferByPath(f.path)?.status, f.path).toBe("complete");
  return { r, server, scheduler: scheduler as Scheduler };
}

describe("small files amortise the coordinator's round trips", () => {
  it("2,000 files of 4 KiB: entries run ahead of the PUT slots, so a few full calls carry them all", async () => {
    const { r, server, scheduler } = await sendSmallFiles(2000);
    expect(r.files.every((f) => f.status === "done")).toBe(true);
    const entryCalls = (server.calls.createBatch ?? 0) + (server.calls.addFiles ?? 0);
    const completeCalls = server.calls.completeFiles ?? 0;
    // 2,000 / MAX_BATCH_CALL_FILES = 4 of each at best; before the window, about one call per 16 files.
    expect(entryCalls).toBeGreaterThanOrEqual(Math.ceil(2000 / MAX_BATCH_CALL_FILES));
    expect(entryCalls + completeCalls).toBeLessThan(12);
    expect(server.calls.put).toBe(2000);
    // The window held files ahead of the PUT slots, and the slots only did PUTs.
    expect(scheduler.peak.ahead).toBeGreaterThan(engine.transfers * 4);
    expect(scheduler.peak.ahead).toBeLessThanOrEqual(INIT_AHEAD);
    expect(scheduler.peak.put).toBeLessThanOrEqual(engine.transfers);
  }, 60_000);

  it("the bodies held ahead stay within --memory", async () => {
    const budget = 1 * MiB; // 256 files of 4 KiB, fewer than the window
    const { r, server, scheduler } = await sendSmallFiles(1000, { memoryBudget: budget });
    expect(r.files.every((f) => f.status === "done")).toBe(true);
    expect(scheduler.peak.memory).toBeLessThanOrEqual(budget);
    expect(scheduler.peak.memory).toBeGreaterThan(budget / 2);
    const calls =
      (server.calls.createBatch ?? 0) + (server.calls.addFiles ?? 0) + (server.calls.completeFiles ?? 0);
    expect(calls).toBeLessThan(40);
  }, 60_000);
});
