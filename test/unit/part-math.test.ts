import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PART_SIZE,
  GiB,
  MAX_OBJECT_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MIN_PART_SIZE,
  MiB,
  TiB,
} from "../../functions/contract/limits.js";
import { minPartSizeFor, partSizeFor } from "../../functions/contract/part-rules.js";
import { AppError } from "../../functions/core/errors.js";
import {
  assemblyReady,
  checkAssembly,
  checkNeighbours,
  checkPart,
  describeGaps,
  type Gap,
  missingRanges,
  type PartRange,
} from "../../functions/core/part-math.js";

/** Runs fn and returns the AppError it throws; fails the test if it throws nothing or something else. */
function appErrorOf(fn: () => void): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error("expected an AppError, but nothing was thrown");
}

function expectInvalidPart(fn: () => void, messagePart: RegExp): AppError {
  const err = appErrorOf(fn);
  expect(err.code).toBe("INVALID_PART");
  expect(err.status).toBe(400);
  expect(err.message).toMatch(messagePart);
  return err;
}

/** Consecutive parts 1..k of the given sizes, laid end to end from byte 0. */
function layout(sizes: readonly number[]): PartRange[] {
  let offset = 0;
  return sizes.map((size, i) => {
    const part = { partNumber: i + 1, offset, size };
    offset += size;
    return part;
  });
}

const part = (partNumber: number, offset: number, size: number): PartRange => ({ partNumber, offset, size });

describe("limits", () => {
  it("names the S3 multipart limits", () => {
    expect(MIN_PART_SIZE).toBe(5_242_880);
    expect(MAX_PART_SIZE).toBe(5_368_709_120);
    expect(MAX_PARTS).toBe(10_000);
    expect(MAX_OBJECT_SIZE).toBe(5_497_558_138_880);
    expect(DEFAULT_PART_SIZE).toBe(8 * MiB);
  });
});

describe("minPartSizeFor", () => {
  it("is 5 MiB for an empty file", () => {
    expect(minPartSizeFor(0)).toBe(MIN_PART_SIZE);
  });

  it("is 5 MiB for a one-byte file", () => {
    expect(minPartSizeFor(1)).toBe(MIN_PART_SIZE);
  });

  it("is 5 MiB when exactly 10,000 parts of 5 MiB fill the file", () => {
    expect(minPartSizeFor(MAX_PARTS * MIN_PART_SIZE)).toBe(MIN_PART_SIZE);
  });

  it("rises to the next whole MiB one byte past 10,000 × 5 MiB", () => {
    const size = MAX_PARTS * MIN_PART_SIZE + 1;
    expect(minPartSizeFor(size)).toBe(6 * MiB);
    expect(MAX_PARTS * MIN_PART_SIZE).toBeLessThan(size);
  });

  it("is 525 MiB for a 5 TiB file: within 5 GiB, and 10,000 parts cover the file", () => {
    const p = minPartSizeFor(MAX_OBJECT_SIZE);
    expect(p).toBe(525 * MiB);
    expect(p).toBeLessThanOrEqual(MAX_PART_SIZE);
    expect(p * MAX_PARTS).toBeGreaterThanOrEqual(MAX_OBJECT_SIZE);
  });

  it("never exceeds 5 GiB, is a whole MiB, and 10,000 parts always cover any size up to 5 TiB", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: BigInt(MAX_OBJECT_SIZE) }).map(Number), (size) => {
        const p = minPartSizeFor(size);
        expect(p).toBeGreaterThanOrEqual(MIN_PART_SIZE);
        expect(p).toBeLessThanOrEqual(MAX_PART_SIZE);
        expect(p % MiB).toBe(0);
        expect(p * MAX_PARTS).toBeGreaterThanOrEqual(size);
        // Smallest such whole-MiB size: one MiB less would not fit (unless already at the 5 MiB floor).
        if (p > MIN_PART_SIZE) expect((p - MiB) * MAX_PARTS).toBeLessThan(size);
      }),
    );
  });
});

