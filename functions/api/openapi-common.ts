/** Pieces every route definition shares: JSON bodies and responses, the error responses, bearer security. */
import type { RouteConfig } from "@hono/zod-openapi";
import type { z } from "zod";
import { ErrorBody } from "../contract/schemas.js";

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input",
  401: "Missing or invalid API token",
  403: "Not allowed for this API key",
  404: "Not found",
  405: "Method not allowed",
  409: "Not allowed in the transfer's state",
  410: "Gone",
  413: "Body too large",
  415: "Body is not JSON",
  429: "Too many requests for this API key (see Retry-After)",
  500: "Internal error",
  503: "Storage or database unavailable",
};

/**
 * The documented error answers of a route: the codes given, plus 500 and 503 that any route may give, and
 * 429 for every route behind a token (those that list 401): keys are rate limited.
 */
export const errors = (...codes: number[]) =>
  Object.fromEntries(
    [...codes, ...(codes.includes(401) ? [429] : []), 500, 503].map((c) => [
      c,
      json(ErrorBody, ERROR_DESCRIPTIONS[c] ?? "Error"),
    ]),
  );

/** Routes behind a bearer token. */
export const secured = { security: [{ bearer: [] }] } satisfies Partial<RouteConfig>;
