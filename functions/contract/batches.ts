/**
 * Batches: everything one `sfts send` (or one drop in the dashboard) sends, with each file's path
 * relative to the folder it was given. A batch is found again by the digest of its manifest (paths and
 * sizes), so a resume needs no local journal. Small files go as one presigned PutObject each, answered
 * in bulk: a file that fits in one PUT costs two coordinator round trips, shared with every other file of
 * the same call (add files → PUT → complete).
 *
 * Calls, in order:
 *   POST /batch                   create, or find by manifest digest (may carry the first files)
 *   POST /batch/{id}/files        add files: each answered done (stored already), put or multipart
 *   POST /batch/{id}/complete     the files whose single PUT storage accepted (the coordinator checks storage)
 *   multipart files: the upload calls (presign with records, POST /assemble/{id} with the last records)
 *   DELETE /batch/{id}            cancel: abort every unfinished file
 *   GET /api/batches, /api/batches/{id}, /api/batches/{id}/files   reading
 *   POST /api/batches/{id}/share  one link that lists the batch's files, each downloadable
 */
import { z } from "zod";
import {
  DEFAULT_PAGE_SIZE,
  MAX_BATCH_CALL_FILES,
  MAX_BATCH_DIRS,
  MAX_BATCH_FILES,
  MAX_FILE_NAME_LENGTH,
  MAX_INIT_PARTS,
  MAX_OBJECT_SIZE,
  MAX_PAGE_SIZE,
  MAX_PART_SIZE,
  MAX_PATH_LENGTH,
} from "./limits.js";
import { unsafePathReason } from "./manifest.js";
import {
  BatchId,
  FileSummary,
  InitResponse,
  Limits,
  PartSpec,
  Priority,
  Sha256Hex,
  TransferId,
  TransferStatus,
} from "./schemas.js";
import { Md5Base64 } from "./storage.js";

export { manifestText, unsafePathReason } from "./manifest.js";

export const BatchStatus = z.enum(["open", "complete", "aborted"]);
export type BatchStatus = z.infer<typeof BatchStatus>;
export const BATCH_STATUSES = BatchStatus.options;

export const RelativePath = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_PATH_LENGTH, `must be at most ${MAX_PATH_LENGTH} characters`)
  .superRefine((p, ctx) => {
    const why = unsafePathReason(p);
    if (why) ctx.addIssue({ code: "custom", message: `path ${why}` });
  })
  .meta({ description: "A path relative to the folder sent, / separated", example: "scans/2026/day 1.tif" });

const FileSize = z.number().int().min(0).max(MAX_OBJECT_SIZE);
const Timestamp = z.string();

export const BatchFileEntry = z
  .object({
    path: RelativePath,
    size: FileSize,
    sha256: Sha256Hex.optional().meta({
      description:
        "Multipart only, may be omitted while the file is still being hashed (content pending): its upload starts at once and POST /upload/{id}/content names the SHA-256 later, before assembly",
    }),
    priority: Priority.optional().meta({ description: "Defaults to the batch's priority" }),
    contentType: z.string().max(256).optional(),
    upload: z
      .enum(["single", "multipart"])
      .optional()
      .meta({ description: "single: one presigned PutObject (up to maxSinglePutSize); default by size" }),
    md5: Md5Base64.optional().meta({
      description:
        "Single only: the file's MD5, base64, required when the storage rules' partCheck is md5 (signed as Content-MD5)",
    }),
    partSizeHint: z.number().int().positive().max(MAX_PART_SIZE).optional(),
    resumeId: TransferId.optional().meta({
      description: "The file's transfer from an earlier run of this batch; resumed if it has this content",
    }),
    parts: z.array(PartSpec).max(MAX_INIT_PARTS).optional().meta({
      description: "Multipart only: the first parts to send, presigned in the answer",
    }),
  })
  .strict()
  .meta({ id: "BatchFileEntry" });
export type BatchFileEntry = z.input<typeof BatchFileEntry>;

export const BatchSummary = z
  .object({
    id: BatchId,
    name: z.string(),
    status: BatchStatus,
    digest: z.string(),
    priority: Priority,
    fileCount: z.number().int(),
    totalBytes: z.number().int(),
    filesComplete: z.number().int(),
    bytesComplete: z.number().int(),
    filesFailed: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    completedAt: Timestamp.optional(),
  })
  .meta({ id: "BatchSummary" });
export type BatchSummary = z.infer<typeof BatchSummary>;

export const BatchDetail = BatchSummary.extend({
  dirs: z.array(z.string()).meta({ description: "Empty folders, recreated by receivers" }),
}).meta({ id: "BatchDetail" });
export type BatchDetail = z.infer<typeof BatchDetail>;

export const CreateBatchRequest = z
  .object({
    name: z
      .string()
      .min(1)
      .max(MAX_FILE_NAME_LENGTH)
      .refine((s) => !s.includes("\u0000") && s.isWellFormed(), "must be valid Unicode without NUL")
      .meta({ description: "A label: the folder's name, or the first file's" }),
    digest: Sha256Hex.meta({ description: "SHA-256 of manifestText(files, dirs)" }),
    fileCount: z.number().int().min(0).max(MAX_BATCH_FILES),
    totalBytes: z.number().int().min(0),
    priority: Priority.default("normal"),
    dirs: z.array(RelativePath).max(MAX_BATCH_DIRS).optional(),
    files: z.array(BatchFileEntry).max(MAX_BATCH_CALL_FILES).optional().meta({
      description: "The first files, answered as by POST /batch/{id}/files (saves a round trip)",
    }),
  })
  .strict()
  .meta({ id: "CreateBatchRequest" });
