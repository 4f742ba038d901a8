/**
 * Plain text tables for terminals and scripts: columns padded to their widest cell, two spaces apart;
 * and the rows every command shows for batches and their files (list, status).
 */
import type { BatchSummary } from "../../functions/contract/batches.js";
import type { FileSummary } from "../../functions/contract/schemas.js";
import { formatBytes } from "./units.js";

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

/** "2026-11-29 12:00:00" from an ISO time (UTC). */
export const utcTime = (iso: string): string => new Date(iso).toISOString().replace("T", " ").slice(0, 19);

export const percent = (done: number, size: number): string =>
  `${size ? ((100 * done) / size).toFixed(1) : "100.0"}%`;

/** "1 file", "2 files", "0 empty folders". */
export const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A file's progress: a complete file is whole (a single PUT records no parts, so bytesDone may lag). */
export const fileProgress = (f: Pick<FileSummary, "status" | "bytesDone" | "size">): string =>
  f.status === "complete" ? "100.0%" : percent(f.bytesDone, f.size);

const short = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

export const BATCH_HEAD = ["ID", "NAME", "FILES", "SIZE", "PROGRESS", "STATUS", "CREATED (UTC)"];

export const batchRows = (items: readonly BatchSummary[]): string[][] =>
  items.map((b) => [
    b.id,
    short(b.name, 30),
    `${b.filesComplete}/${b.fileCount}${b.filesFailed ? ` (${b.filesFailed} failed)` : ""}`,
    formatBytes(b.totalBytes),
    percent(b.bytesComplete, b.totalBytes),
    b.status,
    utcTime(b.createdAt),
  ]);

export const BATCH_FILE_HEAD = ["PATH", "SIZE", "STATUS", "PROGRESS", "ID", "SHA-256"];

/** A batch's files; the path shown whole (it is what the receiver writes), the SHA-256 whole too. */
export const batchFileRows = (items: readonly FileSummary[]): string[][] =>
  items.map((f) => [
    JSON.stringify(f.path ?? f.name).slice(1, -1),
    formatBytes(f.size),
    f.status,
    fileProgress(f),
    f.id,
    f.sha256,
  ]);
