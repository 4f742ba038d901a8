/**
 * The part checks when storage lists several entries for one part number (a store that keeps every
 * upload of it, SeaweedFS) or one (S3): a record or claim holds when ANY entry matches, whatever the
 * listing's order; unrecorded parts keep one entry per number only where the entries agree.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MiB } from "../../functions/contract/limits.js";
import { AppError } from "../../functions/core/errors.js";
import { checkStoredPart, partsNotHeld, storageHolds } from "../../functions/core/part-recorder.js";
import type { PartRecord, StoredPart } from "../../functions/core/ports.js";
import { soleEntries } from "../../functions/core/transfer-context.js";

const hex = (s: string) => createHash("sha256").update(s).digest("hex");
const b64 = (h: string) => Buffer.from(h, "hex").toString("base64");
const entry = (n: number, size: number, etag: string, sha?: string): StoredPart => ({
  partNumber: n,
  size,
  etag: `"${etag}"`,
  ...(sha !== undefined && { checksumSha256: b64(sha) }),
});
const record = (n: number, size: number, etag: string, sha: string): PartRecord => ({
  partNumber: n,
  offset: (n - 1) * 5 * MiB,
  size,
  sha256: sha,
  etag,
  uploadedAt: "2026-12-01T00:00:00.000Z",
});

const A = hex("a");
const B = hex("b");
const recorded = record(2, 5 * MiB, "etag-a", A);
const older = entry(2, 6 * MiB, "etag-old");
const same = entry(2, 5 * MiB, "etag-a");
const other = entry(2, 5 * MiB, "etag-b");

describe("storageHolds / partsNotHeld", () => {
  it("holds a record when any entry of its number matches, in either listing order", () => {
    expect(storageHolds([older, same], recorded)).toBe(true);
    expect(storageHolds([same, older], recorded)).toBe(true);
    expect(partsNotHeld([other, older, same], [recorded])).toEqual([]);
    expect(partsNotHeld([same, other, older], [recorded])).toEqual([]);
  });

  it("forgets a record when no entry matches: other bytes, another size, another SHA-256, none", () => {
    expect(partsNotHeld([other, older], [recorded])).toEqual([recorded]);
    expect(partsNotHeld([entry(2, 5 * MiB, "etag-a", B)], [recorded])).toEqual([recorded]);
    expect(partsNotHeld([entry(3, 5 * MiB, "etag-a")], [recorded])).toEqual([recorded]);
    expect(storageHolds(undefined, recorded)).toBe(false);
  });

  it("on one entry per number (S3), is the plain check", () => {
    expect(partsNotHeld([entry(2, 5 * MiB, "etag-a", A)], [recorded])).toEqual([]);
    expect(partsNotHeld([other], [recorded])).toEqual([recorded]);
  });
});

describe("checkStoredPart", () => {
  const claim = { offset: 5 * MiB, size: 5 * MiB, sha256: A, etag: '"etag-a"' };

  it("returns the entry that is the claimed part, wherever it is listed", () => {
    expect(checkStoredPart(2, claim, [older, other, same])).toBe(same);
    expect(checkStoredPart(2, claim, [same, older])).toBe(same);
  });

  it("refuses (PART_NOT_STORED) when none is, naming what storage holds", () => {
    const refused = (entries: StoredPart[]) => {
      try {
        checkStoredPart(2, claim, entries);
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe("PART_NOT_STORED");
        return (err as AppError).message;
      }
      throw new Error("not refused");
    };
    expect(refused([])).toMatch(/holds no part 2/);
    expect(refused([older])).toMatch(/6291456 bytes as part 2, not 5242880/);
    expect(refused([entry(2, 5 * MiB, "etag-a", B)])).toMatch(/another SHA-256/);
    expect(refused([other])).toMatch(/ETag "etag-b", not "etag-a"/);
    expect(refused([older, other])).toMatch(/2 uploads of part 2, none of 5242880 bytes with ETag/);
  });
});

describe("soleEntries (unrecorded parts)", () => {
  it("keeps one entry per number where the entries agree, none where they differ", () => {
    const p1 = entry(1, 5 * MiB, "etag-1", A);
    const p3 = entry(3, 5 * MiB, "etag-3", B);
    const p3again = entry(3, 5 * MiB, "etag-3", B);
    const p4 = entry(4, 5 * MiB, "etag-4", A);
    const p4other = entry(4, 4 * MiB, "etag-5", B);
    expect(soleEntries([p1, p3, p4, p3again, p4other])).toEqual([p1, p3]);
    expect(soleEntries([p4other, p3again, p4, p1, p3])).toEqual([p3again, p1]);
  });
});