describe("partSizeFor", () => {
  it("is 8 MiB for a small file without a hint", () => {
    expect(partSizeFor(100 * MiB)).toBe(8 * MiB);
    expect(partSizeFor(0)).toBe(8 * MiB);
  });

  it("without a hint, rises to the floor for a 5 TiB file", () => {
    expect(partSizeFor(MAX_OBJECT_SIZE)).toBe(525 * MiB);
  });

  it("honours a hint above the floor", () => {
    expect(partSizeFor(100 * MiB, 16 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(MAX_OBJECT_SIZE, 1 * GiB)).toBe(1 * GiB);
  });

  it("raises a hint below the 5 MiB floor", () => {
    expect(partSizeFor(100 * MiB, 1)).toBe(MIN_PART_SIZE);
    expect(partSizeFor(100 * MiB, MIN_PART_SIZE - 1)).toBe(MIN_PART_SIZE);
  });

  it("raises a hint below the file's own floor", () => {
    expect(partSizeFor(1 * TiB, 8 * MiB)).toBe(minPartSizeFor(1 * TiB));
    expect(minPartSizeFor(1 * TiB)).toBe(105 * MiB);
  });

  it("caps a hint above 5 GiB", () => {
    expect(partSizeFor(100 * MiB, MAX_PART_SIZE + 1)).toBe(MAX_PART_SIZE);
    expect(partSizeFor(100 * MiB, 10 * GiB)).toBe(MAX_PART_SIZE);
  });

  it("is always within [floor, 5 GiB] and lets 10,000 parts cover the file", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: BigInt(MAX_OBJECT_SIZE) }).map(Number),
        fc.option(fc.bigInt({ min: 1n, max: BigInt(2 * MAX_PART_SIZE) }).map(Number), { nil: undefined }),
        (size, hint) => {
          const p = partSizeFor(size, hint);
          expect(p).toBeLessThanOrEqual(MAX_PART_SIZE);
          expect(p).toBeGreaterThanOrEqual(minPartSizeFor(size));
          expect(p * MAX_PARTS).toBeGreaterThanOrEqual(size);
          if (hint !== undefined && hint >= minPartSizeFor(size) && hint <= MAX_PART_SIZE)
            expect(p).toBe(hint);
        },
      ),
    );
  });
});

