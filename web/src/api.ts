/**
 * The coordinator API as the dashboard calls it: plain fetch, bearer token, typed by the shared contract
 * (types only — the zod schemas stay out of the bundle; the API validated these shapes before sending them).
 * Three kinds of failure matter to the page: the API is unreachable (NetworkError: the connection
 * indicator turns red), the token is refused (UnauthorizedError: the token prompt), and anything else
 * the API said (ApiError with its catalogue code and message, shown where it happened).
 */
import type {
  BatchDetail,
  BatchStatus,
  ListBatchesResponse,
  ListBatchFilesResponse,
} from "../../functions/contract/batches.js";
import type { EventsResponse, SeriesResponse } from "../../functions/contract/monitor.js";
import type {
  CreatedShare,
  CreateShareRequest,
  DownloadResponse,
  FileDetail,
  HealthResponse,
  ListFilesResponse,
  Priority,
  ShareInfo,
  StatsResponse,
  TransferStatus,
} from "../../functions/contract/schemas.js";

/** Set at build time for a dashboard hosted apart from the API; empty means the page's own origin. */
export const API_BASE: string = (import.meta.env.VITE_SFTS_API_URL ?? "").trim().replace(/\/+$/, "");

/** A call that takes longer than this counts as a failure to reach the API. */
const TIMEOUT_MS = 8000;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export class UnauthorizedError extends ApiError {
  constructor(message: string) {
    super(401, "UNAUTHORIZED", message);
    this.name = "UnauthorizedError";
  }
}

export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkError";
  }
}

export interface HealthReading {
  /** 200 (ok) or 503 (a dependency is down); both mean the API itself answered. */
  httpStatus: number;
  body: HealthResponse;
  /** Round trip of the /health call, measured by this page. */
  roundTripMs: number;
  receivedAt: number;
}

export interface ListQuery {
  status?: TransferStatus | undefined;
  priority?: Priority | undefined;
  limit?: number;
  cursor?: string | undefined;
}

export interface BatchListQuery {
  status?: BatchStatus | undefined;
  limit?: number;
  cursor?: string | undefined;
}

export interface PageQuery {
  limit?: number;
  cursor?: string | undefined;
}

interface RequestOptions {
  method?: "GET" | "POST" | "DELETE";
  body?: unknown;
  token?: string | null;
  /** Answers with these statuses are returned, not thrown (health's 503). */
  accept?: readonly number[];
}

async function request<T>(path: string, opts: RequestOptions = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(`${API_BASE}${path}`, {
      method: opts.method ?? "GET",
      headers,
      cache: "no-store",
      signal: AbortSignal.timeout(TIMEOUT_MS),
      ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
    });
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === "TimeoutError";
    throw new NetworkError(
      timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : `cannot reach ${API_BASE || location.origin}`,
    );
  }
  let text: string;
  try {
    text = await res.text();
  } catch {
    throw new NetworkError("the connection dropped while reading the answer");
  }
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.ok || opts.accept?.includes(res.status)) {
    if (parsed === undefined) throw new ApiError(res.status, "BAD_RESPONSE", `${path} did not answer JSON`);
    return { status: res.status, body: parsed as T };
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code : `HTTP_${res.status}`;
  const message =
    typeof error?.message === "string" ? error.message : `${res.status} ${res.statusText}`.trim();
  if (res.status === 401) throw new UnauthorizedError(message);
  throw new ApiError(res.status, code, message);
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

const id = (s: string) => encodeURIComponent(s);

export function createApi(getToken: () => string | null) {
  const get = async <T>(path: string, token = getToken()) => (await request<T>(path, { token })).body;
  return {
    async health(): Promise<HealthReading> {
      const started = performance.now();
      const r = await request<HealthResponse>("/health", { accept: [503] });
      return {
        httpStatus: r.status,
        body: r.body,
        roundTripMs: Math.round(performance.now() - started),
        receivedAt: Date.now(),
      };
    },
    /** Checks a token before keeping it. */
    checkToken: (token: string) => get<StatsResponse>("/api/stats", token),
    stats: () => get<StatsResponse>("/api/stats"),
    series: (minutes: number) => get<SeriesResponse>(`/api/stats/series${query({ minutes })}`),
    files: (q: ListQuery) =>
      get<ListFilesResponse>(
        `/api/files${query({ status: q.status, priority: q.priority, limit: q.limit, cursor: q.cursor })}`,
      ),
    file: (fileId: string) => get<FileDetail>(`/api/files/${id(fileId)}`),
    events: (fileId: string) => get<EventsResponse>(`/api/files/${id(fileId)}/events`),
    errors: (limit: number) => get<EventsResponse>(`/api/errors${query({ limit })}`),
    shares: (fileId: string) => get<{ items: ShareInfo[] }>(`/api/files/${id(fileId)}/shares`),
    batches: (q: BatchListQuery) =>
      get<ListBatchesResponse>(
        `/api/batches${query({ status: q.status, limit: q.limit, cursor: q.cursor })}`,
      ),
    batch: (batchId: string) => get<BatchDetail>(`/api/batches/${id(batchId)}`),
    /** A batch's files, by path. */
    batchFiles: (batchId: string, q: PageQuery = {}) =>
      get<ListBatchFilesResponse>(
        `/api/batches/${id(batchId)}/files${query({ limit: q.limit, cursor: q.cursor })}`,
      ),
    download: (fileId: string) => get<DownloadResponse>(`/download/${id(fileId)}?redirect=false`),
    async createShare(fileId: string, body: CreateShareRequest): Promise<CreatedShare> {
      return (
        await request<CreatedShare>(`/api/files/${id(fileId)}/share`, {
          method: "POST",
          body,
          token: getToken(),
        })
      ).body;
    },
  };
}

export type Api = ReturnType<typeof createApi>;
