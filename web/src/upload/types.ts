/**
 * The browser uploader's ports and public shapes, in one place. The engine (engine.ts, file-upload.ts)
 * talks only to these ports; the adapters (coordinator-http.ts over fetch, storage-xhr.ts over
 * XMLHttpRequest, content-hasher.ts over a Web Worker with hash-wasm, part-digest.ts over WebCrypto,
 * resume-store.ts over IndexedDB, link.ts over the link watch with a fetch probe) implement them, and the
 * unit tests drive the engine with in-memory fakes (test/helpers/upload-fakes.ts). The view
 * (components/upload-view.tsx) reads only EngineSnapshot and calls only UploadEngine's methods.
 *
 * Shared with the CLI, not written twice: the planner (cli/engine/planner.ts), the scheduler with its
 * link model (cli/engine/send/scheduler.ts), the retry policy and its link watch (cli/engine/retry.ts,
 * link-watch.ts), the one error classification (cli/engine/classify.ts), units, and the contract's part
 * rules and manifest (functions/contract/part-rules.ts, manifest.ts). Ports throw CliErrors
 * (NetworkError for a network-class failure, with its endpoint), as the CLI's transport does.
 */

import type { RetryPolicy } from "../../../cli/engine/retry.js";
import type {
  BatchFileAnswer,
  BatchFileEntry,
  CompletedFile,
  CreateBatchRequest,
  CreateBatchResponse,
} from "../../../functions/contract/batches.js";
import type {
  FileSummary,
  MissingResponse,
  PartRecordSpec,
  PartSpec,
  PresignResponse,
  Priority,
} from "../../../functions/contract/schemas.js";
import type { StorageInfo } from "../../../functions/contract/storage.js";

// ---- what the user gave: files picked or dropped

/** One file to send: its path in the batch (a folder's files under the folder's own name, as `sfts send DIR`). */
export interface PickedFile {
  path: string;
  /** A File (or any Blob: the unit tests use Blobs). Read only by slices: never whole. */
  file: Blob;
  size: number;
  /** File.lastModified, when known: a file that changes while it is read is refused, not sent torn. */
  lastModified?: number;
}

/** Something of the drop that could not be read: shown in words, the rest of the drop goes on. */
export interface SourceProblem {
  path: string;
  reason: string;
}

/** What one drop or one pick gives: a batch's worth. */
export interface Selection {
  /** The batch's label: the folder's name, or the first file's. */
  name: string;
  files: PickedFile[];
  /** Empty folders, as batch paths (known from drops; a folder input does not list them). */
  dirs: string[];
  problems: SourceProblem[];
}

// ---- ports

/** The coordinator calls the uploader makes (the same routes and contract as the CLI; retries inside). */
export interface Coordinator {
  storage(): Promise<StorageInfo>;
  createBatch(req: CreateBatchRequest): Promise<CreateBatchResponse>;
  addFiles(batchId: string, files: BatchFileEntry[]): Promise<BatchFileAnswer[]>;
  completeFiles(batchId: string, transferIds: string[]): Promise<CompletedFile[]>;
  /** Presigns `parts`, recording `done` first in the same round trip. */
  presign(transferId: string, parts: PartSpec[], done: PartRecordSpec[]): Promise<PresignResponse>;
  missing(transferId: string): Promise<MissingResponse>;
  assemble(transferId: string, parts: PartRecordSpec[]): Promise<FileSummary>;
  /** DELETE /batch/{id}: every unfinished file aborted, storage released. */
  cancelBatch(batchId: string): Promise<void>;
  /** The sender gave up on a transfer (best effort, never throws). */
  fail(transferId: string, reason: string): Promise<void>;
}

export interface StoragePutRequest {
  url: string;
  /** Exactly the presigned headers (they are signed). */
  headers: Record<string, string>;
  /** The bytes the digests were computed from (never re-read from the file). */
  body: Uint8Array;
  /** Bytes of this request acknowledged as sent so far (not cumulative across calls: the running total). */
  onProgress?: (sentBytes: number) => void;
  signal?: AbortSignal | undefined;
}

/** One PUT to storage; resolves storage's ETag, or throws a CliError (classify.ts's storage codes). */
export interface StoragePut {
  put(req: StoragePutRequest): Promise<{ etag: string }>;
}

/** The whole-file SHA-256, streaming and off the main thread; bounded memory whatever the size. */
export interface ContentHasher {
  sha256(file: Blob, onProgress?: (hashedBytes: number) => void, signal?: AbortSignal): Promise<string>;
}

/** Digests of bytes already in memory (a part, a small file). */
export interface PartDigests {
  /** Lower-case hex. */
  sha256(bytes: Uint8Array): Promise<string>;
  /** Base64 (Content-MD5), for storage whose rules' partCheck is md5. */
  md5(bytes: Uint8Array): Promise<string>;
}