describe("checkPart", () => {
  const size = 20 * MiB;

  it("accepts a full-size first part", () => {
    expect(() => checkPart(size, part(1, 0, MIN_PART_SIZE))).not.toThrow();
  });

  it("accepts a small last part", () => {
    expect(() => checkPart(size, part(4, 15 * MiB, 5 * MiB))).not.toThrow();
    expect(() => checkPart(size + 1, part(5, 20 * MiB, 1))).not.toThrow();
  });

  it("accepts a single small part that is the whole file", () => {
    expect(() => checkPart(100, part(1, 0, 100))).not.toThrow();
  });

  it("rejects a non-last part of 5 MiB − 1, naming the part", () => {
    const err = expectInvalidPart(
      () => checkPart(size, part(1, 0, MIN_PART_SIZE - 1)),
      /at least 5 MiB \(5242880 bytes\)/,
    );
    expect(err.message).toMatch(/^Part 1 is 5242879 bytes;/);
  });

  it("rejects a small first part of a small file when it is not the whole file", () => {
    expectInvalidPart(() => checkPart(100, part(1, 0, 50)), /^Part 1 is 50 bytes/);
  });

  it("rejects part 1 that does not start at byte 0", () => {
    const err = expectInvalidPart(() => checkPart(size, part(1, 1, MIN_PART_SIZE)), /Part 1 must start/);
    expect(err.message).toMatch(/^Part 1 must start at byte 0\b/);
  });

  it("rejects a part that ends beyond the file", () => {
    const err = expectInvalidPart(() => checkPart(size, part(4, 15 * MiB, 5 * MiB + 1)), /beyond/);
    expect(err.message).toMatch(
      new RegExp(`^Part 4 ends at byte ${20 * MiB + 1}, beyond the file's size of ${size}`),
    );
  });

  it("rejects a part that starts beyond the file", () => {
    expectInvalidPart(() => checkPart(size, part(5, size + 1, 1)), /^Part 5 ends at byte/);
  });

  it("rejects a part above 5 GiB", () => {
    const big = 20 * GiB;
    expectInvalidPart(
      () => checkPart(big, part(1, 0, MAX_PART_SIZE + 1)),
      /^Part 1 is 5368709121 bytes; a part may be at most 5 GiB\.$/,
    );
  });

  it("accepts a part of exactly 5 GiB", () => {
    expect(() => checkPart(20 * GiB, part(1, 0, MAX_PART_SIZE))).not.toThrow();
  });

  it("rejects an empty part of a non-empty file", () => {
    const err = expectInvalidPart(() => checkPart(size, part(2, size, 0)), /empty/);
    expect(err.message).toMatch(/^Part 2 is empty\b/);
  });

  it("accepts the single empty part of a 0-byte file, and nothing else", () => {
    expect(() => checkPart(0, part(1, 0, 0))).not.toThrow();
    expectInvalidPart(() => checkPart(0, part(1, 0, 1)), /beyond the file's size of 0 bytes/);
  });

  it("rejects a part whose preceding bytes no part of at least 5 MiB could cover", () => {
    expectInvalidPart(
      () => checkPart(size, part(3, 5 * MiB - 1, 5 * MiB)),
      /^Part 3 starts at byte 5242879; the bytes before it need at least one part of 5 MiB\.$/,
    );
    expectInvalidPart(() => checkPart(size, part(2, 1, 5 * MiB)), /^Part 2 starts at byte 1;/);
  });

  it("allows skipped part numbers: part 3 right after a 5 MiB part 1, or a later number starting at 0", () => {
    expect(() => checkPart(size, part(3, 5 * MiB, 5 * MiB))).not.toThrow();
    expect(() => checkPart(size, part(7, 0, 5 * MiB))).not.toThrow();
    expect(() => checkNeighbours(part(3, 5 * MiB, 5 * MiB), [part(1, 0, 5 * MiB)])).not.toThrow();
    expect(() => checkNeighbours(part(1, 0, 5 * MiB), [part(4, 5 * MiB, 5 * MiB)])).not.toThrow();
  });

  it("rejects a part that starts after its earlier parts could reach", () => {
    const fileSize = 20 * GiB;
    expectInvalidPart(
      () => checkPart(fileSize, part(2, MAX_PART_SIZE + 1, MIN_PART_SIZE)),
      /^Part 2 starts too late/,
    );
    expect(() => checkPart(fileSize, part(2, MAX_PART_SIZE, MIN_PART_SIZE))).not.toThrow();
  });

  it("rejects a part after which the rest cannot fit in the part numbers left", () => {
    // Part 10,000 is the last number: it must reach the end of the file.
    expectInvalidPart(
      () => checkPart(MAX_OBJECT_SIZE, part(MAX_PARTS, MAX_OBJECT_SIZE - 2 * MiB, MiB)),
      /^Part 10000 is 1048576 bytes/,
    );
    expectInvalidPart(
      () => checkPart(MAX_OBJECT_SIZE, part(MAX_PARTS, MAX_OBJECT_SIZE - 2 * MIN_PART_SIZE, MIN_PART_SIZE)),
      /^After part 10000 the remaining 5242880 bytes cannot fit in the 0 part numbers left\.$/,
    );
    // After 9,000 parts of 5 MiB, more than 1,000 × 5 GiB of a 5 TiB file would remain.
    const offset = 8999 * MIN_PART_SIZE;
    const rest = MAX_OBJECT_SIZE - offset - MIN_PART_SIZE;
    expect(rest).toBeGreaterThan(1000 * MAX_PART_SIZE);
    expectInvalidPart(
      () => checkPart(MAX_OBJECT_SIZE, part(9000, offset, MIN_PART_SIZE)),
      new RegExp(`^After part 9000 the remaining ${rest} bytes cannot fit in the 1000 part numbers left\\.$`),
    );
    // Part 9,999 of 5 MiB leaves room for one 5 GiB part, and not a byte more.
    const p9999 = part(9999, 9998 * MIN_PART_SIZE, MIN_PART_SIZE);
    const fits = p9999.offset + p9999.size + MAX_PART_SIZE;
    expect(() => checkPart(fits, p9999)).not.toThrow();
    expectInvalidPart(
      () => checkPart(fits + 1, p9999),
      /^After part 9999 the remaining 5368709121 bytes cannot fit in the 1 part numbers left\.$/,
    );
  });

  it("accepts the last part number ending exactly at the file's end", () => {
    expect(() =>
      checkPart(MAX_OBJECT_SIZE, part(MAX_PARTS, MAX_OBJECT_SIZE - MIN_PART_SIZE, MIN_PART_SIZE)),
    ).not.toThrow();
  });
});

describe("checkNeighbours", () => {
  const recorded = [part(1, 0, 5 * MiB), part(3, 12 * MiB, 5 * MiB)];
  /** The message names the new part first, then the recorded part it collides with. */
  const names = (n: number, other: number) => new RegExp(`^Part ${n}\\b.*\\bpart ${other}\\b`);

  it("accepts a part that fits between its neighbours", () => {
    expect(() => checkNeighbours(part(2, 5 * MiB, 7 * MiB), recorded)).not.toThrow();
  });

  it("accepts a part with no recorded neighbours", () => {
    expect(() => checkNeighbours(part(2, 5 * MiB, 7 * MiB), [])).not.toThrow();
  });

  it("ignores a recorded part with the same number (a replacement)", () => {
    expect(() => checkNeighbours(part(1, 0, 6 * MiB), [part(1, 0, 5 * MiB)])).not.toThrow();
  });

  it("rejects a part overlapping a lower-numbered part by one byte", () => {
    expectInvalidPart(() => checkNeighbours(part(2, 5 * MiB - 1, 7 * MiB), recorded), names(2, 1));
  });

  it("rejects a part overlapping a higher-numbered part by one byte", () => {
    expectInvalidPart(() => checkNeighbours(part(2, 5 * MiB, 7 * MiB + 1), recorded), names(2, 3));
  });

  it("rejects a lower-numbered part placed after a higher-numbered one, and the reverse", () => {
    expectInvalidPart(
      () => checkNeighbours(part(4, 30 * MiB, 5 * MiB), [part(5, 10 * MiB, 5 * MiB)]),
      names(4, 5),
    );
    expectInvalidPart(() => checkNeighbours(part(2, 0, 5 * MiB), [part(1, 5 * MiB, 5 * MiB)]), names(2, 1));
  });

  it("rejects a part that contains a whole recorded part", () => {
    expectInvalidPart(() => checkNeighbours(part(2, 5 * MiB, 20 * MiB), recorded), names(2, 3));
  });

  it("rejects a hole between consecutive part numbers", () => {
    expectInvalidPart(
      () => checkNeighbours(part(2, 6 * MiB, 5 * MiB), [part(1, 0, 5 * MiB)]),
      /1048576 bytes between part 1 .* and part 2 .* cannot be filled by 0 part number/,
    );
  });

  it("rejects a hole too small for the part numbers left between (each needs 5 MiB)", () => {
    expectInvalidPart(
      () => checkNeighbours(part(3, 12 * MiB, 8 * MiB), [part(1, 0, 10 * MiB)]),
      /2097152 bytes between part 1 .* and part 3 .* cannot be filled by 1 part number/,
    );
  });

  it("accepts a hole that the part numbers between can fill exactly", () => {
    expect(() => checkNeighbours(part(4, 20 * MiB, 5 * MiB), [part(1, 0, 10 * MiB)])).not.toThrow();
  });

  it("keeps every gap fillable: missingRanges never offers an empty range of part numbers", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 2, max: 60 }),
        fc.integer({ min: 0, max: 8 }),
        (aMiB, gapMiB, skip) => {
          const a = part(1, 0, aMiB * MiB);
          const b = part(2 + skip, (aMiB + gapMiB) * MiB, 5 * MiB);
          let accepted = true;
          try {
            checkNeighbours(b, [a]);
          } catch {
            accepted = false;
          }
          if (accepted)
            for (const g of missingRanges(b.offset + b.size + MIN_PART_SIZE, [a, b]))
              expect(g.firstPart).toBeLessThanOrEqual(g.lastPart);
        },
      ),
    );
  });
});

