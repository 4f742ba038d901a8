import { describe, expect, it } from "vitest";
import { LinkController, type LinkDecision, lossKind } from "../../cli/engine/link-model.js";
import { goodputBetween, limitAt, simulate } from "./link-sim.js";

const MiB = 1024 * 1024;
const C = 10 * MiB;

function controller(over: Partial<ConstructorParameters<typeof LinkController>[0]> = {}) {
  const clock = { t: 1_000_000 };
  const decisions: LinkDecision[] = [];
  const c = new LinkController({
    max: 64,
    initial: 4,
    partSize: { initial: 8 * MiB, min: 5 * MiB, max: 64 * MiB, adaptive: true },
    memory: 2048 * MiB,
    now: () => clock.t,
    onDecision: (d) => decisions.push(d),
    ...over,
  });
  return { c, clock, decisions };
}

/** The number of times the limit changed between two times of a run. */
function changes(limits: [number, number][], fromMs: number, toMs: number): number {
  let n = 0;
  for (let i = 1; i < limits.length; i++) {
    const [t, l] = limits[i] as [number, number];
    if (t > fromMs && t <= toMs && l !== (limits[i - 1] as [number, number])[1]) n++;
  }
  return n;
}

describe("link model: a clean link", () => {
  it("ramps up to where goodput stops rising, then holds", () => {
    const { c, clock } = controller();
    const r = simulate(c, clock, { capacityBps: C, perStreamBps: C / 6, seed: 1 }, 120_000);
    // Six streams fill the link: it goes past them, but not on to the ceiling.
    expect(limitAt(r, 20_000)).toBeGreaterThanOrEqual(6);
    expect(limitAt(r, 120_000)).toBeLessThanOrEqual(14);
    // Holding: a re-probe now and then, no wild swings.
    expect(changes(r.limits, 30_000, 120_000)).toBeLessThanOrEqual(20);
    const late = r.limits.filter(([t]) => t >= 30_000).map(([, l]) => l);
    expect(Math.max(...late) / Math.min(...late)).toBeLessThanOrEqual(2);
    expect(goodputBetween(r, 20_000, 120_000)).toBeGreaterThanOrEqual(0.9 * C);
  });

  it("a link that one stream fills does not widen", () => {
    const { c, clock } = controller({ initial: 2 });
    const r = simulate(c, clock, { capacityBps: C, perStreamBps: C, seed: 2 }, 60_000);
    expect(Math.max(...r.limits.map(([, l]) => l))).toBeLessThanOrEqual(5);
  });

  it("grows parts on a fast clean link, within the memory budget", () => {
    const { c, clock } = controller({ memory: 256 * MiB });
    simulate(c, clock, { capacityBps: 200 * MiB, perStreamBps: 40 * MiB, seed: 3 }, 30_000);
    expect(c.partSize).toBeGreaterThan(8 * MiB);
    expect(c.limit * c.partSize).toBeLessThanOrEqual(0.75 * 256 * MiB);
  });
});

describe("link model: 2 % random loss", () => {
  it("widens instead of halving, and delivers ≥ 85 % of the capacity", () => {
    const { c, clock, decisions } = controller();
    let lowest = Number.POSITIVE_INFINITY;
    const r = simulate(
      c,
      clock,
      { capacityBps: C, perStreamBps: C / 6, loss: 0.02, retryDelayMs: 2_000, seed: 7 },
      180_000,
      (t) => {
        if (t > 20_000) lowest = Math.min(lowest, c.limit);
      },
    );
    expect(r.failures).toBeGreaterThan(5);
    expect(limitAt(r, 180_000)).toBeGreaterThan(4);
    expect(lowest).toBeGreaterThanOrEqual(6);
    expect(decisions.some((d) => d.reason.includes("halve"))).toBe(false);
    expect(goodputBetween(r, 20_000, 180_000)).toBeGreaterThanOrEqual(0.85 * C);
    // Parts shrink under loss: a lost part costs less.
    expect(c.partSize).toBeLessThan(8 * MiB);
    expect(decisions.some((d) => d.reason === "loss: widen" && d.lossRate > 0)).toBe(true);
  });
});

describe("link model: a drop every 30 s", () => {
  it("holds its limit through each drop and is back to it within a few seconds", () => {
    const { c, clock, decisions } = controller();
    const r = simulate(
      c,
      clock,
      { capacityBps: C, perStreamBps: C / 6, dropEveryMs: 30_000, seed: 11 },
      150_000,
    );
    expect(decisions.some((d) => d.reason === "drop: hold")).toBe(true);
    for (const drop of [30_000, 60_000, 90_000, 120_000]) {
      const before = limitAt(r, drop - 100);
      expect(before).toBeGreaterThan(1);
      // Never below the limit before the drop in the next 3 seconds.
      for (const [t, l] of r.limits)
        if (t >= drop && t <= drop + 3_000) expect(l).toBeGreaterThanOrEqual(before);
      // And delivering again soon after.
      expect(goodputBetween(r, drop + 2_000, drop + 25_000)).toBeGreaterThan(0.7 * C);
    }
    // Four drops in the last two minutes, none taken for random loss.
    expect(c.decision.dropsPerMinute).toBe(2);
    expect(decisions.some((d) => d.reason === "loss: widen")).toBe(false);
    expect(goodputBetween(r, 20_000, 150_000)).toBeGreaterThanOrEqual(0.85 * C);
  });
});

