/** The dashboard's batch logic: progress, the files filter, when a batch's files are read again, paging. */
import { describe, expect, it } from "vitest";
import type { BatchSummary } from "../../functions/contract/batches.js";
import type { FileSummary } from "../../functions/contract/schemas.js";
import {
  BatchFileIndex,
  type BatchFilesSource,
  batchProgress,
  cursorOf,
  firstPage,
  matchesFile,
  needsWalk,
  nextPage,
  previousPage,
  splitPath,
  summaryKey,
  walkGapMs,
} from "../../web/src/batch-files.js";

function batch(over: Partial<BatchSummary> = {}): BatchSummary {
  return {
    id: "bt_00000000000000000000000000",
    name: "dataset",
    status: "open",
    digest: "ab".repeat(32),
    priority: "normal",
    fileCount: 3,
    totalBytes: 300,
    filesComplete: 0,
    bytesComplete: 0,
    filesFailed: 0,
    createdAt: "2026-12-01T08:00:00.000Z",
    updatedAt: "2026-12-01T08:00:00.000Z",
    ...over,
  };
}

function file(i: number, over: Partial<FileSummary> = {}): FileSummary {
  return {
    id: `tr_${String(i).padStart(26, "0")}`,
    name: `f${i}.bin`,
    path: `dir/f${i}.bin`,
    batchId: "bt_00000000000000000000000000",
    size: 100,
    sha256: "cd".repeat(32),
    priority: "normal",
    status: "uploading",
    partsDone: 0,
    bytesDone: 0,
    createdAt: "2026-12-01T08:00:00.000Z",
    updatedAt: "2026-12-01T08:00:00.000Z",
    ...over,
  };
}

/** A batch's files as the API pages them: by path, `limit` at a time, the cursor being the next index. */
function source(files: () => FileSummary[]): BatchFilesSource & { calls: number } {
  const s = {
    calls: 0,
    async batchFiles(_id: string, q: { limit?: number; cursor?: string | undefined }) {
      s.calls++;
      const all = files();
      const from = q.cursor ? Number(q.cursor) : 0;
      const to = from + (q.limit ?? 1000);
      return { items: all.slice(from, to), nextCursor: to < all.length ? String(to) : null };
    },
  };
  return s;
}

describe("batch progress", () => {
  it("is the share of bytes complete; a batch of empty files counts files; an empty batch is done when complete", () => {
    expect(batchProgress(batch({ totalBytes: 400, bytesComplete: 100 }))).toBe(0.25);
    expect(batchProgress(batch({ totalBytes: 0, fileCount: 4, filesComplete: 1 }))).toBe(0.25);
    expect(batchProgress(batch({ totalBytes: 0, fileCount: 0, status: "open" }))).toBe(0);
    expect(batchProgress(batch({ totalBytes: 0, fileCount: 0, status: "complete" }))).toBe(1);
    expect(batchProgress(batch({ totalBytes: 10, bytesComplete: 20 }))).toBe(1);
  });
});

describe("files filter", () => {
  const done = file(1, { status: "complete", path: "scans/2026/day 1.tif" });
  const failed = file(2, { status: "failed", path: "Überblick/naïve ☃.txt", lastError: "file changed" });
  const moving = file(3, { status: "uploading", path: ".hidden/a b" });

  it("'not complete' keeps every status but complete; 'failed' only failed", () => {
    const all = [done, failed, moving];
    expect(all.filter((f) => matchesFile(f, "all", "")).map((f) => f.id)).toEqual(all.map((f) => f.id));
    expect(all.filter((f) => matchesFile(f, "incomplete", ""))).toEqual([failed, moving]);
    expect(all.filter((f) => matchesFile(f, "failed", ""))).toEqual([failed]);
  });

  it("searches the path case-insensitively, Unicode and spaces included, and ids and SHA-256 prefixes", () => {
    expect(matchesFile(failed, "all", "überblick/NAÏVE")).toBe(true);
    expect(matchesFile(done, "all", "day 1")).toBe(true);
    expect(matchesFile(done, "all", "day 2")).toBe(false);
    expect(matchesFile(moving, "all", moving.id)).toBe(true);
    expect(matchesFile(moving, "all", "cdcd")).toBe(true);
    expect(matchesFile(moving, "failed", ".hidden")).toBe(false);
  });

  it("splits a path into its folder and its name", () => {
    expect(splitPath("scans/2026/day 1.tif")).toEqual(["scans/2026/", "day 1.tif"]);
    expect(splitPath("top.txt")).toEqual(["", "top.txt"]);
    expect(splitPath(".hidden/")).toEqual([".hidden/", ""]);
  });
});

