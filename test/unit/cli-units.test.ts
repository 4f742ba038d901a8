import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatDuration,
  formatRate,
  parseRate,
  parseSize,
  UnitError,
} from "../../cli/engine/units.js";
import { GiB, KiB, MAX_OBJECT_SIZE, MiB, TiB } from "../../functions/contract/limits.js";

describe("parseSize", () => {
  it.each([
    ["1048576", 1048576],
    ["0", 0],
    ["1B", 1],
    ["8KiB", 8 * KiB],
    ["8MiB", 8 * MiB],
    ["2GiB", 2 * GiB],
    ["1TiB", TiB],
    ["512k", 512 * KiB],
    ["512K", 512 * KiB],
    ["16M", 16 * MiB],
    ["1G", GiB],
    ["1T", TiB],
    ["10KB", 10_000],
    ["10MB", 10_000_000],
    ["3GB", 3_000_000_000],
    ["2TB", 2e12],
    ["1.5MiB", 1.5 * MiB],
    ["0.5k", 512],
    ["2.25GiB", 2.25 * GiB],
  ])("reads %s as %d bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it("ignores surrounding and inner whitespace and letter case", () => {
    expect(parseSize("  8MiB  ")).toBe(8 * MiB);
    expect(parseSize("8 MiB")).toBe(8 * MiB);
    expect(parseSize("8mib")).toBe(8 * MiB);
    expect(parseSize("8MIB")).toBe(8 * MiB);
    expect(parseSize("\t16 mb\n")).toBe(16_000_000);
    expect(parseSize("512 k")).toBe(512 * KiB);
  });

  it("rounds fractional bytes to a whole number", () => {
    expect(Number.isInteger(parseSize("1.3KiB"))).toBe(true);
    expect(parseSize("1.3KiB")).toBe(Math.round(1.3 * 1024));
  });

  it.each([
    "",
    "   ",
    "abc",
    "MiB",
    "5XB",
    "5 XiB",
    "-1",
    "-5MiB",
    "+5MiB",
    "1e6",
    "1.5.2MiB",
    ".5MiB",
    "5 M B",
    "5MiBs",
    "5PiB",
    "0x10",
  ])("rejects %j with a UnitError", (text) => {
    expect(() => parseSize(text)).toThrow(UnitError);
  });

  it("rejects values past the safe integer range", () => {
    expect(() => parseSize("99999999TiB")).toThrow(UnitError);
    expect(() => parseSize("9007199254740993")).toThrow(/too large/);
    expect(parseSize(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("names the input and gives examples in the error", () => {
    expect(() => parseSize("lots")).toThrow(/"lots" is not a size \(examples: /);
  });

  it("reads any whole number of bytes back exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(parseSize(String(n))).toBe(n);
      }),
    );
  });
});

describe("parseRate", () => {
  it.each([
    ["10MB/s", 1e7],
    ["8MiB/s", 8 * MiB],
    ["2Mbit/s", 250_000],
    ["500kbit/s", 62_500],
    ["1Gbit/s", 125_000_000],
    ["1M", MiB],
    ["512k", 512 * KiB],
    ["100", 100],
    ["100B/s", 100],
    ["1.5MiB/s", 1.5 * MiB],
    ["10 MB / s", 1e7],
    ["  8 mib/s ", 8 * MiB],
    ["10MBps", 1e7],
    ["0.5", 0.5],
  ])("reads %s as %d bytes per second", (text, rate) => {
    expect(parseRate(text)).toBe(rate);
  });

  it.each(["", "fast", "-1MB/s", "10XB/s", "10MB/h", "10MB/s/s", "MB/s", "1e6"])(
    "rejects %j with a UnitError",
    (text) => {
      expect(() => parseRate(text)).toThrow(UnitError);
    },
  );

  it.each(["0", "0MB/s", "0.0MiB/s", "0k"])("rejects the zero rate %j", (text) => {
    expect(() => parseRate(text)).toThrow(/must be more than zero/);
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1.00 KiB"],
    [1536, "1.50 KiB"],
    [10 * KiB, "10.0 KiB"],
    [100 * KiB, "100 KiB"],
    [MiB, "1.00 MiB"],
    [10 * MiB, "10.0 MiB"],
    [5 * GiB, "5.00 GiB"],
    [5 * TiB, "5.00 TiB"],
    [2048 * TiB, "2048 TiB"],
  ])("shows %d as %s", (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it("never throws and always gives a number and a unit for 0..2^53", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(formatBytes(n)).toMatch(/^\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)$/);
      }),
    );
    expect(formatBytes(2 ** 53)).toBe("8192 TiB");
  });

  it("reads back through parseSize to within half a percent (0..5 TiB)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_OBJECT_SIZE }), (n) => {
        const back = parseSize(formatBytes(n));
        expect(Math.abs(back - n)).toBeLessThanOrEqual(n * 0.005 + 1);
      }),
    );
  });
});

describe("formatRate", () => {
  it("formats bytes per second, rounded to whole bytes", () => {
    expect(formatRate(0)).toBe("0 B/s");
    expect(formatRate(1.4)).toBe("1 B/s");
    expect(formatRate(1023)).toBe("1023 B/s");
    expect(formatRate(1024)).toBe("1.00 KiB/s");
    expect(formatRate(10 * MiB)).toBe("10.0 MiB/s");
    expect(formatRate(250_000)).toBe("244 KiB/s");
  });
});

describe("formatDuration", () => {
  it.each([
    [null, "--"],
    [Number.POSITIVE_INFINITY, "--"],
    [Number.NaN, "--"],
    [0, "0s"],
    [-5, "0s"],
    [1.4, "1s"],
    [59, "59s"],
    [59.4, "59s"],
    [59.6, "1m00s"],
    [60, "1m00s"],
    [61, "1m01s"],
    [3599, "59m59s"],
    [3600, "1h00m"],
    [3661, "1h01m"],
    [86_400, "24h00m"],
  ] as const)("shows %s seconds as %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
