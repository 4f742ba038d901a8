/** Routes the dashboard reads: throughput series, a transfer's timeline, recent errors. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { ErrorsQuery, EventsResponse, SeriesQuery, SeriesResponse } from "../contract/monitor.js";
import { PathId } from "../contract/schemas.js";
import type { MonitorService } from "../core/monitor-service.js";
import { errors, json, secured } from "./openapi-common.js";

export const seriesRoute = createRoute({
  method: "get",
  path: "/api/stats/series",
  tags: ["monitoring"],
  summary: "Bytes, parts, completions and failures per minute, and the last full minute's throughput",
  ...secured,
  request: { query: SeriesQuery },
  responses: { 200: json(SeriesResponse, "Per-minute series"), ...errors(400, 401) },
});

export const eventsRoute = createRoute({
  method: "get",
  path: "/api/files/{id}/events",
  tags: ["monitoring"],
  summary: "A transfer's timeline: created, rejected parts, client errors, assembled, aborted…",
  ...secured,
  request: { params: PathId },
  responses: { 200: json(EventsResponse, "Timeline, oldest first"), ...errors(400, 401, 404) },
});

export const errorsRoute = createRoute({
  method: "get",
  path: "/api/errors",
  tags: ["monitoring"],
  summary: "Recent failures across transfers, newest first",
  ...secured,
  request: { query: ErrorsQuery },
  responses: { 200: json(EventsResponse, "Recent failures"), ...errors(400, 401) },
});

// biome-ignore lint/suspicious/noExplicitAny: the app's Env type parameter is the caller's.
export function registerMonitorRoutes(app: OpenAPIHono<any>, monitor: MonitorService): void {
  app.openapi(seriesRoute, async (c) => c.json(await monitor.series(c.req.valid("query").minutes), 200));
  app.openapi(eventsRoute, async (c) => c.json(await monitor.timeline(c.req.valid("param").id), 200));
  app.openapi(errorsRoute, async (c) => c.json(await monitor.errors(c.req.valid("query").limit), 200));
}
