/** Cases found by review of the engine, each once wrong, kept so they stay right. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Bandwidth } from "../../cli/engine/bandwidth.js";
import { LinkController } from "../../cli/engine/link-model.js";
import { splitGap } from "../../cli/engine/planner.js";
import { parseRetryAfter } from "../../cli/engine/retry.js";
import { parseRate, UnitError } from "../../cli/engine/units.js";
import { MAX_PART_SIZE, MIN_PART_SIZE, MiB } from "../../functions/contract/limits.js";

describe("rates in bits", () => {
  it("reads kbps and Mbps as bits, MBps as bytes, and refuses zero bits", () => {
    expect(parseRate("500kbps")).toBe(62_500);
    expect(parseRate("8Mbps")).toBe(1_000_000);
    expect(parseRate("10MBps")).toBe(10_000_000);
    expect(() => parseRate("0Mbit/s")).toThrow(UnitError);
  });
});

describe("splitGap", () => {
  it("never makes a part over 5 GiB, even when the average is just under it", () => {
    const parts = splitGap(
      { offset: 0, size: 15 * 1024 ** 3 - 1, firstPart: 1, lastPart: 3 },
      20 * 1024 ** 3,
      8 * MiB,
    );
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p.size).toBeLessThanOrEqual(MAX_PART_SIZE);
    expect(parts.reduce((a, p) => a + p.size, 0)).toBe(15 * 1024 ** 3 - 1);
  });

  it("never makes a part under 5 MiB before the last, also in a gap that ends the file", () => {
    const parts = splitGap({ offset: 0, size: 7.5 * MiB, firstPart: 1, lastPart: 5 }, 7.5 * MiB, 5 * MiB);
    expect(parts).toEqual([{ partNumber: 1, offset: 0, size: 7.5 * MiB }]);
    const more = splitGap({ offset: 0, size: 23 * MiB, firstPart: 1, lastPart: 9 }, 23 * MiB, 5 * MiB);
    for (const p of more.slice(0, -1)) expect(p.size).toBeGreaterThanOrEqual(MIN_PART_SIZE);
  });
});

describe("throttling bursts", () => {
  it("a success between throttled answers in the same bad second does not let each one halve again", () => {
    let t = 0;
    const c = new LinkController({ max: 8, initial: 8, now: () => t });
    const fail = () => {
      c.started();
      c.failed("throttled");
    };
    const succeed = () => {
      c.started();
      c.succeeded(MiB, 0.01);
    };
    fail();
    t += 10;
    succeed();
    fail();
    t += 10;
    succeed();
    fail();
    expect(c.limit).toBe(4);
    t += 1500;
    fail();
    expect(c.limit).toBe(2);
  });
});

describe("weighted bandwidth", () => {
  afterEach(() => vi.useRealTimers());

  it("splits 4:1 even when each flow has a single request waiting at a time", async () => {
    vi.useFakeTimers();
    const bw = new Bandwidth(1_000_000, () => Date.now());
    bw.setWeight("high", 4);
    bw.setWeight("low", 1);
    const got = { high: 0, low: 0 };
    let running = true;
    const loop = async (flow: "high" | "low") => {
      while (running) {
        await bw.acquire(flow, 16 * 1024);
        got[flow] += 16 * 1024;
      }
    };
    void loop("high");
    void loop("low");
    await vi.advanceTimersByTimeAsync(10_000);
    running = false;
    const ratio = got.high / got.low;
    expect(ratio).toBeGreaterThan(3.4);
    expect(ratio).toBeLessThan(4.6);
  });

  it("refuses at once a request whose signal is already aborted", async () => {
    const bw = new Bandwidth(1000);
    await expect(bw.acquire("a", 100, AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
  });
});

describe("Retry-After", () => {
  it("ignores values that are neither seconds nor a date", () => {
    expect(parseRetryAfter("-5")).toBeUndefined();
    expect(parseRetryAfter("1.5")).toBeUndefined();
    expect(parseRetryAfter("3")).toBe(3000);
  });
});
