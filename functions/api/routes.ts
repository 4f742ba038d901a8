/**
 * Route definitions: paths, validation schemas and documented responses, from which the OpenAPI
 * document is generated. Handlers live in app.ts.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { SharedBatchListing } from "../contract/batches.js";
import {
  AbortResponse,
  AssembleRequest,
  ContentRequest,
  ContentResponse,
  CreatedShare,
  CreateShareRequest,
  DownloadQuery,
  DownloadResponse,
  ErrorBody,
  FailRequest,
  FileDetail,
  FileSummary,
  HealthResponse,
  InitRequest,
  InitResponse,
  ListFilesQuery,
  ListFilesResponse,
  MissingResponse,
  PartDoneRequest,
  PartDoneResponse,
  PathId,
  PathPart,
  PathShare,
  PathShareToken,
  PresignRequest,
  PresignResponse,
  RecordPartsRequest,
  RecordPartsResponse,
  RevokeShareRequest,
  ShareInfo,
  ShareList,
  StatsResponse,
} from "../contract/schemas.js";
import { body, errors, json, secured } from "./openapi-common.js";

/**
 * GET /s/{token} of a batch's link: the next page of its files. Not strict: a link pasted with other
 * query parameters (a mail client's tracking, say) still opens.
 */
const ShareListingQuery = z.object({ cursor: z.string().max(2048).optional() });

export const initRoute = createRoute({
  method: "post",
  path: "/upload/init",
  tags: ["upload"],
  summary:
    "Find or create a transfer by content: complete at once if stored (dedupe), resume an unfinished upload " +
    "of the same SHA-256 and size (missing ranges, recorded and unrecorded parts), or start one; " +
    "the first parts asked for come back presigned",
  ...secured,
  request: body(InitRequest),
  responses: { 200: json(InitResponse, "Transfer started or deduplicated"), ...errors(400, 401, 413, 415) },
});

export const contentRoute = createRoute({
  method: "post",
  path: "/upload/{id}/content",
  tags: ["upload"],
  summary:
    "Name the SHA-256 of an upload started without it (content pending): done if the content is stored " +
    "already (deduplicated; the upload is released), switch to an unfinished upload of the same content " +
    "(this one is given up), or continue (the SHA-256 is recorded; assembly needs it)",
  ...secured,
  request: { params: PathId, ...body(ContentRequest) },
  responses: {
    200: json(ContentResponse, "What becomes of the upload"),
    ...errors(400, 401, 404, 409, 413, 415),
  },
});

export const presignRoute = createRoute({
  method: "post",
  path: "/upload/{id}/parts",
  tags: ["upload"],
  summary:
    "Presign UploadPart URLs for a batch of parts (each part's SHA-256 is a signed header); " +
    "parts in `done` are recorded first, checked against storage",
  ...secured,
  request: { params: PathId, ...body(PresignRequest) },
  responses: { 200: json(PresignResponse, "Presigned PUTs"), ...errors(400, 401, 404, 409, 413, 415) },
});

export const partDoneRoute = createRoute({
  method: "post",
  path: "/upload/{id}/parts/{n}/done",
  tags: ["upload"],
  summary: "Record a part storage holds (checked against storage; idempotent)",
  ...secured,
  request: { params: PathPart, ...body(PartDoneRequest) },
  responses: { 200: json(PartDoneResponse, "Part recorded"), ...errors(400, 401, 404, 409, 413, 415) },
});

export const recordPartsRoute = createRoute({
  method: "post",
  path: "/upload/{id}/parts/done",
  tags: ["upload"],
  summary: "Record parts storage holds, in bulk (one storage check, one write per part; idempotent)",
  ...secured,
  request: { params: PathId, ...body(RecordPartsRequest) },
  responses: {
    200: json(RecordPartsResponse, "Parts recorded"),
    ...errors(400, 401, 404, 409, 410, 413, 415),
  },
});

export const failRoute = createRoute({
  method: "post",
  path: "/upload/{id}/fail",
  tags: ["upload"],
  summary:
    "The sender gives up: the transfer is failed with the reason (with abort, also released and aborted)",
  ...secured,
  request: { params: PathId, ...body(FailRequest) },
  responses: { 200: json(AbortResponse, "Failed or aborted"), ...errors(400, 401, 404, 409, 413, 415) },
});

export const missingRoute = createRoute({
  method: "get",
  path: "/upload/missing/{id}",
  tags: ["upload"],
  summary: "Byte ranges not yet stored, reconciled with storage's own list of parts",
  ...secured,
  request: { params: PathId },
  responses: {
    200: json(MissingResponse, "Missing ranges and recorded parts"),
    ...errors(400, 401, 404, 409, 410),
  },
});

