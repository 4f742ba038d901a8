/**
 * The ports the core talks through. Adapters (DynamoDB, S3) implement them and translate their SDK's
 * failures into AppErrors (UPLOAD_GONE, STORAGE_UNAVAILABLE, DATABASE_UNAVAILABLE) at the edge.
 */
import type { Priority, TransferStatus } from "../contract/schemas.js";

export interface TransferRecord {
  id: string;
  name: string;
  size: number;
  sha256: string;
  priority: Priority;
  status: TransferStatus;
  objectKey: string;
  uploadId?: string;
  partsDone: number;
  bytesDone: number;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
  compositeChecksum?: string;
  deduplicatedFrom?: string;
  contentType?: string;
  retries?: number;
  speedBps?: number;
  lastError?: string;
  /** The batch this file was sent in, and its path relative to the folder sent (index byBatch). */
  batchId?: string;
  path?: string;
  /** "single": one presigned PutObject to objectKey, no uploadId; absent means multipart. */
  upload?: "single" | "multipart";
}

export interface PartRecord {
  partNumber: number;
  offset: number;
  size: number;
  sha256: string;
  etag: string;
  uploadedAt: string;
}

export interface StoredObjectRecord {
  sha256: string;
  size: number;
  objectKey: string;
  transferId: string;
  compositeChecksum?: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  keyId: string;
  name: string;
  createdAt: string;
  revokedAt?: string;
  /** Absent on keys made before roles existed: those could do everything, so they count as admin. */
  role?: "admin" | "user";
  /** The admin key that created this one. */
  createdBy?: string;
}

export interface ShareRecord {
  shareId: string;
  tokenHash: string;
  fileId: string;
  createdAt: string;
  expiresAt: string;
  maxDownloads?: number;
  downloads: number;
  revokedAt?: string;
  lastDownloadAt?: string;
}

export type CountDownloadOutcome = "counted" | "refused";

export interface ClientMetrics {
  retries?: number | undefined;
  speedBps?: number | undefined;
  lastError?: string | undefined;
}

export type RecordPartOutcome =
  | { outcome: "new"; partsDone: number; bytesDone: number }
  | { outcome: "existing"; existing: PartRecord }
  | { outcome: "not-uploading" };

export interface ListTransfersQuery {
  status?: TransferStatus | undefined;
  priority?: Priority | undefined;
  sha256?: string | undefined;
  size?: number | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface StatsCounters {
  byStatus: Record<TransferStatus, number>;
  byPriority: Record<Priority, number>;
  bytesStored: number;
  bytesReceived: number;
  bytesDeduplicated: number;
  dedupeHits: number;
  uploadedBytes: number;
  uploadMillis: number;
}

/** A change of counters that goes with one state change. */
export interface StatsDelta {
  status?: Partial<Record<TransferStatus, number>>;
  priority?: Partial<Record<Priority, number>>;
  bytesStored?: number;
  bytesReceived?: number;
  bytesDeduplicated?: number;
  dedupeHits?: number;
  uploadedBytes?: number;
  uploadMillis?: number;
}

export interface TransferRepo {
  createTransfer(t: TransferRecord): Promise<void>;
  getTransfer(id: string): Promise<TransferRecord | undefined>;
  /** Conditionally changes status (only from one of `from`), applying `patch`; undefined if the condition failed. */
  transition(
    id: string,
    from: readonly TransferStatus[],
    to: TransferStatus,
    patch: Partial<TransferRecord>,
    now: string,
  ): Promise<TransferRecord | undefined>;
  /** Records a part if none is recorded under its number, adding to the transfer's counters atomically. */
  recordPart(
    id: string,
    part: PartRecord,
    metrics: ClientMetrics | undefined,
    now: string,
  ): Promise<RecordPartOutcome>;
  /** Replaces a recorded part whose stored bytes changed (same number, re-sent), fixing the counters. */
  replacePart(id: string, old: PartRecord, next: PartRecord, now: string): Promise<boolean>;
  /** Forgets parts storage no longer holds, fixing the counters. */
  forgetParts(id: string, parts: readonly PartRecord[], now: string): Promise<void>;
  listParts(id: string): Promise<PartRecord[]>;
  /**
   * The recorded parts numbered nearest below and above `partNumber` (none, one or two): recorded parts
   * never overlap and ascend with their numbers, so these are the only ones a new part can collide with.
   */
  partNeighbours(id: string, partNumber: number): Promise<PartRecord[]>;
  findStoredObject(sha256: string, size: number): Promise<StoredObjectRecord | undefined>;
  /** Adds the dedupe entry unless one exists (the first stored copy wins). */
  putStoredObject(obj: StoredObjectRecord): Promise<void>;
  /** Transfers still uploading with this content. */
  findOpenTransfers(sha256: string, size: number): Promise<TransferRecord[]>;
  listTransfers(q: ListTransfersQuery): Promise<{ items: TransferRecord[]; cursor?: string }>;
  addStats(delta: StatsDelta): Promise<void>;
  getStats(): Promise<StatsCounters>;
  createShare(share: ShareRecord): Promise<void>;
  getShare(tokenHash: string): Promise<ShareRecord | undefined>;
  /** Counts one download unless the link is revoked, expired (at `now`) or used up — one conditional write. */
  countShareDownload(tokenHash: string, now: string): Promise<CountDownloadOutcome>;
  listShares(fileId: string): Promise<ShareRecord[]>;
  /** The token hash of a file's share, from its id. */
  shareTokenHash(fileId: string, shareId: string): Promise<string | undefined>;
  revokeShare(tokenHash: string, now: string): Promise<ShareRecord | undefined>;
  getApiKey(tokenHash: string): Promise<ApiKeyRecord | undefined>;
  ping(): Promise<void>;
  /** Stores a new key, listed and revocable by its id; false (and nothing written) if the token's hash is known. */
  createApiKey(tokenHash: string, key: ApiKeyRecord): Promise<boolean>;
  /** Keys stored by createApiKey, newest first (never their hashes). */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked (once: a second revoke keeps the first time); undefined if no key has this id. */
  revokeApiKey(keyId: string, now: string): Promise<ApiKeyRecord | undefined>;
}

export interface StoredPart {
  partNumber: number;
  size: number;
  etag: string;
  /** base64 SHA-256 as storage computed and verified it; absent if the store kept none. */
  checksumSha256?: string;
}

export interface PresignedRequest {
  url: string;
  headers: Record<string, string>;
}

export interface ObjectStore {
  createMultipartUpload(key: string, contentType?: string): Promise<string>;
  presignUploadPart(
    key: string,
    uploadId: string,
    part: { partNumber: number; size: number; sha256Base64: string },
    expiresInSeconds: number,
  ): Promise<PresignedRequest>;
  /** All parts storage holds for the upload; throws UPLOAD_GONE if the upload no longer exists. */
  listParts(key: string, uploadId: string): Promise<StoredPart[]>;
  getPart(key: string, uploadId: string, partNumber: number): Promise<StoredPart | undefined>;
  completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string; sha256Base64: string }[],
  ): Promise<{ etag: string; checksumSha256?: string }>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  headObject(key: string): Promise<{ size: number; etag: string; checksumSha256?: string } | undefined>;
  putEmptyObject(key: string, sha256Base64: string): Promise<void>;
  presignGet(key: string, opts: { fileName: string; expiresInSeconds: number }): Promise<string>;
  ping(): Promise<void>;
}

export interface Clock {
  now(): Date;
}
