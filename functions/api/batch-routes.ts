/**
 * Batch routes: create or find a batch, add its files, complete single PUTs in bulk, cancel, read, and
 * share a batch as one link (GET /s/{token} then lists its files; GET /s/{token}/{fileId} downloads one).
 * Definitions (from which the OpenAPI document is generated) and handlers; failures go through the app's
 * one onError.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import {
  AbortBatchResponse,
  AddBatchFilesRequest,
  AddBatchFilesResponse,
  BatchDetail,
  CompleteBatchFilesRequest,
  CompleteBatchFilesResponse,
  CreateBatchRequest,
  CreateBatchResponse,
  ListBatchesQuery,
  ListBatchesResponse,
  ListBatchFilesQuery,
  ListBatchFilesResponse,
  PathBatch,
  PathShareFile,
} from "../contract/batches.js";
import {
  BatchId,
  CreatedShare,
  CreateShareRequest,
  ErrorBody,
  ShareId,
  ShareInfo,
  ShareList,
} from "../contract/schemas.js";
import type { BatchService } from "../core/batch-service.js";
import type { ShareService } from "../core/share-service.js";
import { body, errors, json, secured } from "./openapi-common.js";

export const createBatchRoute = createRoute({
  method: "post",
  path: "/batch",
  tags: ["batch"],
  summary: "Create a batch, or find it by its manifest digest; may carry the first files",
  ...secured,
  request: body(CreateBatchRequest),
  responses: {
    200: json(CreateBatchResponse, "The batch (resumed if it existed) and the answers for its first files"),
    ...errors(400, 401, 413, 415),
  },
});

export const addBatchFilesRoute = createRoute({
  method: "post",
  path: "/batch/{id}/files",
  tags: ["batch"],
  summary: "Add files: each is answered done (stored already), put (a presigned PutObject) or multipart",
  ...secured,
  request: { params: PathBatch, ...body(AddBatchFilesRequest) },
  responses: {
    200: json(AddBatchFilesResponse, "One answer per file, in order"),
    ...errors(400, 401, 404, 409, 413, 415),
  },
});

export const completeBatchFilesRoute = createRoute({
  method: "post",
  path: "/batch/{id}/complete",
  tags: ["batch"],
  summary: "Complete files whose PUT storage accepted (each checked against storage first)",
  ...secured,
  request: { params: PathBatch, ...body(CompleteBatchFilesRequest) },
  responses: {
    200: json(CompleteBatchFilesResponse, "Each file's status; the ones storage does not hold say why"),
    ...errors(400, 401, 404, 413, 415),
  },
});

export const abortBatchRoute = createRoute({
  method: "delete",
  path: "/batch/{id}",
  tags: ["batch"],
  summary: "Cancel a batch: abort every unfinished file (storage releases their parts)",
  ...secured,
  request: { params: PathBatch },
  responses: { 200: json(AbortBatchResponse, "Cancelled"), ...errors(400, 401, 404, 409) },
});

export const listBatchesRoute = createRoute({
  method: "get",
  path: "/api/batches",
  tags: ["batch"],
  summary: "List batches, newest first (paged; filter by status)",
  ...secured,
  request: { query: ListBatchesQuery },
  responses: { 200: json(ListBatchesResponse, "A page of batches"), ...errors(400, 401) },
});

export const batchRoute = createRoute({
  method: "get",
  path: "/api/batches/{id}",
  tags: ["batch"],
  summary: "One batch: counts, progress and its empty folders",
  ...secured,
  request: { params: PathBatch },
  responses: { 200: json(BatchDetail, "The batch"), ...errors(400, 401, 404) },
});

export const listBatchFilesRoute = createRoute({
  method: "get",
  path: "/api/batches/{id}/files",
  tags: ["batch"],
  summary: "A batch's files by path (paged)",
  ...secured,
  request: { params: PathBatch, query: ListBatchFilesQuery },
  responses: { 200: json(ListBatchFilesResponse, "A page of files"), ...errors(400, 401, 404) },
});

export const createBatchShareRoute = createRoute({
  method: "post",
  path: "/api/batches/{id}/share",
  tags: ["share"],
  summary:
    "Create one link for a batch: it lists the batch's complete files, each downloadable (maxDownloads counts file downloads)",
  ...secured,
  request: { params: PathBatch, ...body(CreateShareRequest) },
  responses: { 200: json(CreatedShare, "The new link"), ...errors(400, 401, 404, 409, 413, 415) },
});

export const listBatchSharesRoute = createRoute({
  method: "get",
  path: "/api/batches/{id}/shares",
  tags: ["share"],
  summary: "A batch's share links with their state and download counts (no tokens)",
  ...secured,
  request: { params: PathBatch },
  responses: { 200: json(ShareList, "Share links"), ...errors(400, 401, 404) },
});

export const revokeBatchShareRoute = createRoute({
  method: "delete",
  path: "/api/batches/{id}/shares/{shareId}",
  tags: ["share"],
  summary: "Revoke a batch's share link by its id",
  ...secured,
  request: { params: z.object({ id: BatchId, shareId: ShareId }) },
  responses: { 200: json(ShareInfo, "The revoked link"), ...errors(400, 401, 404) },
});

export const openSharedFileRoute = createRoute({
  method: "get",
  path: "/s/{token}/{fileId}",
  tags: ["share"],
  summary:
    "Download one file of a shared batch: counts one download, redirects to a short-lived presigned GET (no API token needed)",
  request: { params: PathShareFile },
  responses: {
    302: { description: "Redirect to the file in storage", headers: z.object({ location: z.string() }) },
    ...errors(400, 404, 410),
    410: json(ErrorBody, "Expired, used up or revoked"),
  },
});

export interface BatchRouteDeps {
  batches: BatchService;
  shares: ShareService;
}

// biome-ignore lint/suspicious/noExplicitAny: the app's Env type parameter is the caller's.
export function registerBatchRoutes(app: OpenAPIHono<any>, { batches, shares }: BatchRouteDeps): void {
  app.openapi(createBatchRoute, async (c) => c.json(await batches.create(c.req.valid("json")), 200));
  app.openapi(addBatchFilesRoute, async (c) =>
    c.json(await batches.addFiles(c.req.valid("param").id, c.req.valid("json").files), 200),
  );
  app.openapi(completeBatchFilesRoute, async (c) => {
    const ids = c.req.valid("json").files.map((f) => f.transferId);
    return c.json(await batches.complete(c.req.valid("param").id, ids), 200);
  });
  app.openapi(abortBatchRoute, async (c) => c.json(await batches.abort(c.req.valid("param").id), 200));
  app.openapi(listBatchesRoute, async (c) => c.json(await batches.list(c.req.valid("query")), 200));
  app.openapi(batchRoute, async (c) => c.json(await batches.get(c.req.valid("param").id), 200));
  app.openapi(listBatchFilesRoute, async (c) =>
    c.json(await batches.listFiles(c.req.valid("param").id, c.req.valid("query")), 200),
  );

  app.openapi(createBatchShareRoute, async (c) => {
    const base = new URL(c.req.url).origin;
    return c.json(await shares.createForBatch(c.req.valid("param").id, c.req.valid("json"), base), 200);
  });
  app.openapi(listBatchSharesRoute, async (c) =>
    c.json({ items: await shares.listForBatch(c.req.valid("param").id) }, 200),
  );
  app.openapi(revokeBatchShareRoute, async (c) => {
    const { id, shareId } = c.req.valid("param");
    return c.json(await shares.revokeById(id, shareId), 200);
  });
  app.openapi(openSharedFileRoute, async (c) => {
    const { token, fileId } = c.req.valid("param");
    const range = /^bytes=(\d+)-/.exec(c.req.header("range") ?? "");
    const url = await shares.openBatchFile(token, fileId, range ? Number(range[1]) : undefined);
    c.header("cache-control", "no-store");
    c.header("referrer-policy", "no-referrer");
    return c.redirect(url, 302);
  });
}
