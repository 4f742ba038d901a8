import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CEILING,
  floorFor,
  PartPlanner,
  type PlannedPart,
  type PlannerOptions,
  splitGap,
} from "../../cli/engine/planner.js";
import {
  GiB,
  MAX_OBJECT_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MIN_PART_SIZE,
  MiB,
  TiB,
} from "../../functions/contract/limits.js";

/** One piece of feedback the sender might give the planner between two calls to next(). */
type Feedback = { kind: "success"; bytes: number | "part"; seconds: number } | { kind: "failure" };

/**
 * Walks the tail from `offset` with part number `n` to the end of the file, applying the feedback
 * schedule (round-robin) after each part, and returns the parts.
 */
function walk(
  planner: PartPlanner,
  fileSize: number,
  schedule: readonly (readonly Feedback[])[] = [],
  offset = 0,
  n = 1,
): PlannedPart[] {
  const parts: PlannedPart[] = [];
  let i = 0;
  while (offset < fileSize) {
    const part = planner.next(offset, n);
    parts.push(part);
    offset += part.size;
    n++;
    for (const f of schedule.length ? (schedule[i++ % schedule.length] ?? []) : []) {
      if (f.kind === "failure") planner.onFailure();
      else planner.onSuccess(f.bytes === "part" ? part.size : f.bytes, f.seconds);
    }
  }
  return parts;
}

/**
 * The S3 rules for a list of parts meant to cover bytes [start, end) from part number `first`: the first
 * broken rule, or undefined. (Plain checks rather than expect() per part: a 5 TiB walk has 10,000 parts.)
 */
function tailViolation(
  parts: readonly PlannedPart[],
  start: number,
  end: number,
  first: number,
): string | undefined {
  if (parts.length === 0) return "no parts";
  let offset = start;
  for (const [i, p] of parts.entries()) {
    const at = `part ${i} ${JSON.stringify(p)}`;
    if (p.partNumber !== first + i) return `${at}: expected number ${first + i}`;
    if (p.offset !== offset) return `${at}: expected offset ${offset}`;
    if (!Number.isInteger(p.size) || p.size <= 0) return `${at}: size is not a positive integer`;
    if (p.size > MAX_PART_SIZE) return `${at}: over 5 GiB`;
    if (i < parts.length - 1 && p.size < MIN_PART_SIZE) return `${at}: under 5 MiB and not last`;
    offset += p.size;
  }
  if (offset !== end) return `parts end at ${offset}, not ${end}`;
  if (parts.at(-1)!.partNumber > MAX_PARTS) return `last part number ${parts.at(-1)!.partNumber}`;
  return undefined;
}

function expectLegalTail(parts: readonly PlannedPart[], start: number, end: number, first: number): void {
  expect(tailViolation(parts, start, end, first)).toBeUndefined();
}

const feedbackArb: fc.Arbitrary<Feedback> = fc.oneof(
  fc.record({
    kind: fc.constant("success" as const),
    bytes: fc.oneof(fc.constant("part" as const), fc.integer({ min: 0, max: 6 * GiB })),
    seconds: fc.oneof(fc.double({ min: 0, max: 60, noNaN: true }), fc.constantFrom(0, 1.99, 2, 8, 8.01)),
  }),
  fc.constant({ kind: "failure" as const }),
);
const scheduleArb = fc.array(fc.array(feedbackArb, { maxLength: 4 }), { maxLength: 30 });

const fileSizeArb = fc.oneof(
  fc.integer({ min: 1, max: MAX_OBJECT_SIZE }),
  fc.integer({ min: 1, max: 200 * MiB }),
  fc.constantFrom(
    1,
    MIN_PART_SIZE - 1,
    MIN_PART_SIZE,
    MIN_PART_SIZE + 1,
    2 * MIN_PART_SIZE - 1,
    MAX_PART_SIZE,
    MAX_PART_SIZE + 1,
    MAX_PARTS * MIN_PART_SIZE,
    MAX_PARTS * MIN_PART_SIZE + 1,
    MAX_OBJECT_SIZE - 1,
    MAX_OBJECT_SIZE,
  ),
);
const sizeOptionArb = fc.oneof(
  fc.integer({ min: 1, max: 6 * GiB }),
  fc.constantFrom(1, MiB, MIN_PART_SIZE - 1, MIN_PART_SIZE, 8 * MiB, DEFAULT_CEILING, MAX_PART_SIZE, 6 * GiB),
);
const optionsArb: fc.Arbitrary<PlannerOptions> = fc
  .record(
    {
      fileSize: fileSizeArb,
      initial: sizeOptionArb,
      adaptive: fc.boolean(),
      ceiling: sizeOptionArb,
      targetSeconds: fc.double({ min: 0.01, max: 30, noNaN: true }),
    },
    { requiredKeys: ["fileSize", "initial", "adaptive"] },
  )
  .map((o) => o as PlannerOptions);

