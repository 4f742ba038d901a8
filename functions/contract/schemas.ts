/**
 * The API contract: request and response shapes shared by the coordinator, the CLI and the dashboard.
 * Plain zod (no server imports) so that clients can use it as it is.
 */
import { z } from "zod";
import { ERROR_CODES } from "./errors.js";
import {
  DEFAULT_PAGE_SIZE,
  DEFAULT_SHARE_EXPIRES_SECONDS,
  MAX_FILE_NAME_LENGTH,
  MAX_INIT_PARTS,
  MAX_OBJECT_SIZE,
  MAX_PAGE_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MAX_PRESIGN_BATCH,
  MAX_RECORD_BATCH,
  MAX_SHARE_EXPIRES_SECONDS,
  MIN_PART_NUMBER,
} from "./limits.js";
import { Md5Base64, StorageSummary } from "./storage.js";

export const Sha256Hex = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hexadecimal characters (a SHA-256 digest)")
  .transform((s) => s.toLowerCase())
  .meta({
    description: "SHA-256 digest, hexadecimal",
    example: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  });

export const TransferId = z
  .string()
  .regex(/^tr_[0-9a-z]{26}$/, "must be a transfer id (tr_ followed by 26 characters)")
  .meta({ description: "Transfer id", example: "tr_01kb4x5q2m3n4p5r6s7t8v9w0x" });

export const BatchId = z
  .string()
  .regex(/^bt_[0-9a-z]{26}$/, "must be a batch id (bt_ followed by 26 characters)")
  .meta({ description: "Batch id", example: "bt_01kb4x5q2m3n4p5r6s7t8v9w0x" });

export const Priority = z.enum(["high", "normal", "low"]);
export type Priority = z.infer<typeof Priority>;
export const PRIORITIES = Priority.options;

export const TransferStatus = z.enum(["uploading", "assembling", "complete", "aborted", "failed"]);
export type TransferStatus = z.infer<typeof TransferStatus>;
export const TRANSFER_STATUSES = TransferStatus.options;

const ByteCount = z.number().int().nonnegative();
const FileSize = z
  .number()
  .int("must be a whole number of bytes")
  .min(0, "must not be negative")
  .max(MAX_OBJECT_SIZE, `must be at most ${MAX_OBJECT_SIZE} bytes (5 TiB, the S3 object limit)`);
const partNumber = () =>
  z
    .number()
    .int()
    .min(MIN_PART_NUMBER, `part numbers start at ${MIN_PART_NUMBER}`)
    .max(MAX_PARTS, `part numbers end at ${MAX_PARTS}`);
/** In JSON bodies a part number must be a number; in paths it arrives as text. */
const PartNumber = partNumber();
const PartNumberParam = z.coerce.number().pipe(partNumber());
const PartSize = z.number().int().min(0).max(MAX_PART_SIZE, "a part is at most 5 GiB");
const Timestamp = z.string().meta({ description: "ISO 8601 time", example: "2026-11-29T12:00:00.000Z" });

/** File names are stored as given (for display and download headers) but never used as storage keys. */
const FileName = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_FILE_NAME_LENGTH, `must be at most ${MAX_FILE_NAME_LENGTH} characters`)
  .refine((s) => !s.includes("\u0000"), "must not contain NUL")
  .refine((s) => s.isWellFormed(), "must be valid Unicode (no lone surrogates)");

// ---- errors

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: "Error" });
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---- shared shapes

export const Limits = z.object({
  minPartSize: z.number().int(),
  maxPartSize: z.number().int(),
  maxParts: z.number().int(),
  maxObjectSize: z.number().int(),
  maxPresignBatch: z.number().int(),
  presignExpiresSeconds: z.number().int(),
});
export type Limits = z.infer<typeof Limits>;

export const PartInfo = z
  .object({
    partNumber: z.number().int(),
    offset: ByteCount,
    size: ByteCount,
    sha256: z.string(),
    etag: z.string(),
    uploadedAt: Timestamp,
  })
  .meta({ id: "Part" });
export type PartInfo = z.infer<typeof PartInfo>;