describe("when a batch's files are read again", () => {
  it("waits longer between walks of bigger batches, never more than a minute", () => {
    expect(walkGapMs(0, 1000)).toBe(0);
    expect(walkGapMs(2000, 1000)).toBe(0);
    expect(walkGapMs(2001, 1000)).toBe(15_000);
    expect(walkGapMs(10_000, 1000)).toBe(50_000);
    expect(walkGapMs(1_000_000, 1000)).toBe(60_000);
  });

  it("always at first; an open batch on every poll (small) or after the gap (big); an ended, unchanged one never", () => {
    const open = batch();
    expect(needsWalk({ loadedAt: undefined, lastWalkAt: 0, walkedKey: undefined }, open, 0, 1000)).toBe(true);
    const after = { loadedAt: 1000, lastWalkAt: 1000, walkedKey: summaryKey(open) };
    expect(needsWalk(after, open, 1000, 1000)).toBe(true);
    const big = batch({ fileCount: 5000 });
    const afterBig = { loadedAt: 1000, lastWalkAt: 1000, walkedKey: summaryKey(big) };
    expect(needsWalk(afterBig, big, 1000 + 24_999, 1000)).toBe(false);
    expect(needsWalk(afterBig, big, 1000 + 25_000, 1000)).toBe(true);
    const ended = batch({ status: "complete", filesComplete: 3, bytesComplete: 300 });
    const afterEnded = { loadedAt: 1000, lastWalkAt: 1000, walkedKey: summaryKey(ended) };
    expect(needsWalk(afterEnded, ended, 10_000_000, 1000)).toBe(false);
    // It ended since the last walk: one more walk shows the files' final states.
    expect(needsWalk(after, ended, 2000, 1000)).toBe(true);
  });
});

describe("BatchFileIndex", () => {
  it("walks every page in path order, up to the cap, and says when it stopped there", async () => {
    const files = Array.from({ length: 25 }, (_, i) => file(i));
    const api = source(() => files);
    const index = new BatchFileIndex(api, "bt_x", { pageSize: 10, cap: 100 });
    await index.refresh(batch({ fileCount: 25 }), 0);
    expect(api.calls).toBe(3);
    expect(index.all().map((f) => f.id)).toEqual(files.map((f) => f.id));
    expect(index.truncated).toBe(false);

    const capped = new BatchFileIndex(
      source(() => files),
      "bt_x",
      { pageSize: 10, cap: 20 },
    );
    await capped.refresh(batch({ fileCount: 25 }), 0);
    expect(capped.size).toBe(20);
    expect(capped.truncated).toBe(true);
  });

  it("reads an ended batch once, and bumps its version only when a file changed", async () => {
    let files = [file(1), file(2)];
    const api = source(() => files);
    const index = new BatchFileIndex(api, "bt_x");
    const open = batch({ fileCount: 2 });
    await index.refresh(open, 0);
    const v1 = index.version;
    await index.refresh(open, 3000);
    expect(api.calls).toBe(2);
    expect(index.version).toBe(v1);

    files = [
      file(1, { status: "complete", bytesDone: 100 }),
      file(2, { status: "failed", lastError: "gone" }),
    ];
    const ended = batch({ fileCount: 2, status: "complete", filesComplete: 1, filesFailed: 1 });
    await index.refresh(ended, 6000);
    expect(index.version).toBe(v1 + 1);
    expect(index.all().map((f) => f.status)).toEqual(["complete", "failed"]);
    await index.refresh(ended, 9000);
    await index.refresh(ended, 999_999);
    expect(api.calls).toBe(3);
  });

  it("runs one walk at a time", async () => {
    const api = source(() => [file(1)]);
    const index = new BatchFileIndex(api, "bt_x");
    await Promise.all([index.refresh(batch(), 0), index.refresh(batch(), 0)]);
    expect(api.calls).toBe(1);
  });
});

describe("cursor pages", () => {
  it("goes forward with the API's cursor and back through the cursors seen", () => {
    let p = firstPage;
    expect(cursorOf(p)).toBeUndefined();
    p = nextPage(p, "c1");
    p = nextPage(p, "c2");
    expect([p.page, cursorOf(p)]).toEqual([2, "c2"]);
    expect(nextPage(p, null)).toBe(p);
    p = previousPage(p);
    expect(cursorOf(p)).toBe("c1");
    // A new way forward from an earlier page forgets the old one.
    p = nextPage(p, "c2b");
    expect(p.cursors).toEqual([undefined, "c1", "c2b"]);
    expect(previousPage(previousPage(previousPage(p)))).toEqual({ cursors: p.cursors, page: 0 });
  });
});
