/**
 * The activity port: a transfer's timeline, the recent failures across transfers, and per-minute
 * throughput counters. Advisory like stats: a failed write here must never fail a transfer.
 */
import type { SeriesPoint, TransferEvent } from "../contract/monitor.js";

export interface SeriesDelta {
  bytes?: number;
  parts?: number;
  completed?: number;
  failed?: number;
}

export interface ActivityLog {
  /** Adds to the transfer's timeline; failures (error kinds) also go to the recent-errors list. */
  record(event: TransferEvent): Promise<void>;
  timeline(transferId: string): Promise<TransferEvent[]>;
  recentErrors(limit: number): Promise<TransferEvent[]>;
  addToMinute(minute: string, delta: SeriesDelta): Promise<void>;
  /** Points for the minutes from `from` to `to` inclusive (ISO minute starts); missing minutes are absent. */
  series(from: string, to: string): Promise<SeriesPoint[]>;
}

export const ERROR_KINDS = new Set<TransferEvent["kind"]>([
  "part-rejected",
  "client-error",
  "checksum-mismatch",
  "upload-gone",
  "failed",
]);

/** "2026-11-29T12:34" style key for the minute containing `d`. */
export const minuteOf = (d: Date): string => d.toISOString().slice(0, 16);
