import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../cli/engine/duration.js";
import { UnitError } from "../../cli/engine/units.js";
import { MAX_SHARE_EXPIRES_SECONDS } from "../../functions/contract/limits.js";

describe("parseDuration", () => {
  it.each([
    ["1", 1],
    ["3600", 3600],
    ["90s", 90],
    ["30m", 1800],
    ["24h", 86_400],
    ["7d", 604_800],
    ["30d", MAX_SHARE_EXPIRES_SECONDS],
    ["1s", 1],
    ["1.5h", 5400],
    ["0.5m", 30],
    ["24H", 86_400],
    [" 7d ", 604_800],
    ["10 m", 600],
  ])("%s → %d seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    "",
    "3x",
    "h",
    "-5s",
    "1h30m",
    "1e3",
    "1w",
    "24 hours",
    ".5h",
    "0",
    "0s",
    "0.1s",
    "1e400",
    "99999999999999999999d",
  ])("refuses %j with a UnitError", (text) => {
    expect(() => parseDuration(text)).toThrow(UnitError);
  });

  it("names the bad input and shows examples", () => {
    expect(() => parseDuration("3x")).toThrow(/"3x" is not a duration \(examples: 90s, 30m, 24h, 7d/);
  });

  it("scales every unit consistently", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (n) => {
        expect(parseDuration(`${n}s`)).toBe(n);
        expect(parseDuration(String(n))).toBe(n);
        expect(parseDuration(`${n}m`)).toBe(n * 60);
        expect(parseDuration(`${n}h`)).toBe(n * 3600);
        expect(parseDuration(`${n}d`)).toBe(n * 86_400);
      }),
    );
  });
});