export const assembleRoute = createRoute({
  method: "post",
  path: "/assemble/{id}",
  tags: ["upload"],
  summary:
    "Record the last parts (optional body), check every part against storage and complete the upload (idempotent)",
  ...secured,
  request: {
    params: PathId,
    body: { content: { "application/json": { schema: AssembleRequest } }, required: false },
  },
  responses: { 200: json(FileSummary, "The complete file"), ...errors(400, 401, 404, 409, 410, 413, 415) },
});

export const abortRoute = createRoute({
  method: "delete",
  path: "/upload/{id}",
  tags: ["upload"],
  summary: "Abort a transfer and release what storage holds for it",
  ...secured,
  request: { params: PathId },
  responses: { 200: json(AbortResponse, "Aborted"), ...errors(400, 401, 404, 409) },
});

export const listFilesRoute = createRoute({
  method: "get",
  path: "/api/files",
  tags: ["files"],
  summary: "List transfers, newest first (paged; filter by status, priority, sha256, size)",
  ...secured,
  request: { query: ListFilesQuery },
  responses: { 200: json(ListFilesResponse, "A page of transfers"), ...errors(400, 401) },
});

export const fileRoute = createRoute({
  method: "get",
  path: "/api/files/{id}",
  tags: ["files"],
  summary: "One transfer with its parts",
  ...secured,
  request: { params: PathId },
  responses: { 200: json(FileDetail, "The transfer"), ...errors(400, 401, 404) },
});

export const downloadRoute = createRoute({
  method: "get",
  path: "/download/{id}",
  tags: ["files"],
  summary:
    "Redirect to a short-lived presigned GET of a complete file (or return it as JSON with redirect=false)",
  ...secured,
  request: { params: PathId, query: DownloadQuery },
  responses: {
    200: json(DownloadResponse, "The presigned URL (redirect=false)"),
    302: { description: "Redirect to the presigned URL", headers: z.object({ location: z.string() }) },
    ...errors(400, 401, 404, 409),
  },
});

export const statsRoute = createRoute({
  method: "get",
  path: "/api/stats",
  tags: ["monitoring"],
  summary: "Counts by status and priority, bytes, success rate, mean speed",
  ...secured,
  responses: { 200: json(StatsResponse, "Statistics"), ...errors(401) },
});

export const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["monitoring"],
  summary: "Liveness of the API and its reach to S3 and DynamoDB (no token needed)",
  responses: {
    200: json(HealthResponse, "All checks pass"),
    503: json(HealthResponse, "A dependency is down"),
  },
});

// ---- share links

export const createShareRoute = createRoute({
  method: "post",
  path: "/api/files/{id}/share",
  tags: ["share"],
  summary: "Create a share link for a complete file (the token is shown once)",
  ...secured,
  request: { params: PathId, ...body(CreateShareRequest) },
  responses: { 200: json(CreatedShare, "The new link"), ...errors(400, 401, 404, 409, 413, 415) },
});

export const listSharesRoute = createRoute({
  method: "get",
  path: "/api/files/{id}/shares",
  tags: ["share"],
  summary: "A file's share links with their state and download counts (no tokens)",
  ...secured,
  request: { params: PathId },
  responses: { 200: json(ShareList, "Share links"), ...errors(400, 401, 404) },
});

export const revokeShareRoute = createRoute({
  method: "delete",
  path: "/api/files/{id}/shares/{shareId}",
  tags: ["share"],
  summary: "Revoke a share link by its id",
  ...secured,
  request: { params: PathShare },
  responses: { 200: json(ShareInfo, "The revoked link"), ...errors(400, 401, 404) },
});

export const revokeShareByTokenRoute = createRoute({
  method: "post",
  path: "/api/shares/revoke",
  tags: ["share"],
  summary: "Revoke a share link by its token (sent in the body, so it never lands in a log)",
  ...secured,
  request: body(RevokeShareRequest),
  responses: { 200: json(ShareInfo, "The revoked link"), ...errors(400, 401, 404, 413, 415) },
});

export const openShareRoute = createRoute({
  method: "get",
  path: "/s/{token}",
  tags: ["share"],
  summary:
    "Download through a share link: redirects to a short-lived presigned GET; a batch's link answers the " +
    "list of its files instead (paged with cursor, not counted), each downloaded at its url (no API token needed)",
  request: { params: PathShareToken, query: ShareListingQuery },
  responses: {
    200: json(SharedBatchListing, "A batch's link: its complete files"),
    302: { description: "Redirect to the file in storage", headers: z.object({ location: z.string() }) },
    ...errors(400, 404, 410),
    410: json(ErrorBody, "Expired, used up or revoked"),
  },
});