describe("missingRanges", () => {
  const size = 3 * MIN_PART_SIZE - 100;
  const full = layout([MIN_PART_SIZE, MIN_PART_SIZE, MIN_PART_SIZE - 100]);
  const [p1, p2, p3] = full as [PartRange, PartRange, PartRange];

  it("parts 1 and 3 of 3 leave exactly part 2's bytes, for part 2 alone", () => {
    expect(missingRanges(size, [p1, p3])).toEqual([
      { offset: p2.offset, size: p2.size, firstPart: 2, lastPart: 2 },
    ]);
  });

  it("does not depend on the order parts are given in", () => {
    expect(missingRanges(size, [p3, p1])).toEqual(missingRanges(size, [p1, p3]));
  });

  it("no parts leave the whole file, for parts 1..10,000", () => {
    expect(missingRanges(size, [])).toEqual([{ offset: 0, size, firstPart: 1, lastPart: MAX_PARTS }]);
  });

  it("leaves a tail gap from the last recorded part to the end, for the numbers after it", () => {
    expect(missingRanges(size, [p1])).toEqual([
      { offset: MIN_PART_SIZE, size: size - MIN_PART_SIZE, firstPart: 2, lastPart: MAX_PARTS },
    ]);
  });

  it("leaves a head gap before the first recorded part", () => {
    expect(missingRanges(size, [p2, p3])).toEqual([
      { offset: 0, size: MIN_PART_SIZE, firstPart: 1, lastPart: 1 },
    ]);
  });

  it("leaves head and tail gaps around a middle part", () => {
    expect(missingRanges(size, [p2])).toEqual([
      { offset: 0, size: MIN_PART_SIZE, firstPart: 1, lastPart: 1 },
      { offset: 2 * MIN_PART_SIZE, size: MIN_PART_SIZE - 100, firstPart: 3, lastPart: MAX_PARTS },
    ]);
  });

  it("is empty when the parts cover the file", () => {
    expect(missingRanges(size, full)).toEqual([]);
  });

  it("is empty for a 0-byte file", () => {
    expect(missingRanges(0, [])).toEqual([]);
    expect(missingRanges(0, [part(1, 0, 0)])).toEqual([]);
  });

  it("offers every skipped number for an interior gap", () => {
    const gaps = missingRanges(40 * MiB, [part(1, 0, 5 * MiB), part(5, 30 * MiB, 10 * MiB)]);
    expect(gaps).toEqual([{ offset: 5 * MiB, size: 25 * MiB, firstPart: 2, lastPart: 4 }]);
  });
});