export const FileSummary = z
  .object({
    id: TransferId,
    name: z.string(),
    size: ByteCount,
    sha256: z.string(),
    priority: Priority,
    status: TransferStatus,
    partsDone: z.number().int(),
    bytesDone: ByteCount,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    completedAt: Timestamp.optional(),
    compositeChecksum: z
      .string()
      .optional()
      .meta({ description: "S3 composite SHA-256 (base64 of the digest of part digests, then -N)" }),
    deduplicatedFrom: TransferId.optional(),
    contentType: z.string().optional(),
    retries: z.number().int().optional(),
    speedBps: z.number().optional(),
    etaSeconds: z
      .number()
      .optional()
      .meta({ description: "While uploading: bytes left at the sender's last reported speed" }),
    lastError: z.string().optional(),
    batchId: BatchId.optional().meta({ description: "The batch (one send command) this file belongs to" }),
    path: z
      .string()
      .optional()
      .meta({ description: "The file's path relative to the folder it was sent from, with / separators" }),
    upload: z
      .enum(["single", "multipart"])
      .optional()
      .meta({ description: "One presigned PutObject, or a multipart upload" }),
    storageCheck: z.enum(["sha256", "md5", "none"]).optional().meta({
      description:
        "The digest storage verified each part's bytes against when they were stored; none: the coordinator ran with SFTS_ALLOW_UNVERIFIED_STORAGE on a store that accepted damaged bytes (the whole-file SHA-256 is still checked at assembly and by receivers)",
    }),
  })
  .meta({ id: "FileSummary" });
export type FileSummary = z.infer<typeof FileSummary>;

export const FileDetail = FileSummary.extend({ parts: z.array(PartInfo) }).meta({ id: "FileDetail" });
export type FileDetail = z.infer<typeof FileDetail>;

// ---- parts: what to presign, what storage holds

export const PartSpec = z
  .object({
    partNumber: PartNumber,
    offset: ByteCount,
    size: PartSize,
    sha256: Sha256Hex,
    md5: Md5Base64.optional().meta({
      description:
        "The part's MD5, base64: required when the storage rules' partCheck is md5 (it is signed as Content-MD5)",
    }),
  })
  .strict();
export type PartSpec = z.infer<typeof PartSpec>;

/** A part the client PUT and storage accepted: recorded (after the coordinator checks storage) on a later call. */
export const PartRecordSpec = PartSpec.extend({ etag: z.string().min(1).max(256) })
  .strict()
  .meta({ id: "PartRecord" });
export type PartRecordSpec = z.infer<typeof PartRecordSpec>;

export const ClientMetrics = z
  .object({
    retries: z.number().int().nonnegative().max(1_000_000).optional(),
    speedBps: z.number().nonnegative().max(1e12).optional(),
    lastError: z.string().max(500).optional(),
  })
  .strict();

export const RecordedPart = z.object({
  partNumber: z.number().int(),
  recorded: z.enum(["new", "existing", "replaced"]),
});
export type RecordedPart = z.infer<typeof RecordedPart>;

export const PresignedPart = z.object({
  partNumber: z.number().int(),
  method: z.literal("PUT"),
  url: z.string(),
  headers: z
    .record(z.string(), z.string())
    .meta({ description: "Headers the PUT must carry exactly (they are signed)" }),
  expiresAt: Timestamp,
});
export type PresignedPart = z.infer<typeof PresignedPart>;

export const MissingRange = z.object({
  offset: ByteCount,
  size: ByteCount,
  firstPart: z.number().int().meta({ description: "Lowest part number free for this range" }),
  lastPart: z.number().int().meta({ description: "Highest part number free for this range" }),
});
export type MissingRange = z.infer<typeof MissingRange>;

const RecordedPartInfo = z.object({
  partNumber: z.number().int(),
  offset: ByteCount,
  size: ByteCount,
  sha256: z.string(),
});

/**
 * A part storage holds that the coordinator never recorded (the sender crashed between the PUT and the
 * record). `offset` is where it would sit if it follows the part before it; the client hashes its file
 * there and, if the SHA-256 matches, records it instead of sending it again.
 */
