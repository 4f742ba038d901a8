/**
 * The storage gate's HTTP side: GET /api/storage (the rules senders follow, the probe's result, whether
 * transfers are served; any valid token), POST /api/storage/probe (runs the probe now and keeps its
 * result; admin keys only, `sfts doctor` asks for it), and the middleware that holds transfer routes behind the gate.
 * Gated: what writes to storage or advances an upload (POST /upload/init, …/content, …/parts, …/parts/done,
 * …/parts/{n}/done, GET /upload/missing/{id}, POST /assemble/{id}, POST /batch, /batch/{id}/files,
 * /batch/{id}/complete): they answer 503 STORAGE_UNVERIFIED with the probe's sentence unless the gate
 * serves. Not gated: reads (files, stats, health, this route), downloads and share links of files already
 * stored (whole-file SHA-256 checked by every receiver), and giving up (fail, abort, cancel), which must
 * always be possible.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Env, MiddlewareHandler } from "hono";
import { StorageInfo } from "../contract/storage.js";
import type { StorageGate } from "../core/storage-gate.js";
import { errors, json, secured } from "./openapi-common.js";

/** What the app needs of the gate. */
export type StorageGatePort = Pick<StorageGate, "ensure" | "guard">;

export const storageRoute = createRoute({
  method: "get",
  path: "/api/storage",
  tags: ["monitoring"],
  summary:
    "The store's upload rules (part check, uniform parts, limits), what the coordinator's probe found it " +
    "enforces, and whether transfers are served (runs the probe first if it has not run)",
  ...secured,
  responses: { 200: json(StorageInfo, "Storage rules and the probe's result"), ...errors(401) },
});

export const probeRoute = createRoute({
  method: "post",
  path: "/api/storage/probe",
  tags: ["monitoring"],
  summary:
    "Runs the storage probe now (damaged part and object refused, right ones accepted, the uniform rule, " +
    "clock skew) and keeps its result for this configuration; admin keys only",
  ...secured,
  responses: { 200: json(StorageInfo, "Storage rules and the new probe's result"), ...errors(401, 403) },
});

const GATED: readonly { method: string; path: RegExp }[] = [
  { method: "POST", path: /^\/upload\/init$/ },
  { method: "POST", path: /^\/upload\/[^/]+\/(content|parts|parts\/done|parts\/[^/]+\/done)$/ },
  { method: "GET", path: /^\/upload\/missing\/[^/]+$/ },
  { method: "POST", path: /^\/assemble\/[^/]+$/ },
  { method: "POST", path: /^\/batch$/ },
  { method: "POST", path: /^\/batch\/[^/]+\/(files|complete)$/ },
];

export const isGatedRoute = (method: string, path: string): boolean =>
  GATED.some((g) => g.method === method && g.path.test(path));

/** Runs after authentication: a caller without a valid token learns nothing of storage. */
export function storageGateMiddleware(storage: StorageGatePort): MiddlewareHandler {
  return async (c, next) => {
    if (isGatedRoute(c.req.method, c.req.path)) await storage.guard();
    return next();
  };
}

export function registerStorageRoutes<E extends Env>(
  app: OpenAPIHono<E>,
  storage: StorageGatePort,
  /** Throws FORBIDDEN unless the request's key is an admin's (UNAUTHORIZED without a valid one). */
  requireAdmin: (c: Context) => Promise<void>,
): void {
  app.openapi(storageRoute, async (c) => c.json(await storage.ensure(), 200));
  app.openapi(probeRoute, async (c) => {
    await requireAdmin(c);
    return c.json(await storage.ensure({ fresh: true }), 200);
  });
}