describe("checkAssembly and assemblyReady", () => {
  it("a complete, valid layout is ready", () => {
    const parts = layout([MIN_PART_SIZE, 7 * MiB, 1]);
    const c = checkAssembly(12 * MiB + 1, parts);
    expect(c).toEqual({ missing: [], overlapping: [], undersized: [] });
    expect(assemblyReady(c)).toBe(true);
  });

  it("a single part covering a small file is ready", () => {
    const c = checkAssembly(10, [part(1, 0, 10)]);
    expect(assemblyReady(c)).toBe(true);
  });

  it("reports gaps", () => {
    const c = checkAssembly(15 * MiB, [part(1, 0, 5 * MiB), part(3, 10 * MiB, 5 * MiB)]);
    expect(c.missing).toEqual([{ offset: 5 * MiB, size: 5 * MiB, firstPart: 2, lastPart: 2 }]);
    expect(c.overlapping).toEqual([]);
    expect(c.undersized).toEqual([]);
    expect(assemblyReady(c)).toBe(false);
  });

  it("reports a missing tail", () => {
    const c = checkAssembly(15 * MiB, [part(1, 0, 5 * MiB), part(2, 5 * MiB, 5 * MiB)]);
    expect(c.missing).toEqual([{ offset: 10 * MiB, size: 5 * MiB, firstPart: 3, lastPart: MAX_PARTS }]);
    expect(assemblyReady(c)).toBe(false);
  });

  it("reports overlapping parts by the later number", () => {
    const c = checkAssembly(15 * MiB, [part(2, 5 * MiB - 1, 10 * MiB + 1), part(1, 0, 5 * MiB)]);
    expect(c.overlapping).toEqual([2]);
    expect(c.missing).toEqual([]);
    expect(c.undersized).toEqual([]);
    expect(assemblyReady(c)).toBe(false);
  });

  it("reports undersized parts before the last, not the last one", () => {
    const c = checkAssembly(5 * MiB + 1, [part(1, 0, 4 * MiB), part(2, 4 * MiB, MiB), part(3, 5 * MiB, 1)]);
    expect(c.undersized).toEqual([1, 2]);
    expect(c.missing).toEqual([]);
    expect(c.overlapping).toEqual([]);
    expect(assemblyReady(c)).toBe(false);
  });

  it("an empty set of parts for a non-empty file is missing everything", () => {
    const c = checkAssembly(1, []);
    expect(c.missing).toEqual([{ offset: 0, size: 1, firstPart: 1, lastPart: MAX_PARTS }]);
    expect(assemblyReady(c)).toBe(false);
  });

  it("assemblyReady is false if any one list is non-empty", () => {
    const gap: Gap = { offset: 0, size: 1, firstPart: 1, lastPart: 1 };
    expect(assemblyReady({ missing: [gap], overlapping: [], undersized: [] })).toBe(false);
    expect(assemblyReady({ missing: [], overlapping: [2], undersized: [] })).toBe(false);
    expect(assemblyReady({ missing: [], overlapping: [], undersized: [1] })).toBe(false);
    expect(assemblyReady({ missing: [], overlapping: [], undersized: [] })).toBe(true);
  });
});