export const UnrecordedPart = z.object({
  partNumber: z.number().int(),
  offset: ByteCount,
  size: ByteCount,
  sha256: z.string(),
  etag: z.string(),
});
export type UnrecordedPart = z.infer<typeof UnrecordedPart>;

// ---- init

export const InitRequest = z
  .object({
    name: FileName,
    size: FileSize,
    sha256: Sha256Hex.optional().meta({
      description:
        "Omit while the file is still being hashed (content pending): nothing is deduplicated or looked up by content then; POST /upload/{id}/content names it as soon as it is known, before assembly",
    }),
    priority: Priority.default("normal"),
    partSizeHint: z.number().int().positive().max(MAX_PART_SIZE).optional(),
    contentType: z
      .string()
      .max(256)
      .regex(/^[\x21-\x7e]+\/[\x21-\x7e]+( *;[\x20-\x7e]*)?$/, "must be a media type such as video/mp4")
      .optional(),
    resumeId: TransferId.optional().meta({
      description:
        "An unfinished transfer of this content the client knows of (its journal); else the coordinator looks one up by SHA-256 and size",
    }),
    parts: z
      .array(PartSpec)
      .max(MAX_INIT_PARTS)
      .optional()
      .meta({ description: "The first parts to send: their presigned URLs come back with the answer" }),
  })
  .strict()
  .meta({ id: "InitRequest" });
export type InitRequest = z.input<typeof InitRequest>;

export const InitResponse = z
  .object({
    transferId: TransferId,
    status: TransferStatus,
    deduplicated: z.boolean(),
    partSize: z.number().int().meta({ description: "Recommended part size for this file" }),
    limits: Limits,
    file: FileSummary,
    resumed: z
      .boolean()
      .meta({ description: "An unfinished upload of this content was found (find-or-create by content)" }),
    missing: z
      .array(MissingRange)
      .meta({ description: "Byte ranges storage does not hold yet (all of the file for a new upload)" }),
    parts: z.array(RecordedPartInfo).meta({ description: "Parts recorded so far (resumed uploads)" }),
    unrecorded: z.array(UnrecordedPart),
    presigned: z
      .array(PresignedPart)
      .meta({ description: "URLs for the parts asked for in the request (those still missing)" }),
  })
  .meta({ id: "InitResponse" });
export type InitResponse = z.infer<typeof InitResponse>;

// ---- content: the whole-file SHA-256 of an upload started before it was known

export const ContentRequest = z.object({ sha256: Sha256Hex }).strict().meta({ id: "ContentRequest" });
export type ContentRequest = z.input<typeof ContentRequest>;

/**
 * What becomes of an upload once its content is known:
 *   continue  nothing of this content is stored or under way elsewhere: the SHA-256 is recorded, go on
 *   done      it is stored already: this transfer now points at the stored copy (deduplicated; its own
 *             upload is released), or the file's own earlier transfer of the batch is complete: stop sending
 *   switch    an unfinished upload of this content exists: this one is given up (released, out of the
 *             listing) and the client goes on with that one, sending only what `init` says is missing
 */
export const ContentResponse = z
  .discriminatedUnion("action", [
    z.object({ action: z.literal("continue"), transferId: TransferId, file: FileSummary }),
    z.object({
      action: z.literal("done"),
      transferId: TransferId,
      deduplicated: z.boolean(),
      file: FileSummary,
    }),
    z.object({ action: z.literal("switch"), transferId: TransferId, init: InitResponse }),
  ])
  .meta({ id: "ContentResponse" });
export type ContentResponse = z.infer<typeof ContentResponse>;

// ---- presign

export const PresignRequest = z
  .object({
    parts: z.array(PartSpec).max(MAX_PRESIGN_BATCH),
    done: z
      .array(PartRecordSpec)
      .max(MAX_RECORD_BATCH)
      .optional()
      .meta({ description: "Parts sent since the last call, recorded (checked against storage) first" }),
    client: ClientMetrics.optional(),
  })
  .strict()
  .refine((r) => r.parts.length + (r.done?.length ?? 0) > 0, "ask for at least one part or record one")
  .meta({ id: "PresignRequest" });
