/**
 * S3 multipart limits, shared by the coordinator, the CLI and the dashboard.
 * Source: "Amazon S3 multipart upload limits" in the S3 User Guide.
 */
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** Every part but the last must be at least 5 MiB. */
export const MIN_PART_SIZE = 5 * MiB;
/** No part may exceed 5 GiB. */
export const MAX_PART_SIZE = 5 * GiB;
/** Part numbers run from 1 to 10,000. */
export const MIN_PART_NUMBER = 1;
export const MAX_PARTS = 10_000;
/** An object may be at most 5 TiB. */
export const MAX_OBJECT_SIZE = 5 * TiB;

/** Longest file name we store (S3 metadata and DynamoDB items stay far below their own caps). */
export const MAX_FILE_NAME_LENGTH = 1024;
/** Parts one presign call may ask for: keeps each answer small and each URL fresh. */
export const MAX_PRESIGN_BATCH = 500;
/** JSON bodies above this are refused with 413 before they are parsed. */
export const MAX_JSON_BODY_BYTES = 256 * KiB;
/** Presigned URL lifetime bounds (seconds): short by default, capped well under SigV4's 7 days. */
export const DEFAULT_PRESIGN_EXPIRES_SECONDS = 15 * 60;
export const MAX_PRESIGN_EXPIRES_SECONDS = 12 * 60 * 60;
/** Share links: lifetime bounds (seconds) and how long a redirect to storage stays valid. */
export const DEFAULT_SHARE_EXPIRES_SECONDS = 24 * 60 * 60;
export const MAX_SHARE_EXPIRES_SECONDS = 30 * 24 * 60 * 60;
export const SHARE_REDIRECT_SECONDS = 5 * 60;
/** A used-up link still serves ranged resumes of a cut download for this long after its last download. */
export const SHARE_RESUME_WINDOW_SECONDS = 60 * 60;
/** Page size bounds for listings. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** Part size the coordinator advises when the client gives no hint. */
export const DEFAULT_PART_SIZE = 8 * MiB;
/**
 * Files up to this size go to storage as one presigned PutObject (signed SHA-256, verified by storage)
 * instead of a multipart upload: one PUT, no CreateMultipartUpload or CompleteMultipartUpload.
 * The client may choose multipart below it; single PUTs above it are refused.
 */
export const MAX_SINGLE_PUT_SIZE = 64 * MiB;
/** Files one batch-files or batch-complete call may carry (keeps bodies under MAX_JSON_BODY_BYTES). */
export const MAX_BATCH_CALL_FILES = 500;
/** Parts whose URLs may be asked for within a file's init entry (the first ones to send). */
export const MAX_INIT_PARTS = 32;
/** Part records one call may carry (presign, parts/done, assemble). */
export const MAX_RECORD_BATCH = 500;
/** Longest relative path stored for a file of a batch (Linux's PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;
/** Empty folders a batch may record (they live on the batch's own item, under DynamoDB's 400 KB). */
export const MAX_BATCH_DIRS = 2000;
/** Files one batch may hold. */
export const MAX_BATCH_FILES = 1_000_000;