describe("describeGaps", () => {
  it("describes a single-part gap with inclusive byte bounds", () => {
    expect(describeGaps([{ offset: 6_291_456, size: 5_242_880, firstPart: 2, lastPart: 2 }])).toBe(
      "part 2 (bytes 6291456–11534335)",
    );
  });

  it("describes a multi-part gap and a tail gap, comma-separated", () => {
    expect(
      describeGaps([
        { offset: 0, size: 10, firstPart: 1, lastPart: 3 },
        { offset: 100, size: 1, firstPart: 7, lastPart: MAX_PARTS },
      ]),
    ).toBe("parts 1–3 (bytes 0–9), part 7 onward (bytes 100–100)");
  });

  it("describes a gap for part 10,000 alone as a single part", () => {
    expect(describeGaps([{ offset: 5, size: 5, firstPart: MAX_PARTS, lastPart: MAX_PARTS }])).toBe(
      "part 10000 (bytes 5–9)",
    );
  });

  it("is empty for no gaps", () => {
    expect(describeGaps([])).toBe("");
  });

  it("describes what missingRanges reports", () => {
    const gaps = missingRanges(15 * MiB, [part(2, 5 * MiB, 5 * MiB)]);
    expect(describeGaps(gaps)).toBe("part 1 (bytes 0–5242879), part 3 onward (bytes 10485760–15728639)");
  });
});

// ---- properties

/**
 * A file size and a valid layout for it: parts 1..k end to end, every part but the last in [5 MiB, 5 GiB],
 * the last in [1, 5 GiB] (or one empty part for a 0-byte file), k ≤ 10,000. Each non-last size is drawn in
 * [lo, hi] where lo keeps the rest coverable by the part numbers left.
 */