export type PresignRequest = z.input<typeof PresignRequest>;

export const PresignResponse = z
  .object({
    parts: z.array(PresignedPart),
    recorded: z.array(RecordedPart).optional(),
    partsDone: z.number().int().optional(),
    bytesDone: ByteCount.optional(),
  })
  .meta({ id: "PresignResponse" });
export type PresignResponse = z.infer<typeof PresignResponse>;

// ---- recording parts in bulk, assembling with the last records, giving up

export const RecordPartsRequest = z
  .object({ parts: z.array(PartRecordSpec).min(1).max(MAX_RECORD_BATCH), client: ClientMetrics.optional() })
  .strict()
  .meta({ id: "RecordPartsRequest" });
export type RecordPartsRequest = z.input<typeof RecordPartsRequest>;

export const RecordPartsResponse = z
  .object({ recorded: z.array(RecordedPart), partsDone: z.number().int(), bytesDone: ByteCount })
  .meta({ id: "RecordPartsResponse" });
export type RecordPartsResponse = z.infer<typeof RecordPartsResponse>;

/** The body of POST /assemble/{id} is optional; it may carry the parts not recorded yet. */
export const AssembleRequest = z
  .object({
    parts: z.array(PartRecordSpec).max(MAX_RECORD_BATCH).optional(),
    client: ClientMetrics.optional(),
  })
  .strict()
  .meta({ id: "AssembleRequest" });
export type AssembleRequest = z.input<typeof AssembleRequest>;

/** The sender gave up on a file: the transfer says why instead of looking busy forever. */
export const FailRequest = z
  .object({
    reason: z.string().min(1).max(500),
    abort: z.boolean().default(false).meta({
      description: "Also abort the upload (storage releases its parts); else it stays resumable as failed",
    }),
  })
  .strict()
  .meta({ id: "FailRequest" });
export type FailRequest = z.input<typeof FailRequest>;

// ---- part done

export const PartDoneRequest = z
  .object({
    offset: ByteCount,
    size: PartSize,
    sha256: Sha256Hex,
    etag: z.string().min(1).max(256),
    client: ClientMetrics.optional(),
  })
  .strict()
  .meta({ id: "PartDoneRequest" });
export type PartDoneRequest = z.input<typeof PartDoneRequest>;

export const PartDoneResponse = z
  .object({
    partNumber: z.number().int(),
    recorded: z.enum(["new", "existing", "replaced"]),
    partsDone: z.number().int(),
    bytesDone: ByteCount,
  })
  .meta({ id: "PartDoneResponse" });
export type PartDoneResponse = z.infer<typeof PartDoneResponse>;

// ---- missing

export const MissingResponse = z
  .object({
    transferId: TransferId,
    status: TransferStatus,
    size: ByteCount,
    bytesDone: ByteCount,
    partsDone: z.number().int(),
    missing: z.array(MissingRange),
    parts: z.array(RecordedPartInfo),
    unrecorded: z.array(UnrecordedPart),
  })
  .meta({ id: "MissingResponse" });
export type MissingResponse = z.infer<typeof MissingResponse>;

// ---- abort

export const AbortResponse = z
  .object({ transferId: TransferId, status: TransferStatus })
  .meta({ id: "AbortResponse" });

// ---- files

export const ListFilesQuery = z
  .object({
    status: TransferStatus.optional(),
    priority: Priority.optional(),
    sha256: Sha256Hex.optional(),
    size: z.coerce.number().int().min(0).max(MAX_OBJECT_SIZE).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    cursor: z.string().max(2048).optional(),
  })
  .strict();
export type ListFilesQuery = z.input<typeof ListFilesQuery>;

export const ListFilesResponse = z
  .object({ items: z.array(FileSummary), nextCursor: z.string().nullable() })
  .meta({ id: "ListFilesResponse" });
export type ListFilesResponse = z.infer<typeof ListFilesResponse>;

// ---- download

export const DownloadQuery = z.object({ redirect: z.enum(["true", "false"]).default("true") }).strict();

