/** The stats buffer: advisory counters coalesced in process, written at most once per interval. */
import { describe, expect, it } from "vitest";
import type { SeriesDelta } from "../../functions/core/activity.js";
import type { StatsDelta } from "../../functions/core/ports.js";
import { isEmptyStats, mergeStats, StatsBuffer } from "../../functions/core/stats-buffer.js";

function harness(flushMs: number, opts: { failStats?: number } = {}) {
  let now = Date.parse("2026-12-01T10:00:00.000Z");
  const stats: StatsDelta[] = [];
  const minutes: [string, SeriesDelta][] = [];
  const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
  const warnings: string[] = [];
  let failures = opts.failStats ?? 0;
  const buffer = new StatsBuffer({
    sink: {
      addStats: async (d) => {
        if (failures > 0) {
          failures--;
          throw new Error("throttled");
        }
        stats.push(d);
      },
      addToMinute: async (m, d) => {
        minutes.push([m, d]);
      },
    },
    flushMs,
    clock: { now: () => new Date(now) },
    warn: (m) => warnings.push(m),
    schedule: (fn, ms) => {
      const t = { fn, at: now + ms, cancelled: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    },
  });
  /** Moves the clock and runs the timers that came due. */
  const advance = async (ms: number) => {
    now += ms;
    for (const t of timers.filter((x) => !x.cancelled && x.at <= now)) {
      t.cancelled = true;
      t.fn();
    }
    await buffer.flush().then(() => undefined); // waits for any flush the timers started (and is itself empty)
  };
  /** Moves the clock without running timers. */
  const move = (ms: number) => {
    now += ms;
  };
  const liveTimers = () => timers.filter((t) => !t.cancelled).length;
  return { buffer, stats, minutes, advance, move, liveTimers, warnings };
}

describe("mergeStats", () => {
  it("adds every counter and drops the ones that cancel out", () => {
    const a: StatsDelta = { status: { uploading: 1 }, priority: { high: 1 }, bytesReceived: 5 };
    const b: StatsDelta = { status: { uploading: -1, assembling: 1 }, bytesReceived: 7, dedupeHits: 1 };
    expect(mergeStats(a, b)).toEqual({
      status: { assembling: 1 },
      priority: { high: 1 },
      bytesReceived: 12,
      dedupeHits: 1,
    });
    expect(isEmptyStats(mergeStats({ status: { uploading: 1 } }, { status: { uploading: -1 } }))).toBe(true);
  });
});

describe("StatsBuffer", () => {
  it("with 0 ms writes every delta through at once", async () => {
    const h = harness(0);
    await h.buffer.add({ bytesReceived: 10 }, { minute: "2026-12-01T10:00", delta: { bytes: 10, parts: 1 } });
    await h.buffer.add({ bytesReceived: 20 });
    expect(h.stats).toEqual([{ bytesReceived: 10 }, { bytesReceived: 20 }]);
    expect(h.minutes).toEqual([["2026-12-01T10:00", { bytes: 10, parts: 1 }]]);
    expect(h.liveTimers()).toBe(0);
  });

  it("coalesces a thousand part records within the interval into one write, by the trailing timer", async () => {
    const h = harness(1000);
    await h.advance(1000); // the first add after the interval would flush at once; start inside one
    await h.buffer.add({ bytesReceived: 1 });
    h.stats.length = 0;
    for (let i = 0; i < 1000; i++)
      await h.buffer.add(
        { bytesReceived: 4096 },
        { minute: "2026-12-01T10:00", delta: { bytes: 4096, parts: 1 } },
      );
    expect(h.stats).toEqual([]);
    expect(h.minutes).toEqual([]);
    expect(h.liveTimers()).toBe(1);
    await h.advance(1000);
    expect(h.stats).toEqual([{ bytesReceived: 1 + 1000 * 4096 }]);
    expect(h.minutes).toEqual([["2026-12-01T10:00", { bytes: 1000 * 4096, parts: 1000 }]]);
    expect(h.buffer.pending).toBe(false);
  });

  it("writes within the request once the interval has passed (a frozen Lambda runs no timer)", async () => {
    const h = harness(1000);
    await h.buffer.add({ bytesReceived: 1 }); // just after start: buffered
    expect(h.stats).toEqual([]);
    h.move(1500); // time passes, but no timer runs (as in a frozen container)
    await h.buffer.add({ bytesReceived: 2 });
    expect(h.stats).toEqual([{ bytesReceived: 3 }]);
    expect(h.liveTimers()).toBe(0);
  });

  it("keeps one point per minute apart", async () => {
    const h = harness(60_000);
    await h.buffer.add({}, { minute: "2026-12-01T10:00", delta: { bytes: 1 } });
    await h.buffer.add({}, { minute: "2026-12-01T10:01", delta: { bytes: 2, completed: 1 } });
    await h.buffer.add({}, { minute: "2026-12-01T10:00", delta: { bytes: 3 } });
    await h.buffer.flush();
    expect(h.minutes.sort()).toEqual([
      ["2026-12-01T10:00", { bytes: 4 }],
      ["2026-12-01T10:01", { bytes: 2, completed: 1 }],
    ]);
    expect(h.stats).toEqual([]); // no totals were added: no stats write
  });

  it("keeps a delta whose write failed and writes it with the next flush", async () => {
    const h = harness(0, { failStats: 1 });
    await h.buffer.add({ status: { uploading: 1 } });
    expect(h.stats).toEqual([]);
    expect(h.warnings).toEqual(["stats update failed"]);
    await h.buffer.add({ status: { uploading: -1, complete: 1 } });
    expect(h.stats).toEqual([{ status: { complete: 1 } }]);
  });

  it("a flush with nothing buffered writes nothing", async () => {
    const h = harness(1000);
    await h.buffer.flush();
    await h.buffer.add({ bytesReceived: 0 });
    await h.buffer.flush();
    expect(h.stats).toEqual([]);
    expect(h.minutes).toEqual([]);
    expect(h.liveTimers()).toBe(0);
  });
});
