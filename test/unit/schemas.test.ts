import { describe, expect, it } from "vitest";
import { MAX_OBJECT_SIZE, MAX_PAGE_SIZE } from "../../functions/contract/limits.js";
import {
  InitRequest,
  ListFilesQuery,
  PartSpec,
  PathPart,
  Sha256Hex,
  TransferId,
} from "../../functions/contract/schemas.js";

const SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const validInit = { name: "video.mp4", size: 1_000_000, sha256: SHA };

/** The paths of the issues zod reports, to assert which field was rejected. */
function rejectedPaths(result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) {
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((i) => i.path.join("."));
}

describe("InitRequest", () => {
  it("accepts a valid request and defaults priority to normal", () => {
    expect(InitRequest.parse(validInit)).toEqual({ ...validInit, priority: "normal" });
  });

  it("keeps every optional field given", () => {
    const full = { ...validInit, priority: "high", partSizeHint: 16 * 1024 * 1024, contentType: "video/mp4" };
    expect(InitRequest.parse(full)).toEqual(full);
  });

  it("accepts sizes 0 and exactly 5 TiB", () => {
    expect(InitRequest.parse({ ...validInit, size: 0 }).size).toBe(0);
    expect(InitRequest.parse({ ...validInit, size: MAX_OBJECT_SIZE }).size).toBe(MAX_OBJECT_SIZE);
  });

  it("rejects a negative size", () => {
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, size: -1 }))).toEqual(["size"]);
  });

  it("rejects a size one byte above 5 TiB", () => {
    const r = InitRequest.safeParse({ ...validInit, size: MAX_OBJECT_SIZE + 1 });
    expect(rejectedPaths(r)).toEqual(["size"]);
    expect(r.error?.issues[0]?.message).toContain("5 TiB");
  });

  it("rejects a non-integer or non-numeric size", () => {
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, size: 1.5 }))).toEqual(["size"]);
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, size: "100" }))).toEqual(["size"]);
  });

  it("rejects a SHA-256 of 63 or 65 characters", () => {
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, sha256: SHA.slice(1) }))).toEqual(["sha256"]);
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, sha256: `${SHA}0` }))).toEqual(["sha256"]);
  });

  it("rejects a SHA-256 with a non-hex character", () => {
    const r = InitRequest.safeParse({ ...validInit, sha256: `g${SHA.slice(1)}` });
    expect(rejectedPaths(r)).toEqual(["sha256"]);
    expect(r.error?.issues[0]?.message).toBe("must be 64 hexadecimal characters (a SHA-256 digest)");
  });

  it("accepts an upper-case SHA-256 and lower-cases it", () => {
    expect(InitRequest.parse({ ...validInit, sha256: SHA.toUpperCase() }).sha256).toBe(SHA);
    expect(Sha256Hex.parse("AbCd".repeat(16))).toBe("abcd".repeat(16));
  });

  it("rejects an empty name", () => {
    const r = InitRequest.safeParse({ ...validInit, name: "" });
    expect(rejectedPaths(r)).toEqual(["name"]);
    expect(r.error?.issues[0]?.message).toBe("must not be empty");
  });

  it("rejects a name with NUL", () => {
    const r = InitRequest.safeParse({ ...validInit, name: "a\u0000b" });
    expect(rejectedPaths(r)).toEqual(["name"]);
    expect(r.error?.issues[0]?.message).toBe("must not contain NUL");
  });

  it("rejects a name above 1024 characters, and accepts exactly 1024", () => {
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, name: "x".repeat(1025) }))).toEqual(["name"]);
    expect(InitRequest.parse({ ...validInit, name: "x".repeat(1024) }).name).toHaveLength(1024);
  });

  it("rejects unknown extra fields", () => {
    const r = InitRequest.safeParse({ ...validInit, owner: "mallory" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.code).toBe("unrecognized_keys");
    expect(JSON.stringify(r.error?.issues)).toContain("owner");
  });

  it("rejects an unknown priority", () => {
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, priority: "urgent" }))).toEqual(["priority"]);
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, priority: "HIGH" }))).toEqual(["priority"]);
  });

  it("accepts each known priority", () => {
    for (const priority of ["high", "normal", "low"] as const)
      expect(InitRequest.parse({ ...validInit, priority }).priority).toBe(priority);
  });

  it("rejects a missing name or size; sha256 may be left out (content pending) but not malformed", () => {
    expect(rejectedPaths(InitRequest.safeParse({ size: 1, sha256: SHA }))).toEqual(["name"]);
    expect(rejectedPaths(InitRequest.safeParse({ name: "a", sha256: SHA }))).toEqual(["size"]);
    expect(InitRequest.safeParse({ name: "a", size: 1 }).success).toBe(true);
    expect(rejectedPaths(InitRequest.safeParse({ name: "a", size: 1, sha256: "abc" }))).toEqual(["sha256"]);
  });

  it("rejects a part size hint of 0 or above 5 GiB", () => {
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, partSizeHint: 0 }))).toEqual(["partSizeHint"]);
    expect(rejectedPaths(InitRequest.safeParse({ ...validInit, partSizeHint: 5 * 1024 ** 3 + 1 }))).toEqual([
      "partSizeHint",
    ]);
  });
});

