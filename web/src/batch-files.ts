/**
 * A batch's files in the browser, and the few rules the batch views follow. The API lists a batch's files
 * by path, in pages of at most 1,000, with no status filter and no "changed since": so the detail view
 * walks the pages (up to a cap), filters and pages in the browser, and walks again only when something
 * can have changed — every poll for a batch of up to two pages; for a bigger one at most every few
 * seconds per page, and only while the batch is open or its summary moved. An ended batch whose summary
 * is unchanged is never read again. Rows are the API's own FileSummary objects; nothing is estimated.
 */
import type { BatchSummary } from "../../functions/contract/batches.js";
import type { FileSummary } from "../../functions/contract/schemas.js";

/** Share of the batch done, 0..1: bytes of complete files; a batch of empty files counts its files. */
export function batchProgress(
  b: Pick<BatchSummary, "status" | "fileCount" | "totalBytes" | "filesComplete" | "bytesComplete">,
): number {
  if (b.totalBytes > 0) return Math.min(1, b.bytesComplete / b.totalBytes);
  if (b.fileCount > 0) return Math.min(1, b.filesComplete / b.fileCount);
  return b.status === "complete" ? 1 : 0;
}

/** "all", "not complete" (uploading, assembling, failed, aborted) or "failed". */
export type FileFilter = "all" | "incomplete" | "failed";

export function matchesFile(f: FileSummary, which: FileFilter, text: string): boolean {
  if (which === "incomplete" && f.status === "complete") return false;
  if (which === "failed" && f.status !== "failed") return false;
  const q = text.trim().toLowerCase();
  if (!q) return true;
  return (f.path ?? f.name).toLowerCase().includes(q) || f.id.includes(q) || f.sha256.startsWith(q);
}

/** "scans/2026/" and "day 1.tif": the folder part is shown lighter than the name. */
export function splitPath(path: string): [string, string] {
  const cut = path.lastIndexOf("/") + 1;
  return [path.slice(0, cut), path.slice(cut)];
}

/** What a change of the batch's summary looks like (a file completed, failed, or was added). */
export const summaryKey = (b: BatchSummary): string =>
  [b.status, b.fileCount, b.filesComplete, b.filesFailed, b.bytesComplete, b.updatedAt].join("|");

export interface WalkState {
  loadedAt: number | undefined;
  lastWalkAt: number;
  /** summaryKey() of the batch when the last walk started. */
  walkedKey: string | undefined;
}

/** Least time between two walks of a batch's files: none for two pages or fewer, else 5 s a page, ≤ 60 s. */
export function walkGapMs(fileCount: number, pageSize: number): number {
  const pages = Math.ceil(fileCount / pageSize);
  return pages <= 2 ? 0 : Math.min(60_000, pages * 5000);
}

export function needsWalk(s: WalkState, b: BatchSummary, now: number, pageSize: number): boolean {
  if (s.loadedAt === undefined) return true;
  const changed = s.walkedKey !== summaryKey(b);
  // Ended and unchanged: nothing in it moves any more.
  if (b.status !== "open" && !changed) return false;
  return now - s.lastWalkAt >= walkGapMs(b.fileCount, pageSize);
}

export interface BatchFilesSource {
  batchFiles(
    batchId: string,
    q: { limit?: number; cursor?: string | undefined },
  ): Promise<{ items: FileSummary[]; nextCursor: string | null }>;
}

export interface BatchFileIndexOptions {
  pageSize: number;
  /** At most this many files are kept (the view says so when there are more). */
  cap: number;
}

export class BatchFileIndex implements WalkState {
  private items: FileSummary[] = [];
  private pending: Promise<void> | undefined;
  private readonly opts: BatchFileIndexOptions;
  loadedAt: number | undefined;
  lastWalkAt = 0;
  walkedKey: string | undefined;
  /** The last walk stopped at the cap: more files exist than are shown. */
  truncated = false;
  /** Bumped when a walk brought anything new, so views filter again only then. */
  version = 0;

  constructor(
    private readonly api: BatchFilesSource,
    readonly batchId: string,
    opts: Partial<BatchFileIndexOptions> = {},
  ) {
    this.opts = { pageSize: 1000, cap: 20_000, ...opts };
  }

  /** In path order, as the API lists them. */
  all(): readonly FileSummary[] {
    return this.items;
  }

  get size(): number {
    return this.items.length;
  }

  /** Walks the files if the summary says they may have changed; one walk at a time. */
  refresh(summary: BatchSummary, now = Date.now()): Promise<void> {
    if (!needsWalk(this, summary, now, this.opts.pageSize)) return this.pending ?? Promise.resolve();
    this.pending ??= this.walk(summaryKey(summary), now).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async walk(key: string, now: number): Promise<void> {
    const items: FileSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.api.batchFiles(this.batchId, { limit: this.opts.pageSize, cursor });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && items.length < this.opts.cap);
    const changed =
      items.length !== this.items.length ||
      items.some((f, i) => {
        const old = this.items[i];
        return (
          !old ||
          old.id !== f.id ||
          old.status !== f.status ||
          old.bytesDone !== f.bytesDone ||
          old.updatedAt !== f.updatedAt ||
          old.lastError !== f.lastError
        );
      });
    this.items = items.slice(0, this.opts.cap);
    this.truncated = cursor !== undefined || items.length > this.opts.cap;
    this.lastWalkAt = now;
    this.walkedKey = key;
    this.loadedAt ??= now;
    if (changed) this.version++;
  }
}

/**
 * Pages of a cursor-paged list (the batches list): the cursor of every page seen so far, so "Previous"
 * goes back without the API having to page backwards. Page 0's cursor is undefined.
 */
export interface CursorPager {
  cursors: readonly (string | undefined)[];
  page: number;
}

export const firstPage: CursorPager = { cursors: [undefined], page: 0 };

export function nextPage(p: CursorPager, nextCursor: string | null): CursorPager {
  if (nextCursor === null) return p;
  const cursors = p.cursors.slice(0, p.page + 1);
  cursors.push(nextCursor);
  return { cursors, page: p.page + 1 };
}

export function previousPage(p: CursorPager): CursorPager {
  return p.page === 0 ? p : { cursors: p.cursors, page: p.page - 1 };
}

export const cursorOf = (p: CursorPager): string | undefined => p.cursors[p.page];
