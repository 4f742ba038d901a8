/**
 * API-key management routes: who am I (any key), and create / list / revoke keys (admin keys only).
 * The app's auth middleware has already refused a missing or bad token; these handlers look the caller's
 * key up again (a cache hit) to know its role. Failures go through the app's one onError.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Env } from "hono";
import { ApiKeyInfo, CreatedKey, CreateKeyRequest, KeyList, PathKey } from "../contract/keys.js";
import { type KeyService, keyInfo } from "../core/key-service.js";
import type { ApiKeyRecord } from "../core/ports.js";
import { errors, json, secured } from "./openapi-common.js";

export interface KeyRouteDeps {
  keys: KeyService;
  /** The app's own token check (TransferService.authenticate): the caller's key, or UNAUTHORIZED. */
  authenticate(token: string | undefined): Promise<ApiKeyRecord>;
}

const keyErrors = errors(401, 403);
const keyRoute = { ...secured, tags: ["keys"] };

export const whoAmIRoute = createRoute({
  method: "get",
  path: "/api/keys/me",
  summary: "The API key making the request: id, name, role (never the token)",
  ...keyRoute,
  responses: { 200: json(ApiKeyInfo, "The caller's key"), ...keyErrors },
});

export const listKeysRoute = createRoute({
  method: "get",
  path: "/api/keys",
  summary: "All API keys, newest first, with their state (admin only; never the tokens)",
  ...keyRoute,
  responses: { 200: json(KeyList, "API keys"), ...keyErrors },
});

export const createKeyRoute = createRoute({
  method: "post",
  path: "/api/keys",
  summary: "Create an API key (admin only); the token is in this answer and nowhere else",
  ...keyRoute,
  request: { body: { content: { "application/json": { schema: CreateKeyRequest } }, required: true } },
  responses: {
    200: json(CreatedKey, "The new key with its token"),
    ...errors(400, 401, 403, 413, 415),
  },
});

export const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/api/keys/{keyId}",
  summary: "Revoke an API key (admin only); other running API instances stop accepting it within 30 s",
  ...keyRoute,
  request: { params: PathKey },
  responses: {
    200: json(ApiKeyInfo, "The revoked key"),
    ...errors(400, 401, 403, 404, 409),
  },
});

const bearer = (c: Context) => /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];

export function registerKeyRoutes<E extends Env>(app: OpenAPIHono<E>, { keys, authenticate }: KeyRouteDeps) {
  const caller = (c: Context) => authenticate(bearer(c));
  app.openapi(whoAmIRoute, async (c) => c.json(keyInfo(await caller(c)), 200));
  app.openapi(listKeysRoute, async (c) => c.json({ items: await keys.list(await caller(c)) }, 200));
  app.openapi(createKeyRoute, async (c) =>
    c.json(await keys.create(await caller(c), c.req.valid("json")), 200),
  );
  app.openapi(revokeKeyRoute, async (c) =>
    c.json(await keys.revoke(await caller(c), c.req.valid("param").keyId), 200),
  );
}