describe("PartSpec", () => {
  const spec = { partNumber: 1, offset: 0, size: 5 * 1024 * 1024, sha256: SHA };

  it("accepts part numbers 1 and 10,000", () => {
    expect(PartSpec.parse(spec)).toEqual(spec);
    expect(PartSpec.parse({ ...spec, partNumber: 10_000 }).partNumber).toBe(10_000);
  });

  it("rejects part number 0", () => {
    const r = PartSpec.safeParse({ ...spec, partNumber: 0 });
    expect(rejectedPaths(r)).toEqual(["partNumber"]);
    expect(r.error?.issues[0]?.message).toBe("part numbers start at 1");
  });

  it("rejects part number 10,001", () => {
    const r = PartSpec.safeParse({ ...spec, partNumber: 10_001 });
    expect(rejectedPaths(r)).toEqual(["partNumber"]);
    expect(r.error?.issues[0]?.message).toBe("part numbers end at 10000");
  });

  it("rejects a fractional part number, a negative offset and a part above 5 GiB", () => {
    expect(rejectedPaths(PartSpec.safeParse({ ...spec, partNumber: 1.5 }))).toEqual(["partNumber"]);
    expect(rejectedPaths(PartSpec.safeParse({ ...spec, offset: -1 }))).toEqual(["offset"]);
    expect(rejectedPaths(PartSpec.safeParse({ ...spec, size: 5 * 1024 ** 3 + 1 }))).toEqual(["size"]);
  });

  it("rejects unknown extra fields", () => {
    expect(PartSpec.safeParse({ ...spec, etag: "x" }).success).toBe(false);
  });

  it("lower-cases the SHA-256", () => {
    expect(PartSpec.parse({ ...spec, sha256: SHA.toUpperCase() }).sha256).toBe(SHA);
  });
});

describe("part numbers in bodies and paths", () => {
  const spec = { partNumber: 1, offset: 0, size: 10, sha256: SHA };
  it("a body's part number must be a JSON number, not something coercible", () => {
    expect(rejectedPaths(PartSpec.safeParse({ ...spec, partNumber: true }))).toEqual(["partNumber"]);
    expect(rejectedPaths(PartSpec.safeParse({ ...spec, partNumber: "2" }))).toEqual(["partNumber"]);
    expect(rejectedPaths(PartSpec.safeParse({ ...spec, partNumber: [5] }))).toEqual(["partNumber"]);
  });
  it("a path's part number arrives as text and is bounded the same way", () => {
    const id = "tr_00000000000000000000000000";
    expect(PathPart.parse({ id, n: "7" }).n).toBe(7);
    expect(PathPart.safeParse({ id, n: "0" }).success).toBe(false);
    expect(PathPart.safeParse({ id, n: "10001" }).success).toBe(false);
    expect(PathPart.safeParse({ id, n: "1e1" }).success).toBe(true);
    expect(PathPart.safeParse({ id, n: "x" }).success).toBe(false);
  });
});

describe("file names", () => {
  it("rejects a lone surrogate, which no header or file system can carry", () => {
    const r = InitRequest.safeParse({ name: "\uD800.txt", size: 1, sha256: SHA });
    expect(r.success).toBe(false);
  });
});

describe("ListFilesQuery", () => {
  it("defaults limit to 50", () => {
    expect(ListFilesQuery.parse({})).toEqual({ limit: 50 });
  });

  it("coerces limit from a query string", () => {
    expect(ListFilesQuery.parse({ limit: "20" }).limit).toBe(20);
    expect(ListFilesQuery.parse({ limit: "1" }).limit).toBe(1);
    expect(ListFilesQuery.parse({ limit: "1000" }).limit).toBe(MAX_PAGE_SIZE);
  });

  it("rejects limits outside 1..1000", () => {
    expect(rejectedPaths(ListFilesQuery.safeParse({ limit: "0" }))).toEqual(["limit"]);
    expect(rejectedPaths(ListFilesQuery.safeParse({ limit: "1001" }))).toEqual(["limit"]);
    expect(rejectedPaths(ListFilesQuery.safeParse({ limit: "-5" }))).toEqual(["limit"]);
  });

  it("rejects a non-numeric or fractional limit", () => {
    expect(rejectedPaths(ListFilesQuery.safeParse({ limit: "ten" }))).toEqual(["limit"]);
    expect(rejectedPaths(ListFilesQuery.safeParse({ limit: "2.5" }))).toEqual(["limit"]);
  });

  it("coerces size and validates the filters", () => {
    expect(ListFilesQuery.parse({ size: "42", status: "complete", priority: "low" })).toEqual({
      size: 42,
      status: "complete",
      priority: "low",
      limit: 50,
    });
    expect(rejectedPaths(ListFilesQuery.safeParse({ status: "done" }))).toEqual(["status"]);
  });

  it("rejects unknown query parameters", () => {
    expect(ListFilesQuery.safeParse({ limit: "5", offset: "10" }).success).toBe(false);
  });
});

describe("TransferId", () => {
  it("accepts tr_ and 26 lower-case alphanumerics only", () => {
    expect(TransferId.safeParse("tr_01kb4x5q2m3n4p5r6s7t8v9w0x").success).toBe(true);
    expect(TransferId.safeParse("tr_01KB4X5Q2M3N4P5R6S7T8V9W0X").success).toBe(false);
    expect(TransferId.safeParse("tr_01kb4x5q2m3n4p5r6s7t8v9w0").success).toBe(false);
    expect(TransferId.safeParse("sh_01kb4x5q2m3n4p5r6s7t8v9w0x").success).toBe(false);
  });
});