const fileSizeArb = fc.oneof(
  fc.constantFrom(
    0,
    1,
    MIN_PART_SIZE - 1,
    MIN_PART_SIZE,
    MIN_PART_SIZE + 1,
    2 * MIN_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PART_SIZE + 1,
    MAX_PARTS * MIN_PART_SIZE,
    MAX_PARTS * MIN_PART_SIZE + 1,
    MAX_OBJECT_SIZE,
  ),
  fc.integer({ min: 0, max: 200 * MiB }),
  fc.bigInt({ min: 0n, max: BigInt(MAX_OBJECT_SIZE) }).map(Number),
);

const layoutArb = fc
  .record({
    size: fileSizeArb,
    // Upper bound on the part sizes drawn for this file (log-uniform between 5 MiB and 5 GiB).
    scaleExp: fc.double({ min: Math.log2(MIN_PART_SIZE), max: Math.log2(MAX_PART_SIZE), noNaN: true }),
    // Fractions in [0, 1] (as millionths) that place each part size in its allowed range; cycled.
    picks: fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 32 }),
  })
  .map(({ size, scaleExp, picks }) => {
    const scale = Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, Math.floor(2 ** scaleExp)));
    if (size === 0) return { size, parts: [part(1, 0, 0)] };
    const parts: PartRange[] = [];
    let offset = 0;
    for (let n = 1; offset < size; n++) {
      const remaining = size - offset;
      const lo = Math.max(MIN_PART_SIZE, remaining - (MAX_PARTS - n) * MAX_PART_SIZE);
      const hi = Math.min(MAX_PART_SIZE, remaining, Math.max(lo, scale));
      let s: number;
      if (remaining <= MIN_PART_SIZE || lo >= remaining) s = remaining;
      else {
        const f = (picks[(n - 1) % picks.length] as number) / 1_000_000;
        s = Math.min(hi, lo + Math.floor(f * (hi - lo + 1)));
      }
      parts.push(part(n, offset, s));
      offset += s;
    }
    return { size, parts };
  });

/** A layout and a subset of its parts to keep. */
const layoutWithSubsetArb = layoutArb.chain(({ size, parts }) =>
  fc
    .array(fc.boolean(), { minLength: parts.length, maxLength: parts.length })
    .map((keep) => ({ size, parts, keep })),
);

/** The first way a layout breaks the S3 rules, or null (plain loops: layouts reach 10,000 parts). */
function layoutProblem(size: number, parts: readonly PartRange[]): string | null {
  if (parts.length < 1 || parts.length > MAX_PARTS) return `${parts.length} parts`;
  let offset = 0;
  for (const [i, p] of parts.entries()) {
    if (p.partNumber !== i + 1) return `part at index ${i} is numbered ${p.partNumber}`;
    if (p.offset !== offset) return `part ${p.partNumber} starts at ${p.offset}, not ${offset}`;
    if (p.size > MAX_PART_SIZE) return `part ${p.partNumber} is above 5 GiB`;
    if (i < parts.length - 1 && p.size < MIN_PART_SIZE) return `part ${p.partNumber} is below 5 MiB`;
    offset += p.size;
  }
  return offset === size ? null : `parts cover ${offset} of ${size} bytes`;
}

/** Runs fn on every item; returns "<label>: <error message>" for the first that throws, or null. */
function firstThrow<T>(items: readonly T[], label: (t: T) => string, fn: (t: T) => void): string | null {
  for (const item of items) {
    try {
      fn(item);
    } catch (err) {
      return `${label(item)}: ${(err as Error).message}`;
    }
  }
  return null;
}

