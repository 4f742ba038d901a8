/**
 * What a transfer reports as it goes. The engine emits these; reporters turn them into progress bars,
 * NDJSON (`--json`, one event a line) or log lines. Every event carries the time it happened.
 */
import type { Priority } from "../../functions/contract/schemas.js";

interface Base {
  time: string;
}

export interface StartEvent extends Base {
  type: "start";
  file: string;
  /** The file's path within its batch (sends). */
  path?: string;
  batchId?: string;
  name: string;
  size: number;
  sha256: string;
  transferId: string;
  priority: Priority;
  /** True when an earlier, interrupted send of this file is continued. */
  resumed: boolean;
  /** Bytes storage already holds at the start (a resume). */
  bytesDone: number;
}

export interface HashEvent extends Base {
  type: "hash";
  file: string;
  bytes: number;
  size: number;
}

export interface PartEvent extends Base {
  type: "part";
  file: string;
  transferId: string;
  partNumber: number;
  offset: number;
  size: number;
  sha256: string;
  seconds: number;
  /** 1 for a first try. */
  attempt: number;
}

export interface RetryEvent extends Base {
  type: "retry";
  file?: string;
  transferId?: string;
  partNumber?: number;
  /** What is retried: a part PUT or an API call ("POST /upload/init", …). */
  operation: string;
  attempt: number;
  delayMs: number;
  reason: string;
  /** S3 or API error code, or a network error code (ECONNRESET, STALL, …). */
  code?: string;
}

export interface ProgressEvent extends Base {
  type: "progress";
  file: string;
  transferId: string;
  bytesDone: number;
  size: number;
  speedBps: number;
  etaSeconds: number | null;
  retries: number;
  concurrency: number;
  partSize: number;
}

export interface DoneEvent extends Base {
  type: "done";
  file: string;
  /** The file's path within its batch (sends). */
  path?: string;
  /** The batch the file belongs to (every send). */
  batchId?: string;
  transferId: string;
  sha256: string;
  size: number;
  seconds: number;
  deduplicated: boolean;
  resumed: boolean;
  /** Bytes this run moved on the wire for the file (sent, or for a receive fetched), repeats included. */
  bytesSent: number;
  retries: number;
}

export interface ErrorEvent extends Base {
  type: "error";
  file?: string;
  transferId?: string;
  code: string;
  exitCode: number;
  message: string;
}

/**
 * A decision of the link model (link-model.ts): how many part requests may be in flight, the size of the
 * next parts, why, and the figures it was taken on. Emitted when one of the first three changes, at
 * most twice a second (the latest decision of a burst).
 */
export interface LinkEvent extends Base {
  type: "link";
  concurrency: number;
  partSize: number;
  /** "probe up", "plateau: hold", "worse: step back", "loss: widen", "drop: hold", "throttled: halve", … */
  reason: string;
  /** Delivered bytes per second, smoothed. */
  goodputBps: number;
  /** Failed requests ÷ requests over the last 30 s. */
  lossRate: number;
  /** Whole-link drops (everything in flight failed at once) per minute, over the last 2 minutes. */
  dropsPerMinute: number;
}

/** A whole `sfts send`: once when the batch is known (start), once when the command ends (end). */
export interface BatchEvent extends Base {
  type: "batch";
  phase: "start" | "end";
  batchId: string;
  name: string;
  /** Files and bytes of the batch (its manifest). */
  files: number;
  bytes: number;
  /** Entries of the folders given that are not sent (symlinks, sockets, FIFOs, devices, unstorable names). */
  skipped: number;
  /** Empty folders kept. */
  dirs: number;
  /** A batch with this manifest existed: it goes on. */
  resumed: boolean;
  /** end only: how the files ended, and the bytes this run moved on the wire. */
  filesDone?: number;
  filesFailed?: number;
  filesInterrupted?: number;
  bytesSent?: number;
  seconds?: number;
}

/** An entry of a folder that is not sent, named once. */
export interface SkipEvent extends Base {
  type: "skip";
  file: string;
  reason: string;
}

export type SendEvent =
  | BatchEvent
  | SkipEvent
  | StartEvent
  | HashEvent
  | PartEvent
  | RetryEvent
  | ProgressEvent
  | LinkEvent
  | DoneEvent
  | ErrorEvent;

/** An event as the engine emits it; the time is added when it is emitted. */
export type NewEvent = SendEvent extends infer E ? (E extends SendEvent ? Omit<E, "time"> : never) : never;

export type EventSink = (event: SendEvent) => void;

export function emitter(sinks: EventSink[]): (e: NewEvent) => void {
  return (e) => {
    const event = { ...e, time: new Date().toISOString() } as SendEvent;
    for (const sink of sinks) sink(event);
  };
}