describe("floorFor", () => {
  it("is 5 MiB while the remaining bytes fit easily in the numbers left", () => {
    expect(floorFor(1, 1)).toBe(MIN_PART_SIZE);
    expect(floorFor(10 * GiB, 1)).toBe(MIN_PART_SIZE);
    expect(floorFor(MAX_PARTS * MIN_PART_SIZE, 1)).toBe(MIN_PART_SIZE);
  });

  it("spreads the remaining bytes over the numbers left once 5 MiB parts would run out", () => {
    expect(floorFor(MAX_PARTS * MIN_PART_SIZE + 1, 1)).toBe(MIN_PART_SIZE + 1);
    expect(floorFor(MAX_OBJECT_SIZE, 1)).toBe(Math.ceil(MAX_OBJECT_SIZE / MAX_PARTS));
    expect(floorFor(100 * MiB, MAX_PARTS - 1)).toBe(50 * MiB);
  });

  it("asks for everything at part 10,000 and is infinite past it", () => {
    expect(floorFor(3 * GiB, MAX_PARTS)).toBe(3 * GiB);
    expect(floorFor(1, MAX_PARTS)).toBe(MIN_PART_SIZE);
    expect(floorFor(1, MAX_PARTS + 1)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("PartPlanner: S3 rules for any file and any feedback", () => {
  it("tiles the file from byte 0 / part 1 with legal parts, within 10,000 numbers", () => {
    fc.assert(
      fc.property(optionsArb, scheduleArb, (opts, schedule) => {
        const parts = walk(new PartPlanner(opts), opts.fileSize, schedule);
        expectLegalTail(parts, 0, opts.fileSize, 1);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps the guarantee for 5 TiB files with the smallest starting size", () => {
    for (const adaptive of [true, false]) {
      for (const initial of [1, MIN_PART_SIZE]) {
        const failing: Feedback[][] = [[{ kind: "failure" }]];
        const parts = walk(
          new PartPlanner({ fileSize: MAX_OBJECT_SIZE, initial, adaptive }),
          MAX_OBJECT_SIZE,
          failing,
        );
        expectLegalTail(parts, 0, MAX_OBJECT_SIZE, 1);
        expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
      }
    }
  });

  it("keeps the guarantee when a resumed tail starts at any offset and part number that can still hold it", () => {
    const resumedArb = fc
      .record({
        opts: optionsArb,
        n: fc.oneof(fc.integer({ min: 1, max: MAX_PARTS }), fc.constantFrom(MAX_PARTS - 1, MAX_PARTS)),
        offsetFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      })
      .map(({ opts, n, offsetFraction }) => {
        // What is left must fit in the numbers left at 5 GiB a part, or no plan can exist.
        const maxRemaining = (MAX_PARTS - n + 1) * MAX_PART_SIZE;
        const lowest = Math.max(0, opts.fileSize - maxRemaining);
        const offset = Math.min(
          opts.fileSize - 1,
          lowest + Math.floor(offsetFraction * (opts.fileSize - lowest)),
        );
        return { opts, n, offset };
      });
    fc.assert(
      fc.property(resumedArb, scheduleArb, ({ opts, n, offset }, schedule) => {
        const parts = walk(new PartPlanner(opts), opts.fileSize, schedule, offset, n);
        expectLegalTail(parts, offset, opts.fileSize, n);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses to plan past the end of the file or past part 10,000", () => {
    const planner = new PartPlanner({ fileSize: 10 * MiB, initial: 8 * MiB, adaptive: true });
    expect(() => planner.next(10 * MiB, 2)).toThrow(/no bytes left/);
    expect(() => planner.next(11 * MiB, 2)).toThrow(/no bytes left/);
    expect(() => planner.next(0, MAX_PARTS + 1)).toThrow(/past 10000/);
  });
});

describe("PartPlanner: adaptive sizing", () => {
  const make = (o: Partial<PlannerOptions> = {}) =>
    new PartPlanner({ fileSize: TiB, initial: 8 * MiB, adaptive: true, ...o });

  it("starts at the initial size, clamped to 5 MiB and to the ceiling", () => {
    expect(make().current).toBe(8 * MiB);
    expect(make({ initial: MiB }).current).toBe(MIN_PART_SIZE);
    expect(make({ initial: GiB }).current).toBe(DEFAULT_CEILING);
    expect(make({ initial: GiB, ceiling: 128 * MiB }).current).toBe(128 * MiB);
    expect(make({ ceiling: 10 * GiB }).ceiling).toBe(MAX_PART_SIZE);
    expect(make({ ceiling: MiB }).ceiling).toBe(MIN_PART_SIZE);
    expect(DEFAULT_CEILING).toBe(64 * MiB);
  });

  it("doubles after two fast parts in a row (under half the target time)", () => {
    const p = make({ targetSeconds: 4 });
    p.onSuccess(8 * MiB, 1);
    expect(p.current).toBe(8 * MiB);
    p.onSuccess(8 * MiB, 1.99);
    expect(p.current).toBe(16 * MiB);
    p.onSuccess(16 * MiB, 0.1);
    expect(p.current).toBe(16 * MiB);
    p.onSuccess(16 * MiB, 0.1);
    expect(p.current).toBe(32 * MiB);
  });

  it("needs the two fast parts in a row: an ordinary part or a failure in between resets the streak", () => {
    const p = make({ targetSeconds: 4 });
    p.onSuccess(8 * MiB, 1);
    p.onSuccess(8 * MiB, 2); // exactly half the target is not fast
    p.onSuccess(8 * MiB, 1);
    expect(p.current).toBe(8 * MiB);
    p.onFailure();
    expect(p.current).toBe(MIN_PART_SIZE);
    p.onSuccess(MIN_PART_SIZE, 1);
    expect(p.current).toBe(MIN_PART_SIZE);
    p.onSuccess(MIN_PART_SIZE, 1);
    expect(p.current).toBe(10 * MiB);
  });

  it("grows no further than the ceiling (64 MiB by default, or the one given)", () => {
    const p = make();
    for (let i = 0; i < 40; i++) p.onSuccess(p.current, 0.1);
    expect(p.current).toBe(64 * MiB);
    const q = make({ ceiling: 20 * MiB });
    for (let i = 0; i < 40; i++) q.onSuccess(q.current, 0.1);
    expect(q.current).toBe(20 * MiB);
  });

  it("halves on a failure and on a slow part (over twice the target), never below 5 MiB", () => {
    const p = make({ initial: 64 * MiB, targetSeconds: 4 });
    p.onFailure();
    expect(p.current).toBe(32 * MiB);
    p.onSuccess(32 * MiB, 8); // exactly twice the target is not slow
    expect(p.current).toBe(32 * MiB);
    p.onSuccess(32 * MiB, 8.01);
    expect(p.current).toBe(16 * MiB);
    p.onFailure();
    expect(p.current).toBe(8 * MiB);
    p.onFailure();
    expect(p.current).toBe(MIN_PART_SIZE);
    for (let i = 0; i < 5; i++) p.onFailure();
    expect(p.current).toBe(MIN_PART_SIZE);
  });

  it("takes no lesson from a part much smaller than the current size (a short last part)", () => {
    const p = make({ initial: 32 * MiB, targetSeconds: 4 });
    p.onSuccess(MiB, 0.01);
    p.onSuccess(MiB, 0.01);
    expect(p.current).toBe(32 * MiB);
    p.onSuccess(MiB, 100);
    expect(p.current).toBe(32 * MiB);
  });

  it("stays within [5 MiB, ceiling] under any feedback", () => {
    fc.assert(
      fc.property(optionsArb, fc.array(feedbackArb, { maxLength: 200 }), (opts, feedback) => {
        const p = new PartPlanner({ ...opts, adaptive: true });
        for (const f of feedback) {
          if (f.kind === "failure") p.onFailure();
          else p.onSuccess(f.bytes === "part" ? p.current : f.bytes, f.seconds);
          expect(p.current).toBeGreaterThanOrEqual(MIN_PART_SIZE);
          expect(p.current).toBeLessThanOrEqual(p.ceiling);
        }
      }),
    );
  });
});

describe("PartPlanner: fixed size (--no-adaptive)", () => {
  it("keeps the size whatever the feedback", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_PART_SIZE, max: MAX_PART_SIZE }),
        fc.array(feedbackArb, { maxLength: 50 }),
        (initial, feedback) => {
          const p = new PartPlanner({ fileSize: TiB, initial, adaptive: false });
          for (const f of feedback) {
            if (f.kind === "failure") p.onFailure();
            else p.onSuccess(f.bytes === "part" ? initial : f.bytes, f.seconds);
          }
          expect(p.current).toBe(initial);
        },
      ),
    );
  });

  it("clamps the size to 5 MiB–5 GiB but not to the growth ceiling", () => {
    expect(new PartPlanner({ fileSize: TiB, initial: MiB, adaptive: false }).current).toBe(MIN_PART_SIZE);
    expect(new PartPlanner({ fileSize: TiB, initial: GiB, adaptive: false }).current).toBe(GiB);
    expect(new PartPlanner({ fileSize: TiB, initial: 6 * GiB, adaptive: false }).current).toBe(MAX_PART_SIZE);
  });

  it("cuts equal parts and a short last one", () => {
    const parts = walk(new PartPlanner({ fileSize: 50 * MiB, initial: 16 * MiB, adaptive: false }), 50 * MiB);
    expect(parts.map((p) => p.size / MiB)).toEqual([16, 16, 18]);
    const even = walk(new PartPlanner({ fileSize: 48 * MiB, initial: 16 * MiB, adaptive: false }), 48 * MiB);
    expect(even.map((p) => p.size / MiB)).toEqual([16, 16, 16]);
    const rest = walk(new PartPlanner({ fileSize: 53 * MiB, initial: 16 * MiB, adaptive: false }), 53 * MiB);
    expect(rest.map((p) => p.size / MiB)).toEqual([16, 16, 16, 5]);
  });

  it("raises the size when 10,000 parts of it could not hold the file", () => {
    const fileSize = MAX_OBJECT_SIZE;
    const parts = walk(new PartPlanner({ fileSize, initial: MIN_PART_SIZE, adaptive: false }), fileSize);
    expectLegalTail(parts, 0, fileSize, 1);
    expect(parts[0]!.size).toBe(Math.ceil(fileSize / MAX_PARTS));
  });
});

describe("PartPlanner: the end of the file", () => {
  it("folds a remainder under 5 MiB into the previous part", () => {
    const p = new PartPlanner({ fileSize: 8 * MiB + 3 * MiB, initial: 8 * MiB, adaptive: true });
    expect(p.next(0, 1)).toEqual({ partNumber: 1, offset: 0, size: 11 * MiB });
    const q = new PartPlanner({ fileSize: 8 * MiB + MIN_PART_SIZE - 1, initial: 8 * MiB, adaptive: false });
    expect(walk(q, 8 * MiB + MIN_PART_SIZE - 1).map((x) => x.size)).toEqual([8 * MiB + MIN_PART_SIZE - 1]);
  });

  it("leaves a remainder of exactly 5 MiB as its own part", () => {
    const p = new PartPlanner({ fileSize: 8 * MiB + MIN_PART_SIZE, initial: 8 * MiB, adaptive: true });
    expect(walk(p, 8 * MiB + MIN_PART_SIZE).map((x) => x.size)).toEqual([8 * MiB, MIN_PART_SIZE]);
  });

  it("sends a file smaller than one part as a single part", () => {
    for (const fileSize of [1, MiB, MIN_PART_SIZE - 1, 8 * MiB]) {
      const p = new PartPlanner({ fileSize, initial: 8 * MiB, adaptive: true });
      expect(walk(p, fileSize)).toEqual([{ partNumber: 1, offset: 0, size: fileSize }]);
    }
  });

  it("does not fold when that would make a part over 5 GiB: the short remainder is the last part", () => {
    const fileSize = MAX_PART_SIZE + MiB;
    const p = new PartPlanner({ fileSize, initial: MAX_PART_SIZE, adaptive: false });
    expect(walk(p, fileSize).map((x) => x.size)).toEqual([MAX_PART_SIZE, MiB]);
  });
});

describe("splitGap", () => {
  it("splits an interior gap into parts near the target, numbered from firstPart", () => {
    const parts = splitGap({ offset: 16 * MiB, size: 32 * MiB, firstPart: 3, lastPart: 100 }, GiB, 8 * MiB);
    expect(parts).toEqual([
      { partNumber: 3, offset: 16 * MiB, size: 8 * MiB },
      { partNumber: 4, offset: 24 * MiB, size: 8 * MiB },
      { partNumber: 5, offset: 32 * MiB, size: 8 * MiB },
      { partNumber: 6, offset: 40 * MiB, size: 8 * MiB },
    ]);
  });

  it("uses fewer, larger parts when few numbers are free", () => {
    const parts = splitGap({ offset: 0, size: 100 * MiB, firstPart: 7, lastPart: 8 }, GiB, 8 * MiB);
    expect(parts.map((p) => [p.partNumber, p.size / MiB])).toEqual([
      [7, 50],
      [8, 50],
    ]);
  });

  it("never cuts an interior gap into parts under 5 MiB, whatever the target", () => {
    const parts = splitGap({ offset: 0, size: 12 * MiB, firstPart: 1, lastPart: 50 }, GiB, MiB);
    expect(parts.map((p) => p.size)).toEqual([6 * MiB, 6 * MiB]);
    const one = splitGap({ offset: 0, size: 9 * MiB, firstPart: 1, lastPart: 50 }, GiB, MiB);
    expect(one.map((p) => p.size)).toEqual([9 * MiB]);
  });

  it("keeps to the store's floor when it is not S3's 5 MiB", () => {
    const KiB = 1024;
    // 200 KiB over a 64 KiB floor and target: three near-equal parts, none under the floor.
    const parts = splitGap(
      { offset: 0, size: 200 * KiB, firstPart: 1, lastPart: 50 },
      MiB,
      64 * KiB,
      64 * KiB,
    );
    expect(parts.map((p) => p.size)).toEqual([68_267, 68_267, 68_266]);
    expect(() =>
      splitGap({ offset: 0, size: 32 * KiB, firstPart: 1, lastPart: 50 }, MiB, 64 * KiB, 64 * KiB),
    ).toThrow(/cannot be filled/);
  });

  it("may end a gap that ends the file with a small part", () => {
    const parts = splitGap({ offset: 0, size: 2 * MiB, firstPart: 1, lastPart: 10 }, 2 * MiB, 8 * MiB);
    expect(parts).toEqual([{ partNumber: 1, offset: 0, size: 2 * MiB }]);
    const tail = splitGap(
      { offset: 10 * MiB, size: 17 * MiB, firstPart: 3, lastPart: 10 },
      27 * MiB,
      8 * MiB,
    );
    expect(tail.map((p) => p.size / MiB)).toEqual([8.5, 8.5]);
  });

  it("splits a gap larger than 5 GiB even if the target is larger", () => {
    const parts = splitGap({ offset: 0, size: 12 * GiB, firstPart: 1, lastPart: 10 }, 20 * GiB, 10 * GiB);
    expect(parts.length).toBe(3);
    for (const p of parts) expect(p.size).toBeLessThanOrEqual(MAX_PART_SIZE);
  });

  it("refuses a gap with no free part numbers", () => {
    expect(() => splitGap({ offset: 0, size: 8 * MiB, firstPart: 5, lastPart: 4 }, GiB, 8 * MiB)).toThrow(
      /no part numbers are free/,
    );
  });

  // A valid interior gap: at least 5 MiB, and no more than its free numbers can carry. The band within
  // MAX_PARTS bytes of numbers × 5 GiB is left out: see the report (the last part can exceed 5 GiB there).
  const gapArb = (endsFile: boolean) =>
    fc
      .record({
        firstPart: fc.integer({ min: 1, max: MAX_PARTS }),
        numbersWanted: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: MAX_PARTS })),
        sizeFraction: fc.double({ min: 0, max: 1, noNaN: true }),
        offset: fc.integer({ min: 0, max: 10 * GiB }),
        after: fc.integer({ min: 1, max: 10 * GiB }),
        target: endsFile
          ? fc.integer({ min: 7 * MiB, max: 3 * GiB })
          : fc.oneof(
              fc.integer({ min: 1, max: 3 * GiB }),
              fc.constantFrom(MIN_PART_SIZE, 8 * MiB, DEFAULT_CEILING),
            ),
      })
      .map(({ firstPart, numbersWanted, sizeFraction, offset, after, target }) => {
        const lastPart = Math.min(MAX_PARTS, firstPart + numbersWanted - 1);
        const numbers = lastPart - firstPart + 1;
        const lo = endsFile ? 1 : MIN_PART_SIZE;
        const hi = Math.min(MAX_OBJECT_SIZE, numbers * (MAX_PART_SIZE - MAX_PARTS));
        const size = lo + Math.floor(sizeFraction * (hi - lo));
        const fileSize = offset + size + (endsFile ? 0 : after);
        return { gap: { offset, size, firstPart, lastPart }, fileSize, target };
      });

  /** The rules for a split gap: the first broken one, or undefined (plain checks: up to 10,000 parts). */
  function gapViolation(
    parts: readonly PlannedPart[],
    gap: { offset: number; size: number; firstPart: number; lastPart: number },
    endsFile: boolean,
  ): string | undefined {
    if (parts.length === 0) return "no parts";
    if (parts[0]!.partNumber !== gap.firstPart) return `first number ${parts[0]!.partNumber}`;
    let offset = gap.offset;
    let last = gap.firstPart - 1;
    for (const [i, p] of parts.entries()) {
      const at = `part ${i} ${JSON.stringify(p)}`;
      if (p.offset !== offset) return `${at}: expected offset ${offset}`;
      if (p.partNumber <= last) return `${at}: numbers not ascending`;
      if (!Number.isInteger(p.size) || p.size <= 0) return `${at}: size is not a positive integer`;
      if (p.size > MAX_PART_SIZE) return `${at}: over 5 GiB`;
      if (p.size < MIN_PART_SIZE && !(endsFile && i === parts.length - 1)) return `${at}: under 5 MiB`;
      offset += p.size;
      last = p.partNumber;
    }
    if (offset !== gap.offset + gap.size) return `parts end at ${offset}, not ${gap.offset + gap.size}`;
    if (last > gap.lastPart) return `last number ${last} is past ${gap.lastPart}`;
    return undefined;
  }

  it("tiles any valid interior gap with 5 MiB–5 GiB parts numbered within the free range", () => {
    fc.assert(
      fc.property(gapArb(false), ({ gap, fileSize, target }) => {
        expect(gapViolation(splitGap(gap, fileSize, target), gap, false)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("tiles any valid gap that ends the file, only its last part being allowed under 5 MiB", () => {
    fc.assert(
      fc.property(gapArb(true), ({ gap, fileSize, target }) => {
        const parts = splitGap(gap, fileSize, target);
        expect(gapViolation(parts, gap, true)).toBeUndefined();
        expect(parts.at(-1)!.offset + parts.at(-1)!.size).toBe(fileSize);
      }),
      { numRuns: 500 },
    );
  });
});

describe("PartPlanner: spread (the most parts the link may carry at once)", () => {
  const tile = (p: PartPlanner, size: number) => {
    const parts: PlannedPart[] = [];
    for (let offset = 0, n = 1; offset < size; n++) {
      const part = p.next(offset, n);
      parts.push(part);
      offset = part.offset + part.size;
    }
    return parts;
  };

  it("cuts a file into at least that many parts, the link model's 8 MiB suggestion notwithstanding", () => {
    const size = 64 * MiB;
    const p = new PartPlanner({
      fileSize: size,
      initial: 8 * MiB,
      adaptive: true,
      suggest: () => 8 * MiB,
      spread: 19,
    });
    const parts = tile(p, size);
    expect(parts.length).toBeGreaterThanOrEqual(12); // 5 MiB parts, the last folding the remainder in
    expect(parts.every((q) => q.size >= 5 * MiB)).toBe(true);
    const big = new PartPlanner({
      fileSize: 1024 * MiB,
      initial: 8 * MiB,
      adaptive: true,
      suggest: () => 64 * MiB,
      spread: 19,
    });
    expect(big.next(0, 1).size).toBe(53 * MiB); // 1 GiB ÷ 19, MiB-aligned
  });

  it("never goes below 5 MiB, and a fixed size (--no-adaptive) ignores it", () => {
    const small = new PartPlanner({ fileSize: 20 * MiB, initial: 8 * MiB, adaptive: true, spread: 32 });
    expect(small.next(0, 1).size).toBe(5 * MiB);
    const fixed = new PartPlanner({ fileSize: 64 * MiB, initial: 8 * MiB, adaptive: false, spread: 19 });
    expect(fixed.next(0, 1).size).toBe(8 * MiB);
  });
});
