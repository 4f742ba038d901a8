/**
 * API-key management routes: who am I (any key), and create / list / revoke keys (admin keys only).
 * The app's auth middleware has already refused a missing or bad token; these handlers look the caller's
 * key up again (a cache hit) to know its role. Failures go through the app's one onError.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Env } from "hono";
import type { z } from "zod";
import { ApiKeyInfo, CreatedKey, CreateKeyRequest, KeyList, PathKey } from "../contract/keys.js";
import { ErrorBody } from "../contract/schemas.js";
import { type KeyService, keyInfo } from "../core/key-service.js";
import type { ApiKeyRecord } from "../core/ports.js";

export interface KeyRouteDeps {
  keys: KeyService;
  /** The app's own token check (TransferService.authenticate): the caller's key, or UNAUTHORIZED. */
  authenticate(token: string | undefined): Promise<ApiKeyRecord>;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const errors = {
  401: json(ErrorBody, "Missing or invalid API token"),
  403: json(ErrorBody, "Not an admin key"),
  500: json(ErrorBody, "Internal error"),
  503: json(ErrorBody, "Database unavailable"),
};
const secured = { security: [{ bearer: [] }], tags: ["keys"] };

export const whoAmIRoute = createRoute({
  method: "get",
  path: "/api/keys/me",
  summary: "The API key making the request: id, name, role (never the token)",
  ...secured,
  responses: { 200: json(ApiKeyInfo, "The caller's key"), ...errors },
});

export const listKeysRoute = createRoute({
  method: "get",
  path: "/api/keys",
  summary: "All API keys, newest first, with their state (admin only; never the tokens)",
  ...secured,
  responses: { 200: json(KeyList, "API keys"), ...errors },
});

export const createKeyRoute = createRoute({
  method: "post",
  path: "/api/keys",
  summary: "Create an API key (admin only); the token is in this answer and nowhere else",
  ...secured,
  request: { body: { content: { "application/json": { schema: CreateKeyRequest } }, required: true } },
  responses: {
    200: json(CreatedKey, "The new key with its token"),
    400: json(ErrorBody, "Invalid input"),
    ...errors,
  },
});

export const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/api/keys/{keyId}",
  summary: "Revoke an API key (admin only); other running API instances stop accepting it within 30 s",
  ...secured,
  request: { params: PathKey },
  responses: {
    200: json(ApiKeyInfo, "The revoked key"),
    400: json(ErrorBody, "Invalid key id"),
    404: json(ErrorBody, "No such key"),
    409: json(ErrorBody, "The key making the request"),
    ...errors,
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