export const DownloadResponse = z
  .object({ url: z.string(), expiresAt: Timestamp, name: z.string(), size: ByteCount, sha256: z.string() })
  .meta({ id: "DownloadResponse" });
export type DownloadResponse = z.infer<typeof DownloadResponse>;

// ---- stats

const StatusCounts = z.object(
  Object.fromEntries(TRANSFER_STATUSES.map((s) => [s, z.number().int()])) as {
    [K in TransferStatus]: z.ZodNumber;
  },
);
const PriorityCounts = z.object(
  Object.fromEntries(PRIORITIES.map((p) => [p, z.number().int()])) as {
    [K in Priority]: z.ZodNumber;
  },
);

export const StatsResponse = z
  .object({
    transfers: z.object({ total: z.number().int(), byStatus: StatusCounts, byPriority: PriorityCounts }),
    bytes: z.object({
      stored: ByteCount.meta({ description: "Bytes of completed files (deduplicated ones included)" }),
      received: ByteCount.meta({ description: "Bytes of parts recorded as stored" }),
      deduplicated: ByteCount.meta({ description: "Bytes not sent thanks to whole-file dedupe" }),
    }),
    dedupeHits: z.number().int(),
    successRate: z
      .number()
      .nullable()
      .meta({ description: "complete / (complete + failed + aborted); null before any ended" }),
    meanSpeedBps: z.number().nullable().meta({ description: "Bytes of uploaded files / their upload time" }),
    storage: StorageSummary,
    generatedAt: Timestamp,
  })
  .meta({ id: "StatsResponse" });
export type StatsResponse = z.infer<typeof StatsResponse>;

// ---- health

const Check = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
export const HealthResponse = z
  .object({
    status: z.enum(["ok", "degraded"]),
    version: z.string(),
    time: Timestamp,
    checks: z.object({ s3: Check, dynamodb: Check }),
    storage: StorageSummary,
  })
  .meta({ id: "HealthResponse" });
export type HealthResponse = z.infer<typeof HealthResponse>;

export const PathId = z.object({ id: TransferId });
export const PathPart = z.object({ id: TransferId, n: PartNumberParam });

// ---- share links

export const ShareId = z
  .string()
  .regex(/^sh_[0-9a-f]{20}$/, "must be a share id (sh_ followed by 20 hex digits)");

export const CreateShareRequest = z
  .object({
    expiresIn: z
      .number()
      .int()
      .min(1)
      .max(MAX_SHARE_EXPIRES_SECONDS, "a link lives at most 30 days")
      .default(DEFAULT_SHARE_EXPIRES_SECONDS)
      .meta({ description: "Seconds until the link stops working" }),
    maxDownloads: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .meta({ id: "CreateShareRequest" });
export type CreateShareRequest = z.input<typeof CreateShareRequest>;

export const ShareState = z.enum(["active", "expired", "used-up", "revoked"]);

export const ShareInfo = z
  .object({
    shareId: ShareId,
    fileId: z.union([TransferId, BatchId]).meta({ description: "The file, or the batch, the link serves" }),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    maxDownloads: z.number().int().optional(),
    downloads: z.number().int(),
    revokedAt: Timestamp.optional(),
    state: ShareState,
  })
  .meta({ id: "ShareInfo" });
export type ShareInfo = z.infer<typeof ShareInfo>;

export const CreatedShare = ShareInfo.extend({
  token: z.string().meta({ description: "The secret part of the link; shown once, stored only hashed" }),
  url: z.string().meta({ description: "The link to hand out: GET it (no token needed) to download" }),
}).meta({ id: "CreatedShare" });
export type CreatedShare = z.infer<typeof CreatedShare>;

export const ShareList = z.object({ items: z.array(ShareInfo) }).meta({ id: "ShareList" });

export const RevokeShareRequest = z
  .object({ token: z.string().min(1).max(200) })
  .strict()
  .meta({ id: "RevokeShareRequest" });

export const PathShare = z.object({ id: TransferId, shareId: ShareId });
export const PathShareToken = z.object({ token: z.string().min(1).max(200) });
