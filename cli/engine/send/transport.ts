/**
 * The sender's port: every call the send engine makes to the coordinator and to storage, as one narrow
 * interface. The engine (scheduler, file transfers, coalescers) only talks to this; http-transport.ts
 * adapts it over ApiClient and putPart, and the unit tests drive the engine with an in-memory fake.
 * Every method throws CliErrors; retries of coordinator calls happen inside the adapter, retries of
 * storage PUTs in the file transfer (it may need a fresh URL first).
 */
import type {
  BatchFileAnswer,
  BatchFileEntry,
  CompletedFile,
  CreateBatchRequest,
  CreateBatchResponse,
  ListBatchFilesResponse,
} from "../../../functions/contract/batches.js";
import type {
  ContentResponse,
  FileSummary,
  MissingResponse,
  PartRecordSpec,
  PartSpec,
  PresignResponse,
  RecordPartsResponse,
} from "../../../functions/contract/schemas.js";
import type { StorageInfo } from "../../../functions/contract/storage.js";

/** What the sender reports about a transfer with its calls, for the dashboard. */
export interface ClientReport {
  retries?: number;
  speedBps?: number;
  lastError?: string;
}

export interface PutRequest {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The bandwidth flow (--limit-rate share) the bytes count against: the file. */
  flow: string;
  onBytes?: (n: number) => void;
  signal?: AbortSignal | undefined;
}

export interface Transport {
  /** GET /api/storage: the storage rules and whether transfers are served; undefined from an older server. */
  storage(): Promise<StorageInfo | undefined>;
  /** Creates the batch, or finds it by its manifest digest; answers the first file entries it carries. */
  createBatch(req: CreateBatchRequest): Promise<CreateBatchResponse>;
  addFiles(batchId: string, files: BatchFileEntry[]): Promise<BatchFileAnswer[]>;
  /** The single-PUT files storage accepted: the coordinator checks storage and completes them. */
  completeFiles(batchId: string, transferIds: string[]): Promise<CompletedFile[]>;
  listBatchFiles(batchId: string, cursor?: string): Promise<ListBatchFilesResponse>;
  /** Presigns `parts`; records `done` (parts sent since the last call) first, in the same round trip. */
  presign(
    transferId: string,
    parts: PartSpec[],
    done: PartRecordSpec[],
    client?: ClientReport,
  ): Promise<PresignResponse>;
  recordParts(
    transferId: string,
    parts: PartRecordSpec[],
    client?: ClientReport,
  ): Promise<RecordPartsResponse>;
  /**
   * The whole-file SHA-256 of an upload started without it: continue (recorded), done (stored already:
   * stop sending) or switch (go on with another unfinished upload of this content).
   */
  nameContent(transferId: string, sha256: string): Promise<ContentResponse>;
  /** Completes a multipart upload, recording `parts` (not sent yet) first. */
  assemble(transferId: string, parts: PartRecordSpec[], client?: ClientReport): Promise<FileSummary>;
  missing(transferId: string): Promise<MissingResponse>;
  /** The sender gave up on a transfer: it is marked failed with the reason. Best effort. */
  fail(transferId: string, reason: string): Promise<void>;
  /** A cheap call that proves server and token work (run beside a long hashing pass). */
  check(): Promise<void>;
  /** One PUT straight to storage (a part, or a whole small file): storage's ETag, or a CliError. */
  put(req: PutRequest): Promise<{ etag: string }>;
}
