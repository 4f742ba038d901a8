/** How the upload benchmarks judge sfts against its peers (bench/compare.ts). */
import { describe, expect, it } from "vitest";
import { capacityShare, compare, median, type ToolRuns, timeCell } from "../../bench/compare.js";

const runs = (tool: string, ok: number[], more: Partial<ToolRuns> = {}): ToolRuns => ({
  tool,
  peer: tool !== "sfts",
  ok,
  failed: 0,
  timedOut: 0,
  corrupt: 0,
  ...more,
});

describe("compare", () => {
  it("divides the fastest peer's median by sfts's: above 1 when sfts is faster", () => {
    const c = compare([runs("sfts", [10, 12, 11]), runs("aws-pypi", [14, 15, 13]), runs("rclone", [30])]);
    expect(c.sfts).toBe(11);
    expect(c.fastestPeer).toEqual({ tool: "aws-pypi", seconds: 14 });
    expect(c.ratio).toBeCloseTo(14 / 11);
  });

  it("leaves failed and timed-out runs out of the medians, and a peer that never finished out of the race", () => {
    const c = compare([
      runs("sfts", [20]),
      runs("rclone", [], { timedOut: 3 }),
      runs("aws-debian", [25], { failed: 2 }),
    ]);
    expect(c.fastestPeer).toEqual({ tool: "aws-debian", seconds: 25 });
    expect(c.peersWithoutTime).toEqual(["rclone"]);
  });

  it("never takes an informational row as the fastest peer", () => {
    const c = compare([
      runs("sfts", [5]),
      { ...runs("aws-pypi", [3]), peer: false },
      runs("aws-debian", [6]),
    ]);
    expect(c.fastestPeer?.tool).toBe("aws-debian");
  });

  it("has no ratio without a successful sfts run", () => {
    expect(compare([runs("sfts", [], { failed: 1 }), runs("aws-pypi", [3])]).ratio).toBeUndefined();
  });
});

describe("capacityShare", () => {
  it("is the file's bits over the link rate times the seconds the link was up", () => {
    // 100 MB at 8 Mbit/s takes 100 s when up; 110 s with 10 s dark is the whole link.
    expect(capacityShare({ bytes: 100e6, seconds: 110, darkSeconds: 10, rateBitsPerSec: 8e6 })).toBeCloseTo(
      1,
    );
    expect(capacityShare({ bytes: 50e6, seconds: 100, darkSeconds: 0, rateBitsPerSec: 8e6 })).toBeCloseTo(
      0.5,
    );
  });

  it("has no value on an unshaped link", () => {
    expect(
      capacityShare({ bytes: 1, seconds: 1, darkSeconds: 0, rateBitsPerSec: undefined }),
    ).toBeUndefined();
  });
});

describe("printing", () => {
  it("gives a median of an even count as the mean of the middle two", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it("says how many runs failed or timed out next to the time", () => {
    expect(timeCell(runs("aws-pypi", [11.7, 12.1], { failed: 1 }))).toBe("11.9 (1 of 3 failed)");
    expect(timeCell(runs("rclone", [], { timedOut: 2 }))).toBe("– (2 of 2 timed out)");
  });
});
