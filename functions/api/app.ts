/**
 * The coordinator's HTTP app: one Hono app served by Lambda (lambda.ts) and by the local stack.
 * Middleware order: request id + access log → body cap → auth → route validation → handler.
 * All failures funnel into onError, which speaks the error catalogue and never leaks internals.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { ERRORS, type ErrorCode } from "../contract/errors.js";
import { MAX_JSON_BODY_BYTES } from "../contract/limits.js";
import type { ErrorBody } from "../contract/schemas.js";
import type { BatchService } from "../core/batch-service.js";
import { AppError } from "../core/errors.js";
import { type KeyService, roleOf } from "../core/key-service.js";
import type { MonitorService } from "../core/monitor-service.js";
import { type RateLimit, RateLimiter } from "../core/rate-limiter.js";
import type { ShareService } from "../core/share-service.js";
import type { TransferService } from "../core/transfer-service.js";
import { registerBatchRoutes } from "./batch-routes.js";
import { registerKeyRoutes } from "./key-routes.js";
import { type Logger, silentLogger } from "./logger.js";
import { allowedMethods } from "./methods.js";
import { registerMonitorRoutes } from "./monitor-routes.js";
import {
  abortRoute,
  assembleRoute,
  contentRoute,
  createShareRoute,
  downloadRoute,
  failRoute,
  fileRoute,
  healthRoute,
  initRoute,
  listFilesRoute,
  listSharesRoute,
  missingRoute,
  openShareRoute,
  partDoneRoute,
  presignRoute,
  recordPartsRoute,
  revokeShareByTokenRoute,
  revokeShareRoute,
  statsRoute,
} from "./routes.js";
import { registerStorageRoutes, type StorageGatePort, storageGateMiddleware } from "./storage-routes.js";

export interface AppDeps {
  service: TransferService;
  shares: ShareService;
  /** Batch routes (/batch…, /api/batches…, /s/{token}/{fileId}); absent, the app has none. */
  batches?: BatchService;
  /** API-key management routes (/api/keys…); absent, the app has none. */
  keys?: KeyService;
  /** Requests per second per API key; unlimited if absent. */
  rateLimit?: RateLimit;
  /** Dashboard reads (/api/stats/series, /api/files/{id}/events, /api/errors); absent, the app has none. */
  monitor?: MonitorService;
  /**
   * The storage gate (storage-routes.ts): GET /api/storage, and transfer routes refused (503
   * STORAGE_UNVERIFIED) unless it serves; absent, transfers are served without a probe.
   */
  storage?: StorageGatePort;
  logger?: Logger;
}

type Vars = { Variables: { requestId: string; log: Logger } };

/** Routes anyone may call: liveness, and the API's own description. */
const PUBLIC_PATHS = new Set(["/health", "/openapi.json"]);

function errorResponse(c: Context, code: ErrorCode, message: string, details?: unknown) {
  const payload: ErrorBody = { error: { code, message } };
  if (details !== undefined) payload.error.details = details;
  return c.json(payload, ERRORS[code].status as 400);
}

function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Share tokens are secrets: logs show /s/… only. */
const loggedPath = (path: string) => (path.startsWith("/s/") ? "/s/…" : path);

