/**
 * Every transfer the table can sort and filter, kept in the browser and refreshed cheaply.
 * The API lists newest first, by pages of at most 1,000, filtered by status or priority — and has no
 * "changed since". So: a full walk of the pages at first and once a minute; in between, each poll asks
 * only for what moves — the open transfers (status uploading and assembling), the newest page (new ones,
 * and deduplicated ones that complete at once) — and re-reads, one by one, the few that stopped being
 * open since the last poll (completed, failed, aborted). Nothing here computes a value: rows are the
 * API's own FileSummary objects.
 */
import type { FileSummary, TransferStatus } from "../../functions/contract/schemas.js";
import { type Api, ApiError, type ListQuery } from "./api.js";

export interface TransferIndexOptions {
  /** A full walk at least this often. */
  fullEveryMs: number;
  /** At most this many rows are kept (the table says so when there are more). */
  cap: number;
  pageSize: number;
  newestPageSize: number;
  /** More transfers than this leaving the open states at once: walk everything instead. */
  maxSingleReads: number;
}

const DEFAULTS: TransferIndexOptions = {
  fullEveryMs: 60_000,
  cap: 20_000,
  pageSize: 1000,
  newestPageSize: 100,
  maxSingleReads: 25,
};

const OPEN: readonly TransferStatus[] = ["uploading", "assembling"];

const summary = (t: FileSummary): FileSummary => {
  const { parts: _parts, ...rest } = t as FileSummary & { parts?: unknown };
  return rest;
};

export class TransferIndex {
  private byId = new Map<string, FileSummary>();
  private openIds = new Set<string>();
  private cached: FileSummary[] | undefined;
  private pending: Promise<void> | undefined;
  private readonly opts: TransferIndexOptions;
  /** Set once the first full walk has finished. */
  loadedAt: number | undefined;
  lastFullAt = 0;
  /** True when the last full walk stopped at the cap. */
  truncated = false;
  /** Bumped on every change, so views re-sort only when something changed. */
  version = 0;

  constructor(
    private readonly api: Api,
    opts: Partial<TransferIndexOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  get size(): number {
    return this.byId.size;
  }

  all(): FileSummary[] {
    this.cached ??= [...this.byId.values()];
    return this.cached;
  }

  /** One refresh at a time: a second caller waits for the one under way. */
  refresh(now = Date.now()): Promise<void> {
    this.pending ??= this.update(now).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async update(now: number): Promise<void> {
    if (this.loadedAt === undefined || now - this.lastFullAt >= this.opts.fullEveryMs) return this.full(now);
    const [open, newest] = await Promise.all([
      Promise.all(OPEN.map((status) => this.walk({ status }))),
      this.api.files({ limit: this.opts.newestPageSize }),
    ]);
    // More new transfers than one page since the last poll: the ones in between are unknown.
    const gap =
      newest.nextCursor !== null &&
      newest.items.length > 0 &&
      newest.items.every((t) => !this.byId.has(t.id));
    if (gap) return this.full(now);
    const openItems = open.flatMap((r) => r.items);
    const nowOpen = new Set(openItems.map((t) => t.id));
    const left = [...this.openIds].filter((id) => !nowOpen.has(id));
    if (left.length > this.opts.maxSingleReads) return this.full(now);
    const reread = await Promise.all(
      left.map((id) =>
        this.api.file(id).then(
          (t) => ({ id, t: summary(t) }),
          (err: unknown) => {
            if (err instanceof ApiError && err.status === 404) return { id, t: undefined };
            throw err;
          },
        ),
      ),
    );
    const next = new Map(this.byId);
    for (const t of [...newest.items, ...openItems]) next.set(t.id, t);
    for (const r of reread) {
      if (r.t) next.set(r.id, r.t);
      else next.delete(r.id);
    }
    this.replace(next, nowOpen);
  }

  private async full(now: number): Promise<void> {
    const { items, truncated } = await this.walk({});
    const next = new Map<string, FileSummary>();
    for (const t of items) next.set(t.id, t);
    this.truncated = truncated;
    this.lastFullAt = now;
    this.loadedAt ??= now;
    this.replace(next, new Set(items.filter((t) => OPEN.includes(t.status)).map((t) => t.id)));
  }

  private async walk(q: ListQuery): Promise<{ items: FileSummary[]; truncated: boolean }> {
    const items: FileSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.api.files({ ...q, limit: this.opts.pageSize, cursor });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && items.length < this.opts.cap);
    return { items: items.slice(0, this.opts.cap), truncated: cursor !== undefined };
  }

  private replace(next: Map<string, FileSummary>, openIds: Set<string>): void {
    this.openIds = openIds;
    let changed = next.size !== this.byId.size;
    if (!changed)
      for (const [id, t] of next) {
        const old = this.byId.get(id);
        if (
          !old ||
          old.updatedAt !== t.updatedAt ||
          old.status !== t.status ||
          old.bytesDone !== t.bytesDone
        ) {
          changed = true;
          break;
        }
      }
    this.byId = next;
    if (changed) {
      this.cached = undefined;
      this.version++;
    }
  }
}