describe("link model: a 10 s outage", () => {
  it("with the link watch: holds its limit and resumes at the pre-outage limit at once", () => {
    const { c, clock, decisions } = controller();
    let during: number[] = [];
    const r = simulate(
      c,
      clock,
      {
        capacityBps: C,
        perStreamBps: C / 6,
        outages: [{ atMs: 40_000, forMs: 10_000, watch: true }],
        seed: 5,
      },
      70_000,
      (t) => {
        if (t >= 40_000 && t < 50_500) during.push(c.limit);
      },
    );
    const before = limitAt(r, 39_950);
    expect(new Set(during)).toEqual(new Set([before]));
    const back = decisions.find((d) => d.reason === "back");
    expect(back?.concurrency).toBe(before);
    expect(limitAt(r, 50_550)).toBe(before);
    during = [];
    expect(goodputBetween(r, 52_000, 60_000)).toBeGreaterThan(0.8 * C);
  });

  it("without it (every request stalls and fails): the limit is held, not collapsed", () => {
    const { c, clock } = controller();
    const r = simulate(
      c,
      clock,
      {
        capacityBps: C,
        perStreamBps: C / 6,
        outages: [{ atMs: 40_000, forMs: 10_000, watch: false }],
        stallMs: 2_000,
        seed: 6,
      },
      70_000,
    );
    const before = limitAt(r, 39_950);
    for (const [t, l] of r.limits) if (t >= 40_000 && t <= 52_000) expect(l).toBeGreaterThanOrEqual(before);
    expect(goodputBetween(r, 53_000, 63_000)).toBeGreaterThan(0.8 * C);
  });
});

describe("link model: throttling", () => {
  it("halves once per burst, then holds before probing again", () => {
    const { c, clock, decisions } = controller({ initial: 16 });
    const r = simulate(
      c,
      clock,
      {
        capacityBps: 4 * C,
        perStreamBps: C / 2,
        throttles: [
          { atMs: 20_000, count: 10 },
          { atMs: 23_000, count: 10 },
        ],
        seed: 9,
      },
      26_000,
    );
    const halvings = decisions.filter((d) => d.reason === "throttled: halve");
    expect(halvings).toHaveLength(2);
    const before = limitAt(r, 19_950);
    expect(limitAt(r, 20_300)).toBe(Math.floor(before / 2));
    expect(limitAt(r, 23_300)).toBe(Math.floor(Math.floor(before / 2) / 2));
  });

  it("server errors in one burst halve once; a lone 5xx after a second halves again", () => {
    const { c, clock } = controller({ initial: 16 });
    for (let i = 0; i < 16; i++) c.started();
    for (let i = 0; i < 8; i++) {
      clock.t += 50;
      c.failed("server");
    }
    expect(c.limit).toBe(8);
    clock.t += 1_500;
    c.failed("server");
    expect(c.limit).toBe(4);
  });
});