export type CreateBatchRequest = z.input<typeof CreateBatchRequest>;

export const PresignedPut = z.object({
  method: z.literal("PUT"),
  url: z.string(),
  headers: z
    .record(z.string(), z.string())
    .meta({ description: "Headers the PUT must carry exactly (signed)" }),
  expiresAt: Timestamp,
});
export type PresignedPut = z.infer<typeof PresignedPut>;

export const BatchFileAnswer = z
  .discriminatedUnion("action", [
    z.object({
      action: z.literal("done"),
      path: z.string(),
      transferId: TransferId,
      deduplicated: z.boolean(),
      file: FileSummary,
    }),
    z.object({
      action: z.literal("put"),
      path: z.string(),
      transferId: TransferId,
      stored: z.boolean().meta({
        description: "Storage already holds these bytes (an earlier run's PUT): complete it, don't send",
      }),
      put: PresignedPut,
    }),
    z.object({
      action: z.literal("multipart"),
      path: z.string(),
      transferId: TransferId,
      init: InitResponse,
    }),
  ])
  .meta({ id: "BatchFileAnswer" });
export type BatchFileAnswer = z.infer<typeof BatchFileAnswer>;

export const CreateBatchResponse = z
  .object({
    batchId: BatchId,
    resumed: z.boolean().meta({ description: "A batch with this manifest digest existed; it goes on" }),
    batch: BatchSummary,
    limits: Limits,
    maxSinglePutSize: z.number().int(),
    files: z.array(BatchFileAnswer),
  })
  .meta({ id: "CreateBatchResponse" });
export type CreateBatchResponse = z.infer<typeof CreateBatchResponse>;

export const AddBatchFilesRequest = z
  .object({ files: z.array(BatchFileEntry).min(1).max(MAX_BATCH_CALL_FILES) })
  .strict()
  .meta({ id: "AddBatchFilesRequest" });
export type AddBatchFilesRequest = z.input<typeof AddBatchFilesRequest>;

export const AddBatchFilesResponse = z
  .object({ files: z.array(BatchFileAnswer) })
  .meta({ id: "AddBatchFilesResponse" });
export type AddBatchFilesResponse = z.infer<typeof AddBatchFilesResponse>;

export const CompleteBatchFilesRequest = z
  .object({
    files: z
      .array(z.object({ transferId: TransferId }).strict())
      .min(1)
      .max(MAX_BATCH_CALL_FILES),
  })
  .strict()
  .meta({ id: "CompleteBatchFilesRequest" });
export type CompleteBatchFilesRequest = z.input<typeof CompleteBatchFilesRequest>;

export const CompletedFile = z.object({
  transferId: TransferId,
  status: TransferStatus,
  error: z.object({ code: z.string(), message: z.string() }).optional().meta({
    description:
      "Why this file is not complete (e.g. PART_NOT_STORED: storage holds no such object; PUT it again)",
  }),
});
export type CompletedFile = z.infer<typeof CompletedFile>;

export const CompleteBatchFilesResponse = z
  .object({ files: z.array(CompletedFile), batch: BatchSummary })
  .meta({ id: "CompleteBatchFilesResponse" });
export type CompleteBatchFilesResponse = z.infer<typeof CompleteBatchFilesResponse>;

export const AbortBatchResponse = z
  .object({
    batch: BatchSummary,
    aborted: z.number().int().meta({ description: "Files aborted by this call" }),
  })
  .meta({ id: "AbortBatchResponse" });
export type AbortBatchResponse = z.infer<typeof AbortBatchResponse>;

export const ListBatchesQuery = z
  .object({
    status: BatchStatus.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    cursor: z.string().max(2048).optional(),
  })
  .strict();
export type ListBatchesQuery = z.input<typeof ListBatchesQuery>;

export const ListBatchesResponse = z
  .object({ items: z.array(BatchSummary), nextCursor: z.string().nullable() })
  .meta({ id: "ListBatchesResponse" });
export type ListBatchesResponse = z.infer<typeof ListBatchesResponse>;

export const ListBatchFilesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(MAX_PAGE_SIZE),
    cursor: z.string().max(2048).optional(),
  })
  .strict();
export type ListBatchFilesQuery = z.input<typeof ListBatchFilesQuery>;

export const ListBatchFilesResponse = z
  .object({
    items: z
      .array(FileSummary)
      .meta({ description: "The batch's files, by path; each has path and batchId" }),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: "ListBatchFilesResponse" });
export type ListBatchFilesResponse = z.infer<typeof ListBatchFilesResponse>;

/** What GET /s/{token} answers for a batch's link: its files, each fetched at its own url (counted). */
export const SharedBatchListing = z
  .object({
    batchId: BatchId,
    name: z.string(),
    fileCount: z.number().int(),
    totalBytes: z.number().int(),
    dirs: z.array(z.string()),
    expiresAt: Timestamp,
    files: z.array(
      z.object({
        path: z.string(),
        size: z.number().int(),
        sha256: z.string(),
        url: z.string().meta({ description: "GET it to download this file (counts one download)" }),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: "SharedBatchListing" });
export type SharedBatchListing = z.infer<typeof SharedBatchListing>;

export const PathBatch = z.object({ id: BatchId });
export const PathShareFile = z.object({ token: z.string().min(1).max(200), fileId: TransferId });
