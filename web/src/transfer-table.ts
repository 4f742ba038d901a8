/** Sorting, filtering and paging of the transfers table. Pure; the view renders one page of the result. */
import type { FileSummary, Priority, TransferStatus } from "../../functions/contract/schemas.js";

export type SortKey =
  | "name"
  | "size"
  | "priority"
  | "status"
  | "progress"
  | "speed"
  | "eta"
  | "retries"
  | "createdAt"
  | "updatedAt";

export interface Sort {
  key: SortKey;
  descending: boolean;
}

export interface Filter {
  status: TransferStatus | "";
  priority: Priority | "";
  /** Matched against name, path, id and SHA-256, case-insensitively. */
  text: string;
}

const PRIORITY_RANK: Record<Priority, number> = { high: 3, normal: 2, low: 1 };
/** Moving first, then the ones that need a look, then the settled ones. */
const STATUS_RANK: Record<TransferStatus, number> = {
  uploading: 5,
  assembling: 4,
  failed: 3,
  aborted: 2,
  complete: 1,
};

/**
 * Share of the bytes stored, 0..1. A complete file is done whatever its counter says: the coordinator
 * marks it complete only once storage holds all of it (a single PUT checked by HEAD records no parts).
 */
export function progressOf(t: Pick<FileSummary, "size" | "bytesDone" | "status">): number {
  if (t.status === "complete") return 1;
  if (t.size === 0) return 0;
  return Math.min(1, t.bytesDone / t.size);
}

type Value = number | string | undefined;

const VALUE: Record<SortKey, (t: FileSummary) => Value> = {
  name: (t) => t.name.toLowerCase(),
  size: (t) => t.size,
  priority: (t) => PRIORITY_RANK[t.priority],
  status: (t) => STATUS_RANK[t.status],
  progress: (t) => progressOf(t),
  speed: (t) => t.speedBps,
  eta: (t) => t.etaSeconds,
  retries: (t) => t.retries,
  createdAt: (t) => t.createdAt,
  updatedAt: (t) => t.updatedAt,
};

/** Compares by the key; rows without a value (no speed reported…) go last in either direction; ties: newest first. */
export function comparator(sort: Sort): (a: FileSummary, b: FileSummary) => number {
  const value = VALUE[sort.key];
  const dir = sort.descending ? -1 : 1;
  return (a, b) => {
    const x = value(a);
    const y = value(b);
    if (x === undefined || y === undefined) {
      if (x !== y) return x === undefined ? 1 : -1;
    } else if (x !== y) {
      return (x < y ? -1 : 1) * dir;
    }
    return a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1;
  };
}

export function matches(t: FileSummary, f: Filter): boolean {
  if (f.status && t.status !== f.status) return false;
  if (f.priority && t.priority !== f.priority) return false;
  const text = f.text.trim().toLowerCase();
  if (!text) return true;
  return (
    t.name.toLowerCase().includes(text) ||
    (t.path?.toLowerCase().includes(text) ?? false) ||
    t.id.includes(text) ||
    t.sha256.startsWith(text)
  );
}

export interface Page<T> {
  rows: T[];
  /** 0-based page actually shown (clamped to the last page). */
  page: number;
  pages: number;
  total: number;
  first: number;
  last: number;
}

export function pageOf<T>(items: readonly T[], page: number, pageSize: number): Page<T> {
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const p = Math.min(Math.max(0, page), pages - 1);
  const rows = items.slice(p * pageSize, (p + 1) * pageSize);
  return {
    rows,
    page: p,
    pages,
    total: items.length,
    first: rows.length ? p * pageSize + 1 : 0,
    last: p * pageSize + rows.length,
  };
}

/** Sorting a key first shows the most telling end: biggest, fastest, newest, highest priority… */
export const DESCENDING_FIRST: ReadonlySet<SortKey> = new Set<SortKey>([
  "size",
  "priority",
  "status",
  "progress",
  "speed",
  "retries",
  "createdAt",
  "updatedAt",
]);
