/** The folder benchmark's file sets (harness/tree.ts): deterministic, in range, and valid batch paths. */
import { describe, expect, it } from "vitest";
import { unsafePathReason } from "../../functions/contract/batches.js";
import { flatPlan, mixedPlan, planBytes } from "../../harness/tree.js";

const MiB = 1024 * 1024;

describe("flatPlan", () => {
  it("names count distinct files of one size, sorted", () => {
    const p = flatPlan(10_000, 4096);
    expect(p.files).toHaveLength(10_000);
    expect(new Set(p.files.map((f) => f.path)).size).toBe(10_000);
    expect(p.files.every((f) => f.size === 4096)).toBe(true);
    expect(p.files[0]?.path).toBe("f0000.bin");
    expect(p.files.at(-1)?.path).toBe("f9999.bin");
    expect(planBytes(p)).toBe(10_000 * 4096);
    expect(p.emptyDirs).toEqual([]);
  });
});

describe("mixedPlan", () => {
  it("is the same for the same seed and differs for another", () => {
    expect(mixedPlan(11)).toEqual(mixedPlan(11));
    expect(mixedPlan(12).files).not.toEqual(mixedPlan(11).files);
  });

  it.each([1, 7, 11, 42, 1234])(
    "seed %i: nested, 0 B to 20 MiB, empty files and folders, safe paths",
    (seed) => {
      const p = mixedPlan(seed);
      expect(p.files).toHaveLength(250);
      const sizes = p.files.map((f) => f.size);
      expect(Math.min(...sizes)).toBe(0);
      expect(Math.max(...sizes)).toBe(20 * MiB);
      expect(sizes.filter((s) => s === 0).length).toBeGreaterThan(0);
      expect(sizes.filter((s) => s > 8 * MiB).length).toBeGreaterThan(0);
      expect(sizes.filter((s) => s < 16 * 1024).length).toBeGreaterThan(50);
      const depth = Math.max(...p.files.map((f) => f.path.split("/").length));
      expect(depth).toBeGreaterThanOrEqual(4);
      for (const path of [...p.files.map((f) => f.path), ...p.emptyDirs])
        expect(unsafePathReason(path)).toBeUndefined();
      const sorted = [...p.files.map((f) => f.path)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expect(p.files.map((f) => f.path)).toEqual(sorted);
      // Empty folders hold nothing, and no file path is also a folder.
      expect(p.emptyDirs).toHaveLength(2);
      for (const d of p.emptyDirs) expect(p.files.some((f) => f.path.startsWith(`${d}/`))).toBe(false);
      const paths = new Set(p.files.map((f) => f.path));
      for (const f of p.files) {
        const segs = f.path.split("/");
        for (let i = 1; i < segs.length; i++) expect(paths.has(segs.slice(0, i).join("/"))).toBe(false);
      }
    },
  );
});