describe("link model: decisions and bounds", () => {
  it("outage() freezes: failures while dark change nothing; back() restores the limit", () => {
    const { c, clock, decisions } = controller({ initial: 12 });
    c.outage();
    for (let i = 0; i < 12; i++) c.started();
    for (let i = 0; i < 12; i++) {
      clock.t += 100;
      c.failed("throttled");
    }
    expect(c.limit).toBe(12);
    clock.t += 10_000;
    c.back();
    expect(c.limit).toBe(12);
    expect(decisions.map((d) => d.reason)).toEqual(["outage", "back"]);
  });

  it("the memory budget bounds concurrency × part size", () => {
    const { c } = controller({ memory: 64 * MiB, max: 64, initial: 64 });
    // 3/4 of 64 MiB in 5 MiB parts: nine.
    expect(c.ceiling).toBe(9);
    expect(c.limit).toBe(9);
    expect(c.limit * c.partSize).toBeLessThanOrEqual(48 * MiB);
  });

  it("a fixed part size (not adaptive) is never changed", () => {
    const { c, clock } = controller({
      partSize: { initial: 16 * MiB, min: 5 * MiB, max: 64 * MiB, adaptive: false },
    });
    simulate(c, clock, { capacityBps: C, perStreamBps: C / 6, loss: 0.05, seed: 4 }, 30_000);
    expect(c.partSize).toBe(16 * MiB);
  });

  it("maps classify's codes to loss kinds", () => {
    expect(lossKind("STALL")).toBe("stall");
    expect(lossKind("TIMEOUT")).toBe("timeout");
    expect(lossKind("ECONNRESET")).toBe("reset");
    expect(lossKind("EPIPE")).toBe("reset");
    expect(lossKind("BadDigest")).toBe("damaged");
    expect(lossKind("XAmzContentSHA256Mismatch")).toBe("damaged");
    expect(lossKind("SlowDown")).toBe("throttled");
    expect(lossKind("HTTP_429")).toBe("throttled");
    expect(lossKind("HTTP_503")).toBe("throttled");
    expect(lossKind("InternalError")).toBe("server");
    expect(lossKind("HTTP_502")).toBe("server");
    expect(lossKind("URL_EXPIRED")).toBeUndefined();
    expect(lossKind("NoSuchUpload")).toBeUndefined();
  });

  it("stays within [min, ceiling] under any mix of signals", () => {
    const { c, clock } = controller({ min: 2, max: 20, initial: 5 });
    const kinds = ["reset", "timeout", "stall", "damaged", "throttled", "server"] as const;
    let seed = 3;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 5_000; i++) {
      clock.t += Math.floor(rnd() * 400);
      const x = rnd();
      if (x < 0.3) c.started();
      else if (x < 0.7) c.progress(Math.floor(rnd() * MiB));
      else if (x < 0.85) c.succeeded(8 * MiB, rnd() * 10);
      else if (x < 0.97) c.failed(kinds[Math.floor(rnd() * kinds.length)] as (typeof kinds)[number]);
      else if (x < 0.985) c.outage();
      else c.back();
      expect(c.limit).toBeGreaterThanOrEqual(2);
      expect(c.limit).toBeLessThanOrEqual(20);
      expect(c.partSize).toBeGreaterThanOrEqual(5 * MiB);
      expect(c.partSize).toBeLessThanOrEqual(64 * MiB);
    }
  });
});

describe("link model: drops on a slow link (mobile)", () => {
  it("fewer parts in flight, so parts get through between drops", () => {
    const slow = 1 * MiB;
    const { c, clock, decisions } = controller({ initial: 8 });
    const r = simulate(
      c,
      clock,
      { capacityBps: slow, perStreamBps: slow, dropEveryMs: 30_000, seed: 13 },
      300_000,
    );
    expect(decisions.some((d) => d.reason === "drop: fewer bytes at risk")).toBe(true);
    // Eight 8 MiB parts at 1 MiB/s would each take a minute: none would ever finish. At most a
    // halving per drop: fewer within the first drops.
    expect(limitAt(r, 35_000)).toBeLessThanOrEqual(6);
    expect(limitAt(r, 35_000)).toBeGreaterThanOrEqual(3);
    expect(limitAt(r, 125_000)).toBeLessThanOrEqual(3);
    expect(goodputBetween(r, 90_000, 300_000)).toBeGreaterThanOrEqual(0.7 * slow);
  });
});

describe("link model: part size under loss", () => {
  it("one request alone failing twice halves twice; a burst across streams halves once", () => {
    const alone = controller({ initial: 1 });
    for (let i = 0; i < 2; i++) {
      alone.c.started();
      alone.clock.t += 100;
      alone.c.failed("reset");
    }
    expect(alone.c.partSize).toBe(5 * MiB); // 8 → 4, floored at 5
    const wide = controller({
      initial: 8,
      partSize: { initial: 32 * MiB, min: 5 * MiB, max: 64 * MiB, adaptive: true },
    });
    for (let i = 0; i < 8; i++) wide.c.started();
    for (let i = 0; i < 8; i++) {
      wide.clock.t += 20;
      wide.c.failed("reset");
    }
    expect(wide.c.partSize).toBe(16 * MiB);
  });
});

describe("link model: a stream-capped long, lossy link", () => {
  it("a stream-capped long, lossy link (per-stream 89 KB/s, capacity 6 MB/s, parts 5–8 MiB taking ~60–90 s each, 1 s epochs)", () => {
    const perStream = 89_000;
    const capacity = 6_000_000;
    const { c, clock } = controller({
      max: 32,
      initial: 8,
      partSize: { initial: 8 * MiB, min: 5 * MiB, max: 64 * MiB, adaptive: true },
      memory: 128 * MiB,
    });
    const r = simulate(
      c,
      clock,
      { capacityBps: capacity, perStreamBps: perStream, loss: 0.01, retryDelayMs: 1_000, seed: 13 },
      400_000,
    );
    // Every stream is capped: widen to the ceiling (19 at 5 MiB parts within ¾ of 128 MiB), parts at the floor.
    expect(c.ceiling).toBe(19);
    expect(limitAt(r, 400_000)).toBeGreaterThanOrEqual(c.ceiling - 2);
    expect(c.partSize).toBe(5 * MiB);
    const best = Math.min(capacity, c.ceiling * perStream);
    expect(goodputBetween(r, 150_000, 400_000)).toBeGreaterThanOrEqual(0.8 * best);
  });
});