/** An unfinished upload this browser remembers (IndexedDB), listed with resume and discard. */
export interface UnfinishedUpload {
  /** The manifest digest: the same drop again resumes the same batch. */
  digest: string;
  batchId: string;
  name: string;
  fileCount: number;
  totalBytes: number;
  /** A folder was picked (resume opens the folder picker) or files. */
  kind: "folder" | "files";
  files: { path: string; size: number; transferId?: string }[];
  startedAt: string;
  updatedAt: string;
}

export interface ResumeStore {
  list(): Promise<UnfinishedUpload[]>;
  put(u: UnfinishedUpload): Promise<void>;
  remove(digest: string): Promise<void>;
}

// ---- the engine's public face

/**
 * One file's phases: queued → hashing → sending → finishing → complete, or failed | cancelled from any
 * phase before complete. A paused or offline batch keeps each file's phase (its work is stopped).
 */
export type FilePhase = "queued" | "hashing" | "sending" | "finishing" | "complete" | "failed" | "cancelled";

/**
 * One batch's phases: preparing (its manifest digest) → running ⇄ paused (the user) and running ⇄
 * offline (the link is dark: waits, resumes by itself) → complete | failed (some file failed, the rest
 * done) | cancelled.
 */
export type BatchPhase = "preparing" | "running" | "paused" | "offline" | "complete" | "failed" | "cancelled";

export interface FileView {
  path: string;
  size: number;
  phase: FilePhase;
  /** Bytes of this file storage holds (recorded, resumed, or acknowledged by a finished PUT). */
  doneBytes: number;
  /** doneBytes plus the bytes of PUTs in flight. */
  sentBytes: number;
  hashedBytes: number;
  transferId?: string;
  /** Whole-file SHA-256 once known. */
  sha256?: string;
  retries: number;
  /** Bytes this session did not have to send: storage held them already (resume) or the content (dedupe). */
  skippedBytes: number;
  error?: string;
}

export interface BatchView {
  /** The engine's id for it (the server's batch id is `batchId`, once known). */
  key: string;
  batchId?: string;
  name: string;
  priority: Priority;
  phase: BatchPhase;
  files: FileView[];
  totalBytes: number;
  doneBytes: number;
  sentBytes: number;
  /** Bytes PUT to storage in this page's session (what the link carried for it). */
  uploadedBytes: number;
  /** Smoothed over the last few seconds; 0 when idle. */
  speedBps: number;
  /** null: unknown. */
  etaSeconds: number | null;
  retries: number;
  /** A sentence when the batch failed or some of its files did. */
  error?: string;
  /** What the drop could not read. */
  problems: SourceProblem[];
}

export interface EngineSnapshot {
  batches: BatchView[];
  /** Transfers refused by storage (GET /api/storage serving false): the sentence, else undefined. */
  refused?: string;
  online: boolean;
  totals: { totalBytes: number; sentBytes: number; speedBps: number; etaSeconds: number | null };
  /** The link model's current parts in flight and part size (for the view's one line). */
  link: { concurrency: number; partSize: number };
}

export interface UploadEngineApi {
  /** Queues a selection as one batch; returns its key. Problems in it are kept on the batch, shown. */
  add(selection: Selection, priority: Priority): string;
  pause(key: string): void;
  resume(key: string): void;
  cancel(key: string): Promise<void>;
  /** Forgets a finished or cancelled batch from the view. */
  dismiss(key: string): void;
  snapshot(): EngineSnapshot;
  subscribe(listener: (s: EngineSnapshot) => void): () => void;
  /** The browser's online/offline events (the link watch notices failures by itself too). */
  setOnline(online: boolean): void;
  /** What this browser remembers of unfinished uploads (not those running in this page). */
  unfinished(): Promise<UnfinishedUpload[]>;
  /** Cancels an unfinished upload on the server (storage released) and forgets it. */
  discard(digest: string): Promise<void>;
}

/** What engine.ts's `new UploadEngine(options)` takes; upload/browser.ts wires the real adapters. */
export interface UploadEngineOptions {
  coordinator: Coordinator;
  storage: StoragePut;
  hasher: ContentHasher;
  digests: PartDigests;
  resume: ResumeStore;
  /**
   * The retry policy for storage PUTs (the coordinator adapter retries its own calls); its `link` is the
   * page's link watch, so an outage waits for the link instead of spending retries.
   */
  retry: RetryPolicy;
  /** Parts in flight at most, all batches (browsers open 6 connections per origin). Default 6. */
  concurrency?: number;
  /** Bytes held in part buffers at once, at most. Default 96 MiB. */
  memory?: number;
  /** Largest part the planner may grow to. Default 16 MiB. */
  maxPartSize?: number;
  /**
   * A run waits this long at most for the part-record calls of an earlier run (one stopped while they
   * waited for the link) to settle before it asks what is recorded, so its plan includes what they
   * record (part-records.ts). Default 10 s.
   */
  recordSettleMs?: number;
  /** Injected clock, ms. */
  now?: () => number;
}