export function createApp({
  service,
  shares,
  batches,
  keys,
  monitor,
  storage,
  rateLimit,
  logger = silentLogger,
}: AppDeps) {
  const limiter = rateLimit ? new RateLimiter(rateLimit) : undefined;
  const app = new OpenAPIHono<Vars>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const where = result.target === "json" ? "body" : result.target;
        return errorResponse(
          c,
          "INVALID_INPUT",
          `Invalid ${where}: ${describeIssues(result.error.issues)}.`,
          {
            issues: result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
          },
        );
      }
      return undefined;
    },
  });

  app.use("*", async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && /^[\w-]{1,64}$/.test(incoming) ? incoming : crypto.randomUUID();
    const log = logger.child({ requestId });
    c.set("requestId", requestId);
    c.set("log", log);
    const started = performance.now();
    await next();
    c.header("x-request-id", requestId);
    log.log(c.res.status >= 500 ? "error" : "info", "request", {
      method: c.req.method,
      path: loggedPath(c.req.path),
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_JSON_BODY_BYTES,
      onError: (c) => {
        // The rest of the body is never read, so the connection cannot carry another request.
        c.header("connection", "close");
        return errorResponse(
          c,
          "PAYLOAD_TOO_LARGE",
          `The request body is over ${MAX_JSON_BODY_BYTES} bytes.`,
        );
      },
    }),
  );

  app.use("*", async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path) || c.req.path.startsWith("/s/")) return next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const key = await service.authenticate(match?.[1]);
    const waitMs = limiter?.take(key.keyId) ?? 0;
    if (waitMs > 0) {
      c.header("retry-after", String(Math.ceil(waitMs / 1000)));
      return errorResponse(
        c,
        "RATE_LIMITED",
        `Too many requests for this API key; retry in ${Math.ceil(waitMs / 1000)} s.`,
      );
    }
    // JSON bodies only: refuse other media types before any validation sees them.
    if (["POST", "PUT", "PATCH"].includes(c.req.method)) {
      const type = c.req.header("content-type");
      const length = c.req.header("content-length");
      const hasBody = type !== undefined || (length !== undefined && length !== "0");
      if (hasBody && !/^application\/json\b/i.test(type ?? ""))
        return errorResponse(c, "UNSUPPORTED_MEDIA_TYPE", ERRORS.UNSUPPORTED_MEDIA_TYPE.message);
    }
    return next();
  });

  if (storage) app.use("*", storageGateMiddleware(storage));

  app.openapi(initRoute, async (c) => c.json(await service.init(c.req.valid("json")), 200));

  app.openapi(contentRoute, async (c) =>
    c.json(await service.nameContent(c.req.valid("param").id, c.req.valid("json").sha256), 200),
  );

  app.openapi(presignRoute, async (c) => {
    const { parts, done, client } = c.req.valid("json");
    return c.json(await service.presignParts(c.req.valid("param").id, parts, done, client), 200);
  });

  app.openapi(recordPartsRoute, async (c) =>
    c.json(await service.recordParts(c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(failRoute, async (c) =>
    c.json(await service.fail(c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(partDoneRoute, async (c) => {
    const { id, n } = c.req.valid("param");
    return c.json(await service.partDone(id, n, c.req.valid("json")), 200);
  });

  app.openapi(missingRoute, async (c) => c.json(await service.missing(c.req.valid("param").id), 200));

  // The body of an assemble is optional: none, or an empty one with a JSON type, assembles as before.
  app.post("/assemble/:id", async (c, next) => {
    if (c.req.header("content-type") !== undefined && (await c.req.raw.clone().text()).trim() === "") {
      const headers = new Headers(c.req.raw.headers);
      headers.delete("content-type");
      headers.delete("content-length");
      c.req.raw = new Request(c.req.raw.url, { method: "POST", headers });
    }
    return next();
  });
  app.openapi(assembleRoute, async (c) =>
    c.json(await service.assemble(c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(abortRoute, async (c) => c.json(await service.abort(c.req.valid("param").id), 200));

  app.openapi(listFilesRoute, async (c) => c.json(await service.list(c.req.valid("query")), 200));

  app.openapi(fileRoute, async (c) => c.json(await service.get(c.req.valid("param").id), 200));

  app.openapi(downloadRoute, async (c) => {
    const d = await service.download(c.req.valid("param").id);
    if (c.req.valid("query").redirect === "false") return c.json(d, 200);
    c.header("cache-control", "no-store");
    return c.redirect(d.url, 302);
  });

  app.openapi(createShareRoute, async (c) => {
    const body = c.req.valid("json");
    const base = new URL(c.req.url).origin;
    return c.json(await shares.create(c.req.valid("param").id, body, base), 200);
  });

  app.openapi(listSharesRoute, async (c) =>
    c.json({ items: await shares.list(c.req.valid("param").id) }, 200),
  );

  app.openapi(revokeShareRoute, async (c) => {
    const { id, shareId } = c.req.valid("param");
    return c.json(await shares.revokeById(id, shareId), 200);
  });

  app.openapi(revokeShareByTokenRoute, async (c) =>
    c.json(await shares.revokeByToken(c.req.valid("json").token), 200),
  );

  app.openapi(openShareRoute, async (c) => {
    const range = /^bytes=(\d+)-/.exec(c.req.header("range") ?? "");
    const opened = await shares.open(c.req.valid("param").token, range ? Number(range[1]) : undefined, {
      cursor: c.req.valid("query").cursor,
      baseUrl: new URL(c.req.url).origin,
    });
    c.header("cache-control", "no-store");
    c.header("referrer-policy", "no-referrer");
    if ("listing" in opened) return c.json(opened.listing, 200);
    return c.redirect(opened.redirect, 302);
  });

  app.openapi(statsRoute, async (c) => c.json(await service.stats(), 200));

  app.openapi(healthRoute, async (c) => {
    const h = await service.health();
    return c.json(h, h.status === "ok" ? 200 : 503);
  });

  if (batches) registerBatchRoutes(app, { batches, shares });
  if (keys) registerKeyRoutes(app, { keys, authenticate: (token) => service.authenticate(token) });
  if (monitor) registerMonitorRoutes(app, monitor);
  if (storage)
    registerStorageRoutes(app, storage, async (c) => {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
      if (roleOf(await service.authenticate(token)) !== "admin")
        throw new AppError("FORBIDDEN", "Only an admin API key may run the storage probe.");
    });

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An SFTS API token (sfts_…)",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "SFTS coordinator API",
      version: "0.1.0",
      description: "Resilient, verifiable file transfer over presigned S3 multipart uploads.",
    },
  });

  app.notFound((c) => {
    const allowed = allowedMethods(app.routes, c.req.path);
    if (allowed.length === 0)
      return errorResponse(c, "ROUTE_NOT_FOUND", `No route ${c.req.method} ${c.req.path}.`);
    c.header("allow", allowed.join(", "));
    return errorResponse(
      c,
      "METHOD_NOT_ALLOWED",
      `${c.req.path} answers ${allowed.join(", ")}, not ${c.req.method}.`,
    );
  });

  app.onError((err, c) => {
    if (err instanceof AppError) {
      if (err.status >= 500) c.var.log?.log("error", err.message, { code: err.code });
      return errorResponse(c, err.code, err.message, err.details);
    }
    if (err instanceof HTTPException) {
      if (err.status === 413) return errorResponse(c, "PAYLOAD_TOO_LARGE", ERRORS.PAYLOAD_TOO_LARGE.message);
      if (err.status === 400) return errorResponse(c, "INVALID_INPUT", "The request body is not valid JSON.");
      if (err.status === 401) return errorResponse(c, "UNAUTHORIZED", ERRORS.UNAUTHORIZED.message);
    }
    c.var.log?.log("error", "unhandled error", {
      error: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    return errorResponse(c, "INTERNAL", `Internal error (request ${c.var.requestId ?? "unknown"}).`);
  });

  return app;
}

export type App = ReturnType<typeof createApp>;
