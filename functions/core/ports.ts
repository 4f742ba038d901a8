/**
 * The ports the core talks through. Adapters (DynamoDB, S3) implement them and translate their SDK's
 * failures into AppErrors (UPLOAD_GONE, STORAGE_UNAVAILABLE, DATABASE_UNAVAILABLE) at the edge.
 */
import type { BatchStatus } from "../contract/batches.js";
import type { Priority, TransferStatus } from "../contract/schemas.js";

/**
 * The SHA-256 of a multipart upload started before its content was known (the sender hashes the file
 * while it sends it): such a transfer is found by no content lookup until POST /upload/{id}/content names
 * it, and cannot be assembled before.
 */
export const CONTENT_PENDING = "";

export interface TransferRecord {
  id: string;
  name: string;
  size: number;
  /** CONTENT_PENDING until named. */
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
  /**
   * What storage verified each part (or the single PUT) against when it was sent: the profile's check,
   * or "none" while the coordinator served storage its probe found accepting damaged bytes. Absent on
   * records made before storage profiles.
   */
  storageCheck?: StorageCheck;
  /** Uniform-parts storage: the upload's one part size (part n covers [(n-1)×partSize, n×partSize)). */
  partSize?: number;
}

/** What storage checked a transfer's bytes against (FileSummary.storageCheck). */
export type StorageCheck = "sha256" | "md5" | "none";

/** The digests of a part or object, base64: SHA-256 always, MD5 when storage checks Content-MD5. */
export interface Digests {
  sha256Base64: string;
  md5Base64?: string | undefined;
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

/** Several parts recorded at once: all new (one transaction), or why not (nothing was written then). */
export type RecordPartsOutcome =
  | { outcome: "new" }
  | { outcome: "existing"; existing: PartRecord[] }
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
  /**
   * Records up to 99 new parts and adds their count and bytes to the transfer in one transaction
   * (condition: uploading). If any is recorded already, nothing is written and those are returned.
   */
  recordParts(
    id: string,
    parts: readonly PartRecord[],
    metrics: ClientMetrics | undefined,
    now: string,
  ): Promise<RecordPartsOutcome>;
  /**
   * Names the content of an uploading transfer whose content is pending (or is this SHA-256 already):
   * sets its SHA-256, so content lookups find it from now on. Undefined if the condition failed.
   */
  nameContent(id: string, sha256: string, size: number, now: string): Promise<TransferRecord | undefined>;
  /** Takes a transfer out of its batch's listing (replaced); whether it was listed. */
  detachFromBatch(id: string, now: string): Promise<boolean>;
  /** Deletes a transfer's part records, counters untouched (it was completed by pointing at a stored copy). */
  dropParts(id: string): Promise<void>;
  /** Puts an uploading transfer that belongs to no batch into one (a batch resuming its content). */
  adoptIntoBatch(id: string, batchId: string, path: string, now: string): Promise<TransferRecord | undefined>;
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
  /**
   * A presigned UploadPart of exactly `size` bytes whose digest is a signed header (x-amz-checksum-sha256,
   * or content-md5 when the store checks MD5: md5Base64 is required then), so storage refuses other bytes.
   */
  presignUploadPart(
    key: string,
    uploadId: string,
    part: { partNumber: number; size: number } & Digests,
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
  /** Deletes an object (a single PUT given up on); deleting one that does not exist is no error. */
  deleteObject(key: string): Promise<void>;
  /**
   * A presigned PutObject of exactly `size` bytes whose digest is a signed header (as presignUploadPart),
   * so storage refuses other bytes (BadDigest / InvalidDigest); the returned headers must be sent as they are.
   */
  presignPutObject(
    key: string,
    object: { size: number; contentType?: string | undefined } & Digests,
    expiresInSeconds: number,
  ): Promise<PresignedRequest>;
  putEmptyObject(key: string, digests: Digests): Promise<void>;
  presignGet(key: string, opts: { fileName: string; expiresInSeconds: number }): Promise<string>;
  ping(): Promise<void>;
}

export interface BatchRecord {
  id: string;
  name: string;
  /** SHA-256 of the manifest's text: the batch is found again by it. */
  digest: string;
  priority: Priority;
  status: BatchStatus;
  fileCount: number;
  totalBytes: number;
  filesComplete: number;
  bytesComplete: number;
  filesFailed: number;
  /** Empty folders, recreated by receivers. */
  dirs: string[];
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
}

/** What one call adds to a batch's counters (only transitions that really happened). */
export interface BatchCounts {
  filesComplete?: number;
  bytesComplete?: number;
  filesFailed?: number;
}

export interface ListBatchesQuery {
  status?: BatchStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface BatchRepo {
  /**
   * Creates the batch unless one with its digest exists (the digest pointer is put-if-absent, so two
   * concurrent creates of one manifest end with one batch): the batch holding the digest, and whether
   * this call made it.
   */
  createOrFindBatch(b: BatchRecord): Promise<{ batch: BatchRecord; created: boolean }>;
  getBatch(id: string): Promise<BatchRecord | undefined>;
  /** Newest first. */
  listBatches(q: ListBatchesQuery): Promise<{ items: BatchRecord[]; cursor?: string }>;
  /** The batch's transfers by path (index byBatch). */
  listBatchFiles(
    batchId: string,
    q: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: TransferRecord[]; cursor?: string }>;
  /** The transfers the batch's listing holds at this path (one, or none; more only for a moment). */
  listedAtPath(batchId: string, path: string): Promise<TransferRecord[]>;
  /** Transfers by id, in bulk (absent ones are left out). */
  getTransfers(ids: readonly string[]): Promise<TransferRecord[]>;
  /** Dedupe entries in bulk, keyed `<sha256>#<size>`. */
  findStoredObjects(
    keys: readonly { sha256: string; size: number }[],
  ): Promise<Map<string, StoredObjectRecord>>;
  /** Writes new transfer records in bulk; the ids that exist already (those records are not written). */
  createTransfers(ts: readonly TransferRecord[]): Promise<Set<string>>;
  /**
   * In bulk: moves each transfer still uploading to complete (completedAt = now) and adds the dedupe
   * entry of its content unless one exists (the first stored copy wins). The ids that really moved.
   */
  completeTransfers(ts: readonly TransferRecord[], now: string): Promise<Set<string>>;
  /**
   * Takes a transfer out of its batch's listing (a newer transfer of that path replaces it); whether it
   * was listed (false: gone, or taken out already).
   */
  detachFromBatch(transferId: string, now: string): Promise<boolean>;
  /**
   * Adds to the counters; an open batch whose filesComplete reaches fileCount becomes complete.
   * Undefined if the batch does not exist.
   */
  addToBatch(id: string, counts: BatchCounts, now: string): Promise<BatchRecord | undefined>;
  /** Conditionally changes status (only from one of `from`); undefined if the condition failed. */
  setBatchStatus(
    id: string,
    from: readonly BatchStatus[],
    to: BatchStatus,
    now: string,
  ): Promise<BatchRecord | undefined>;
}

export const storedObjectKey = (sha256: string, size: number): string => `${sha256}#${size}`;

export interface Clock {
  now(): Date;
}
