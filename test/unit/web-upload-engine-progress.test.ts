/**
 * What the browser upload engine tells its view: speed over a sliding window on the injected clock and
 * the ETA from it, notifications throttled (progress at most ~10 a second, batch phases at once), the
 * link model's figures, the drop's problems kept on the batch, and a dark link (the link watch's outage)
 * shown as offline while the retries wait for it, the batch finishing by itself when it is back.
 */
import { setMaxListeners } from "node:events";
import { describe, expect, it, vi } from "vitest";
import { LinkWatch } from "../../cli/engine/link-watch.js";
import { SpeedMeter, WINDOW_MS } from "../../web/src/upload/meter.js";
import type { BatchView, EngineSnapshot, UploadEngineOptions } from "../../web/src/upload/types.js";
import { batchOf, engineBench, KiB, PART, phase } from "../helpers/upload-engine.js";
import { bytesOf, picked } from "../helpers/upload-fakes.js";

// Every part waiting for a slot listens to its run's signal: many listeners are expected.
setMaxListeners(0);

function setup(extra: Partial<UploadEngineOptions> = {}) {
  const bench = engineBench();
  return { ...bench, engine: bench.make(extra) };
}

describe("the speed meter", () => {
  it("measures over the last window and falls to 0 when idle", () => {
    let now = 0;
    const m = new SpeedMeter(() => now);
    m.mark();
    expect(m.bps()).toBe(0);
    now = 1_000;
    m.add(1_000_000);
    expect(m.bps()).toBeCloseTo(1_000_000, -3);
    now = 2_000;
    m.add(3_000_000);
    expect(m.bps()).toBeCloseTo(2_000_000, -3);
    // Beyond the window, only what it saw counts: 3 MB over the last 3 s.
    now = 2_000 + WINDOW_MS - 1_000;
    expect(m.bps()).toBeGreaterThan(0);
    now = 2_000 + WINDOW_MS + 1;
    expect(m.bps()).toBe(0);
  });
});

describe("what the engine shows", () => {
  it("speed and ETA from the injected clock, the link's figures, the drop's problems", async () => {
    let clock = 0;
    const { storage, engine } = setup({ now: () => clock, concurrency: 3 });
    const seen: { speed: number; eta: number | null; sent: number; total: number }[] = [];
    storage.beforePut = () => {
      clock += 100;
      const b = engine.snapshot().batches[0] as BatchView;
      seen.push({ speed: b.speedBps, eta: b.etaSeconds, sent: b.sentBytes, total: b.totalBytes });
    };
    const key = engine.add(
      {
        name: "s.bin",
        files: [picked("s.bin", bytesOf(640 * KiB, 1))],
        dirs: [],
        problems: [{ path: "s/locked", reason: "the browser could not read this folder" }],
      },
      "normal",
    );
    const b = await phase(engine, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(b.problems).toEqual([{ path: "s/locked", reason: "the browser could not read this folder" }]);
    const moving = seen.filter((s) => s.speed > 0);
    expect(moving.length).toBeGreaterThan(3);
    for (const s of moving) expect(s.eta).toBeCloseTo((s.total - s.sent) / s.speed, 6);
    // Complete: idle, nothing left.
    expect(b.speedBps).toBe(0);
    expect(b.etaSeconds).toBeNull();
    const s = engine.snapshot();
    expect(s.link.concurrency).toBeGreaterThanOrEqual(1);
    expect(s.link.concurrency).toBeLessThanOrEqual(3);
    expect(s.link.partSize).toBe(PART);
    expect(s.totals.totalBytes).toBe(640 * KiB);
  });

  it("notifies progress at most about ten times a second, phase changes at once", async () => {
    const { storage, engine } = setup();
    storage.delayMs = 2;
    let progress = 0;
    const put = storage.put.bind(storage);
    storage.put = (req) =>
      put({
        ...req,
        onProgress: (n) => {
          progress++;
          req.onProgress?.(n);
        },
      });
    const got: EngineSnapshot[] = [];
    engine.subscribe((s) => got.push(s));
    const t0 = Date.now();
    const key = engine.add(
      { name: "n", files: [picked("n", bytesOf(2048 * KiB, 2))], dirs: [], problems: [] },
      "low",
    );
    await phase(engine, key, ["complete", "failed"]);
    const elapsed = Date.now() - t0;
    expect(progress).toBeGreaterThanOrEqual(64);
    expect(got.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 8);
    expect(got.map((s) => s.batches[0]?.phase).filter((p, i, a) => p !== a[i - 1])).toEqual([
      "preparing",
      "running",
      "complete",
    ]);
  });

  it("a subscriber that throws does not stop the uploads", async () => {
    const { engine } = setup();
    const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
    let calls = 0;
    engine.subscribe(() => {
      calls++;
      throw new Error("the view broke");
    });
    const key = engine.add(
      { name: "t", files: [picked("t", bytesOf(300 * KiB, 4))], dirs: [], problems: [] },
      "normal",
    );
    const b = await phase(engine, key, ["complete", "failed"]);
    quiet.mockRestore();
    expect(b.phase).toBe("complete");
    expect(calls).toBeGreaterThan(0);
  });

  it("a dark link shows the batch offline while its retries wait, and it finishes when the link is back", async () => {
    let up = true;
    const watch = new LinkWatch({ probe: async () => up, intervalMs: 5, probeTimeoutMs: 100 });
    const { storage, coordinator, engine } = setup({
      retry: { maxRetries: 3, baseMs: 5, capMs: 40, link: watch },
    });
    let puts = 0;
    storage.beforePut = () => {
      if (++puts === 3) {
        up = false;
        storage.failNetwork = 1_000_000;
      }
    };
    const data = bytesOf(700 * KiB, 3);
    const key = engine.add(
      { name: "d.bin", files: [picked("d.bin", data)], dirs: [], problems: [] },
      "normal",
    );
    const off = await phase(engine, key, ["offline"]);
    expect(watch.dark).toBe(true);
    // Shown offline while the run goes on (its retries wait for the link), not stopped by a failure.
    expect(off.error).toBeUndefined();
    await new Promise((r) => setTimeout(r, 30));
    expect(batchOf(engine, key).phase).toBe("offline");
    storage.failNetwork = 0;
    up = true;
    const b = await phase(engine, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(b.retries).toBeGreaterThan(3);
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });
});
