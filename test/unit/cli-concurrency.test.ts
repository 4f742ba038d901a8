import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConcurrencyController } from "../../cli/engine/concurrency.js";
import { MiB } from "../../functions/contract/limits.js";

/** A controller on a hand-driven clock (milliseconds). */
function controller(max: number, initial?: number) {
  const clock = { t: 1_000_000 };
  const c = new ConcurrencyController({ max, ...(initial !== undefined && { initial }), now: () => clock.t });
  return { c, clock };
}

/** Completes one full round (`limit` parts of `bytes` each) that takes `ms` in total. */
function round(c: ConcurrencyController, clock: { t: number }, ms: number, bytes = MiB): void {
  const parts = c.limit;
  for (let i = 0; i < parts; i++) {
    clock.t += ms / parts;
    c.onSuccess(bytes);
  }
}

describe("ConcurrencyController: start", () => {
  it("starts at four connections, or at max when that is lower", () => {
    expect(controller(16).c.limit).toBe(4);
    expect(controller(4).c.limit).toBe(4);
    expect(controller(2).c.limit).toBe(2);
    expect(controller(1).c.limit).toBe(1);
  });

  it("starts at `initial` when given, kept within [1, max]", () => {
    expect(controller(16, 10).c.limit).toBe(10);
    expect(controller(8, 10).c.limit).toBe(8);
    expect(controller(8, 0).c.limit).toBe(1);
    expect(controller(8, -3).c.limit).toBe(1);
  });

  it("treats a max below 1 as 1", () => {
    expect(controller(0).c.limit).toBe(1);
    expect(controller(-5, 3).c.limit).toBe(1);
  });
});

describe("ConcurrencyController: additive increase", () => {
  it("adds one connection after the first full round", () => {
    const { c, clock } = controller(16);
    for (let i = 0; i < 3; i++) {
      clock.t += 100;
      c.onSuccess(MiB);
    }
    expect(c.limit).toBe(4);
    clock.t += 100;
    c.onSuccess(MiB);
    expect(c.limit).toBe(5);
  });

  it("counts a round as `limit` successes", () => {
    const { c, clock } = controller(16, 6);
    for (let i = 0; i < 5; i++) {
      clock.t += 10;
      c.onSuccess(MiB);
    }
    expect(c.limit).toBe(6);
    c.onSuccess(MiB);
    expect(c.limit).toBe(7);
  });

  it("adds another only when goodput rose by at least 5 % over the previous round", () => {
    const { c, clock } = controller(16);
    round(c, clock, 1000); // 4 MiB/s, first round
    expect(c.limit).toBe(5);
    round(c, clock, 1000); // 5 MiB/s: +25 %
    expect(c.limit).toBe(6);
    round(c, clock, 1200); // 6 MiB in 1.2 s = 5 MiB/s: no rise
    expect(c.limit).toBe(6);
    round(c, clock, 1200 / 1.04); // +4 %
    expect(c.limit).toBe(6);
    round(c, clock, 1200 / 1.04 / 1.1); // +10 %
    expect(c.limit).toBe(7);
  });

  it("does not add when goodput fell", () => {
    const { c, clock } = controller(16);
    round(c, clock, 1000);
    expect(c.limit).toBe(5);
    round(c, clock, 5000);
    expect(c.limit).toBe(5);
  });

  it("never goes above max", () => {
    const { c, clock } = controller(6);
    let ms = 1000;
    for (let i = 0; i < 20; i++) {
      round(c, clock, ms);
      ms /= 2; // goodput keeps rising
    }
    expect(c.limit).toBe(6);
  });
});

describe("ConcurrencyController: multiplicative decrease", () => {
  it("halves on a failure, rounding down, never below 1", () => {
    const { c, clock } = controller(16, 9);
    c.onFailure();
    expect(c.limit).toBe(4);
    clock.t += 5000;
    c.onFailure();
    expect(c.limit).toBe(2);
    clock.t += 5000;
    c.onFailure();
    expect(c.limit).toBe(1);
    clock.t += 5000;
    c.onFailure();
    expect(c.limit).toBe(1);
  });

  it("halves once for a burst of failures in the same moment", () => {
    const { c, clock } = controller(16, 8);
    c.onFailure();
    clock.t += 10;
    c.onFailure();
    clock.t += 300;
    c.onFailure();
    clock.t += 300;
    c.onFailure();
    expect(c.limit).toBe(4);
  });

  it("halves again for a failure after the window recovered through a full round", () => {
    const { c, clock } = controller(16, 8);
    c.onFailure();
    expect(c.limit).toBe(4);
    round(c, clock, 1500);
    expect(c.limit).toBe(5); // the round after a decrease is a first round again
    c.onFailure();
    expect(c.limit).toBe(2);
  });
});

describe("ConcurrencyController: bounds under any sequence", () => {
  type Event = { kind: "success"; bytes: number } | { kind: "failure" } | { kind: "wait"; ms: number };
  const eventArb: fc.Arbitrary<Event> = fc.oneof(
    fc.record({ kind: fc.constant("success" as const), bytes: fc.integer({ min: 0, max: 5 * 2 ** 30 }) }),
    fc.constant({ kind: "failure" as const }),
    fc.record({ kind: fc.constant("wait" as const), ms: fc.double({ min: 0, max: 5000, noNaN: true }) }),
  );

  it("keeps the limit a whole number within [1, max]", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2, max: 64 }),
        fc.option(fc.integer({ min: -2, max: 100 }), { nil: undefined }),
        fc.array(eventArb, { maxLength: 300 }),
        (max, initial, events) => {
          const { c, clock } = controller(max, initial);
          const hi = Math.max(1, max);
          for (const e of events) {
            if (e.kind === "success") c.onSuccess(e.bytes);
            else if (e.kind === "failure") c.onFailure();
            else clock.t += e.ms;
            expect(Number.isInteger(c.limit)).toBe(true);
            expect(c.limit).toBeGreaterThanOrEqual(1);
            expect(c.limit).toBeLessThanOrEqual(hi);
          }
        },
      ),
    );
  });
});
