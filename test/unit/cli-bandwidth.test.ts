import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Bandwidth, PRIORITY_WEIGHT } from "../../cli/engine/bandwidth.js";

// The bucket reads the injected clock; its refills wait on setTimeout. Both are vitest's fake timers.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const fakeNow = () => Date.now();

/** Whether a promise has settled once pending microtasks (and no timers) have run. */
async function settled(p: Promise<unknown>): Promise<"resolved" | "rejected" | "pending"> {
  let state: "resolved" | "rejected" | "pending" = "pending";
  p.then(
    () => {
      state = "resolved";
    },
    () => {
      state = "rejected";
    },
  );
  await vi.advanceTimersByTimeAsync(0);
  return state;
}

/**
 * Runs `loops` senders per flow, each asking for `chunk` bytes again as soon as it got the last, for `ms`
 * of fake time, and returns the bytes granted to each flow.
 */
async function share(
  bw: Bandwidth,
  flows: Record<string, number>,
  ms: number,
  chunk = 16 * 1024,
): Promise<Record<string, number>> {
  const granted: Record<string, number> = {};
  let stop = false;
  for (const [flow, loops] of Object.entries(flows)) {
    granted[flow] = 0;
    for (let i = 0; i < loops; i++)
      void (async () => {
        while (!stop) {
          await bw.acquire(flow, chunk);
          if (!stop) granted[flow] = (granted[flow] ?? 0) + chunk;
        }
      })();
  }
  await vi.advanceTimersByTimeAsync(ms);
  stop = true;
  return granted;
}

/** Fake milliseconds until `bytes` in total have been granted to one flow, `chunk` at a time. */
async function timeToSend(bw: Bandwidth, bytes: number, chunk: number): Promise<number> {
  const start = Date.now();
  let end: number | undefined;
  void (async () => {
    for (let sent = 0; sent < bytes; sent += chunk) await bw.acquire("f", Math.min(chunk, bytes - sent));
    end = Date.now();
  })();
  for (let i = 0; i < 100_000 && end === undefined; i++) await vi.advanceTimersByTimeAsync(10);
  if (end === undefined) throw new Error("the bytes were never all granted");
  return end - start;
}

describe("Bandwidth", () => {
  it("gives weights 4, 2 and 1 to high, normal and low priority", () => {
    expect(PRIORITY_WEIGHT).toEqual({ high: 4, normal: 2, low: 1 });
  });

  it("grants at once when unlimited", async () => {
    const bw = new Bandwidth(null, fakeNow);
    expect(bw.limited).toBe(false);
    for (let i = 0; i < 100; i++) expect(await settled(bw.acquire("f", 1024 ** 3))).toBe("resolved");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("grants a first burst at once when limited", async () => {
    const bw = new Bandwidth(1_000_000, fakeNow);
    expect(bw.limited).toBe(true);
    expect(await settled(bw.acquire("f", 64 * 1024))).toBe("resolved");
  });

  it("takes about N/R seconds to grant N bytes at rate R", async () => {
    const rate = 1_000_000;
    const ms = await timeToSend(new Bandwidth(rate, fakeNow), 5_000_000, 16 * 1024);
    // The first burst (a tenth of a second's worth) is free; everything after it waits its turn.
    expect(ms).toBeGreaterThanOrEqual(((5_000_000 - rate / 10) / rate) * 1000 - 50);
    expect(ms).toBeLessThanOrEqual((5_000_000 / rate) * 1000 * 1.05);
  });

  it("keeps the rate when each request is larger than the bucket", async () => {
    const rate = 100_000;
    const ms = await timeToSend(new Bandwidth(rate, fakeNow), 1_000_000, 250_000);
    expect(ms / 1000).toBeGreaterThan(((1_000_000 - 250_000) / rate) * 0.95);
    expect(ms / 1000).toBeLessThan((1_000_000 / rate) * 1.05);
  });

  it("splits the rate about 4:1 between flows weighted 4 and 1 that both keep waiting", async () => {
    const rate = 1_000_000;
    const bw = new Bandwidth(rate, fakeNow);
    bw.setWeight("high", PRIORITY_WEIGHT.high);
    bw.setWeight("low", PRIORITY_WEIGHT.low);
    // Two parts in flight per file, as the sender has while its concurrency is above one per file.
    const got = await share(bw, { high: 2, low: 2 }, 10_000);
    const high = got.high ?? 0;
    const low = got.low ?? 0;
    expect(high / low).toBeGreaterThan(4 * 0.85);
    expect(high / low).toBeLessThan(4 * 1.15);
    // Together they get the rate, not more.
    expect(high + low).toBeLessThanOrEqual(rate * 10 * 1.05);
    expect(high + low).toBeGreaterThanOrEqual(rate * 10 * 0.95);
  });

  it("splits evenly between flows of equal weight", async () => {
    const bw = new Bandwidth(1_000_000, fakeNow);
    const got = await share(bw, { a: 1, b: 1 }, 5_000);
    expect((got.a ?? 0) / (got.b ?? 1)).toBeGreaterThan(0.85);
    expect((got.a ?? 0) / (got.b ?? 1)).toBeLessThan(1.15);
  });

  it("gives a flow that arrives late no banked credit", async () => {
    const rate = 1_000_000;
    const bw = new Bandwidth(rate, fakeNow);
    let stopEarly = false;
    let early = 0;
    for (let i = 0; i < 2; i++)
      void (async () => {
        while (!stopEarly) {
          await bw.acquire("early", 16 * 1024);
          early += 16 * 1024;
        }
      })();
    await vi.advanceTimersByTimeAsync(5_000);
    const earlyBefore = early;
    // A newcomer of the same weight now shares evenly from the start, rather than having the link to
    // itself until its usage catches up with the five seconds the first flow already had.
    const got = await share(bw, { late: 2 }, 1_000);
    stopEarly = true;
    const earlyDuring = early - earlyBefore;
    const late = got.late ?? 0;
    expect(late / (late + earlyDuring)).toBeGreaterThan(0.35);
    expect(late / (late + earlyDuring)).toBeLessThan(0.65);
  });

  it("rejects a waiter whose signal aborts, with the signal's reason, and drops it from the queue", async () => {
    const rate = 100_000;
    const burst = 64 * 1024; // max(64 KiB, rate / 10)
    const bw = new Bandwidth(rate, fakeNow);
    await bw.acquire("f", burst); // the bucket is now empty
    const ac = new AbortController();
    const waiting = bw.acquire("f", 60_000, ac.signal);
    const outcome = waiting.then(
      () => "resolved",
      (err: unknown) => err,
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(await settled(waiting)).toBe("pending");
    const reason = new Error("cancelled");
    ac.abort(reason);
    expect(await outcome).toBe(reason);
    // Had the dropped waiter still been served, the bucket would be short of a full burst a second later.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await settled(bw.acquire("g", burst))).toBe("resolved");
  });

  it("keeps serving the other waiters after one aborts", async () => {
    const bw = new Bandwidth(100_000, fakeNow);
    await bw.acquire("f", 64 * 1024);
    const ac = new AbortController();
    const dropped = bw.acquire("f", 50_000, ac.signal).catch(() => "dropped");
    const kept = bw.acquire("g", 10_000);
    ac.abort();
    expect(await dropped).toBe("dropped");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await settled(kept)).toBe("resolved");
  });
});
