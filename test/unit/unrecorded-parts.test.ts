/** Which stored parts nobody recorded, and where each would sit (part-math's unrecordedParts). */
import { describe, expect, it } from "vitest";
import { MiB } from "../../functions/contract/limits.js";
import { unrecordedParts } from "../../functions/core/part-math.js";

const P = 8 * MiB;
const rec = (n: number, size = P) => ({ partNumber: n, offset: (n - 1) * P, size });
const stored = (n: number, size = P, sha256: string | undefined = `${n}`.repeat(64).slice(0, 64)) => ({
  partNumber: n,
  size,
  etag: `etag-${n}`,
  sha256,
});

describe("unrecordedParts", () => {
  it("places a stored part after the recorded one numbered just before it", () => {
    const file = 4 * P;
    const r = unrecordedParts(file, [rec(1), rec(2)], [stored(1), stored(2), stored(3)]);
    expect(r).toEqual([{ partNumber: 3, offset: 2 * P, size: P, sha256: stored(3).sha256, etag: "etag-3" }]);
  });

  it("chains unrecorded parts one after the other, and part 1 starts at 0", () => {
    const file = 3 * P + 100;
    const r = unrecordedParts(file, [], [stored(1), stored(2), stored(3), stored(4, 100)]);
    expect(r.map((p) => [p.partNumber, p.offset, p.size])).toEqual([
      [1, 0, P],
      [2, P, P],
      [3, 2 * P, P],
      [4, 3 * P, 100],
    ]);
  });

  it("leaves out parts whose offset cannot be known, or that storage keeps no SHA-256 for", () => {
    const file = 6 * P;
    // Part 3 has no part 2 before it; part 5 follows part 4, which storage holds without a checksum.
    const r = unrecordedParts(file, [rec(1)], [stored(1), stored(3), stored(4, P, undefined), stored(5)]);
    expect(r).toEqual([]);
  });

  it("leaves out a part that would run past the end or overlap a recorded part above it", () => {
    expect(unrecordedParts(2 * P, [rec(1)], [stored(1), stored(2, P + 1)])).toEqual([]);
    // Recorded part 3 starts at 2P; an unrecorded part 2 of 1.5 P after part 1 would overlap it.
    expect(unrecordedParts(4 * P, [rec(1), rec(3)], [stored(1), stored(2, P + P / 2), stored(3)])).toEqual(
      [],
    );
  });

  it("ignores stored parts that are recorded", () => {
    expect(unrecordedParts(2 * P, [rec(1), rec(2)], [stored(1), stored(2)])).toEqual([]);
  });
});