describe("part math properties", () => {
  it("generated layouts obey the S3 rules (generator sanity)", () => {
    fc.assert(
      fc.property(layoutArb, ({ size, parts }) => {
        expect(layoutProblem(size, parts)).toBeNull();
      }),
    );
  });

  it("(a) every part of a valid layout passes checkPart and checkNeighbours", () => {
    fc.assert(
      fc.property(layoutArb, ({ size, parts }) => {
        expect(
          firstThrow(
            parts,
            (p) => `part ${p.partNumber}`,
            (p) => checkPart(size, p),
          ),
        ).toBeNull();
        // Against its neighbours and the two ends (all others would be quadratic on 10,000 parts).
        expect(
          firstThrow(
            parts,
            (p) => `part ${p.partNumber}`,
            (p) => {
              const i = p.partNumber - 1;
              const around = [parts[0], parts[i - 1], parts[i + 1], parts[parts.length - 1]].filter(
                (q): q is PartRange => q !== undefined && q.partNumber !== p.partNumber,
              );
              checkNeighbours(p, around);
              if (parts.length <= 100) checkNeighbours(p, parts);
            },
          ),
        ).toBeNull();
      }),
    );
  });

  it("(b) missingRanges of a subset, plus the subset, tile the file; gaps name the parts left out", () => {
    fc.assert(
      fc.property(layoutWithSubsetArb, ({ size, parts, keep }) => {
        const kept = parts.filter((_, i) => keep[i]);
        const left = parts.filter((_, i) => !keep[i]);
        const gaps = missingRanges(size, kept);
        const problems: string[] = [];

        // Exact tiling of [0, size) by the kept parts and the gaps: no overlap, no hole, no empty gap.
        const pieces = [
          ...kept.filter((p) => p.size > 0).map((p) => ({ what: `part ${p.partNumber}`, ...p })),
          ...gaps.map((g) => ({ what: `gap at ${g.offset}`, ...g })),
        ].sort((a, b) => a.offset - b.offset);
        let cursor = 0;
        for (const piece of pieces) {
          if (piece.size <= 0) problems.push(`${piece.what} is empty`);
          if (piece.offset !== cursor)
            problems.push(`${piece.what} starts at ${piece.offset}, not ${cursor}`);
          cursor = piece.offset + piece.size;
        }
        if (cursor !== size) problems.push(`tiling ends at ${cursor}, not ${size}`);

        // Each gap is exactly the run of consecutive parts left out there, and offers exactly their numbers
        // (a tail gap offers every number from its first part up to 10,000).
        let j = 0;
        for (const g of gaps) {
          const run: PartRange[] = [];
          while (j < left.length && (left[j] as PartRange).offset < g.offset + g.size) {
            run.push(left[j] as PartRange);
            j++;
          }
          const first = run[0]?.partNumber;
          const last = run[run.length - 1]?.partNumber;
          const bytes = run.reduce((sum, p) => sum + p.size, 0);
          const isTail = g.offset + g.size === size;
          if (run[0]?.offset !== g.offset || bytes !== g.size)
            problems.push(`gap ${JSON.stringify(g)} is not the run of parts ${first}..${last}`);
          if (first !== g.firstPart) problems.push(`gap ${JSON.stringify(g)} should start at part ${first}`);
          if (last !== undefined && first !== undefined && last - first + 1 !== run.length)
            problems.push(`left-out parts ${first}..${last} are not consecutive`);
          const expectedLast = isTail ? MAX_PARTS : last;
          if (g.lastPart !== expectedLast)
            problems.push(`gap ${JSON.stringify(g)} should end at part ${expectedLast}`);
        }
        // Empty left-out parts (only in a 0-byte file) sit in no gap.
        if (left.slice(j).some((p) => p.size > 0)) problems.push("a left-out part is in no gap");

        expect(problems).toEqual([]);
      }),
    );
  });

  it("(c) checkAssembly of the full layout is ready, and of a strict subset is not", () => {
    fc.assert(
      fc.property(layoutWithSubsetArb, ({ size, parts, keep }) => {
        const full = checkAssembly(size, parts);
        expect(full).toEqual({ missing: [], overlapping: [], undersized: [] });
        expect(assemblyReady(full)).toBe(true);
        // The order parts are given in makes no difference.
        expect(assemblyReady(checkAssembly(size, [...parts].reverse()))).toBe(true);

        const kept = parts.filter((_, i) => keep[i]);
        const droppedBytes = parts.some((p, i) => !keep[i] && p.size > 0);
        if (droppedBytes) expect(assemblyReady(checkAssembly(size, kept))).toBe(false);
      }),
    );
  });
});
