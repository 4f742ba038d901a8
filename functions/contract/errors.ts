/**
 * The one error catalogue. Every error the API returns is `{ error: { code, message } }`
 * with one of these codes; the CLI maps the same codes to messages and exit codes.
 */
export const ERRORS = {
  INVALID_INPUT: { status: 400, message: "The request is not valid." },
  INVALID_PART: { status: 400, message: "The part breaks the multipart rules." },
  INVALID_CURSOR: { status: 400, message: "The paging cursor is not valid." },
  UNAUTHORIZED: { status: 401, message: "A valid API token is required (Authorization: Bearer <token>)." },
  FORBIDDEN: { status: 403, message: "This API key may not do this." },
  NOT_FOUND: { status: 404, message: "No such transfer." },
  ROUTE_NOT_FOUND: { status: 404, message: "No such route." },
  METHOD_NOT_ALLOWED: { status: 405, message: "Method not allowed on this route." },
  INVALID_STATE: { status: 409, message: "The transfer is not in a state that allows this." },
  PARTS_MISSING: { status: 409, message: "Parts of the file are not stored yet." },
  PART_NOT_STORED: { status: 409, message: "Storage does not hold this part as described." },
  PART_CONFLICT: { status: 409, message: "The part is already recorded with different contents." },
  CONTENT_PENDING: {
    status: 409,
    message: "The file's SHA-256 is not known yet: name it (POST /upload/{id}/content) first.",
  },
  CHECKSUM_MISMATCH: { status: 409, message: "A stored part's checksum does not match its record." },
  UPLOAD_GONE: { status: 410, message: "The multipart upload no longer exists in storage." },
  SHARE_NOT_FOUND: { status: 404, message: "No such share link." },
  SHARE_EXPIRED: { status: 410, message: "This share link has expired." },
  SHARE_USED_UP: { status: 410, message: "This share link has been used as many times as it allows." },
  SHARE_REVOKED: { status: 410, message: "This share link was revoked." },
  PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is too large." },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: "The request body must be JSON (Content-Type: application/json).",
  },
  RATE_LIMITED: { status: 429, message: "Too many requests; retry later." },
  INTERNAL: { status: 500, message: "Internal error." },
  STORAGE_UNAVAILABLE: { status: 503, message: "The storage service is unavailable." },
  STORAGE_UNVERIFIED: {
    status: 503,
    message:
      "Storage was not shown to refuse damaged bytes, so transfers are refused; GET /health says why (SFTS_ALLOW_UNVERIFIED_STORAGE=1 serves them anyway, unverified).",
  },
  DATABASE_UNAVAILABLE: { status: 503, message: "The database is unavailable." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];
