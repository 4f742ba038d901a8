/**
 * The Coordinator port over fetch: the same routes and bodies as the CLI's ApiClient and HTTP transport
 * (cli/engine/api-client.ts, send/http-transport.ts), a bearer token read at every call (the page's
 * token may change), JSON bodies, and every call retried by the one retry policy (withRetries, its link
 * watch the page's). Answers are the contract's types, not parsed again (zod stays out of the bundle;
 * the API validated them before sending).
 *
 * One attempt: fetch with a per-call timeout (30 s) joined with the caller's signal. An HTTP answer that
 * is not 2xx: the API's `{error:{code,message}}` body and Retry-After go to classifyHttp (so 401 is
 * UNAUTHORIZED, RATE_LIMITED and 5xx are retried after Retry-After…). No answer (fetch rejected, or the
 * timeout): classifyNetwork → NetworkError whose endpoint is the API's origin, reached once any answer
 * came, so an outage waits for the link instead of spending retries.
 */
import { classifyHttp, classifyNetwork, toCliError } from "../../../cli/engine/classify.js";
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import { parseRetryAfter, type RetryInfo, type RetryPolicy, withRetries } from "../../../cli/engine/retry.js";
import type {
  AbortBatchResponse,
  AddBatchFilesResponse,
  CompleteBatchFilesResponse,
  CreateBatchResponse,
} from "../../../functions/contract/batches.js";
import type { FileSummary, MissingResponse, PresignResponse } from "../../../functions/contract/schemas.js";
import type { StorageInfo } from "../../../functions/contract/storage.js";
import type { Coordinator } from "./types.js";

/** No answer within this long: the call failed (TIMEOUT), and is retried on a fresh request. */
export const CALL_TIMEOUT_MS = 30_000;

export interface HttpCoordinatorOptions {
  /** The API's base URL ("https://api.example"); the page's origin when the API is served with it. */
  base: string;
  getToken: () => string | null;
  retry: RetryPolicy;
  timeoutMs?: number;
  /** Injected for tests; the page's fetch otherwise. */
  fetch?: typeof fetch;
  onRetry?: (operation: string, info: RetryInfo) => void;
}

export function httpCoordinator(o: HttpCoordinatorOptions): Coordinator {
  const timeoutMs = o.timeoutMs ?? CALL_TIMEOUT_MS;
  const doFetch = o.fetch ?? ((input, init) => fetch(input, init));
  const server = new URL(o.base).origin;
  /** Whether any answer came from the API in this page: a later failure is then a link that worked. */
  let reached = false;

  async function once<T>(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = o.getToken();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await doFetch(`${o.base}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        // Never an answer from the HTTP cache (GET /upload/missing must be now's). Asserted: Node's
        // RequestInit, which the unit tests typecheck against, has no `cache`.
        cache: "no-store",
      } as RequestInit);
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw toCliError(
        classifyNetwork({
          service: "api",
          error: err,
          timeoutMs: timeout.aborted ? timeoutMs : undefined,
          reached,
          server,
        }),
      );
    }
    reached = true;
    let answer: unknown;
    try {
      answer = text ? JSON.parse(text) : undefined;
    } catch {
      answer = undefined;
    }
    if (res.ok) {
      if (answer === undefined || answer === null || typeof answer !== "object")
        throw new CliError(
          "BAD_ANSWER",
          `The server at ${server} gave an answer the uploader does not understand to ${method} ${path}`,
          EXIT.UNEXPECTED,
        );
      return answer as T;
    }
    const error = (answer as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const verdict = classifyHttp({
      service: "api",
      status: res.status,
      code: typeof error?.code === "string" ? error.code : undefined,
      message:
        typeof error?.message === "string" ? error.message : `${method} ${path} answered ${res.status}`,
      retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
    });
    if (verdict.code === "UNAUTHORIZED")
      // classify.ts words it for the CLI (--token, SFTS_TOKEN); the page asks for the token itself.
      verdict.message = `The server refused the API token (${typeof error?.message === "string" ? error.message : "401"}); enter a valid token`;
    throw toCliError(verdict);
  }

  function call<T>(
    method: string,
    path: string,
    body?: unknown,
    opts: { retry?: RetryPolicy; signal?: AbortSignal } = {},
  ): Promise<T> {
    const operation = `${method} ${path.replace(/(tr|bt)_[0-9a-z]{26}/, "{id}")}`;
    return withRetries((_attempt) => once<T>(method, path, body, opts.signal), {
      policy: opts.retry ?? o.retry,
      signal: opts.signal,
      onRetry: (info) => o.onRetry?.(operation, info),
    });
  }

  const id = (s: string) => encodeURIComponent(s);

  return {
    storage: () => call<StorageInfo>("GET", "/api/storage"),
    createBatch: (req) => call<CreateBatchResponse>("POST", "/batch", req),
    addFiles: async (batchId, files) =>
      (await call<AddBatchFilesResponse>("POST", `/batch/${id(batchId)}/files`, { files })).files,
    completeFiles: async (batchId, ids) =>
      (
        await call<CompleteBatchFilesResponse>("POST", `/batch/${id(batchId)}/complete`, {
          files: ids.map((transferId) => ({ transferId })),
        })
      ).files,
    presign: (transferId, parts, done) =>
      call<PresignResponse>("POST", `/upload/${id(transferId)}/parts`, {
        parts,
        ...(done.length > 0 && { done }),
      }),
    missing: (transferId) => call<MissingResponse>("GET", `/upload/missing/${id(transferId)}`),
    assemble: (transferId, parts) =>
      call<FileSummary>("POST", `/assemble/${id(transferId)}`, parts.length > 0 ? { parts } : undefined),
    async cancelBatch(batchId) {
      try {
        await call<AbortBatchResponse>("DELETE", `/batch/${id(batchId)}`);
      } catch (err) {
        // Nothing left to cancel: the batch is gone (404), or complete (INVALID_STATE). An aborted batch
        // answers 200 again (its sweep is finished).
        if (err instanceof CliError && (err.code === "NOT_FOUND" || err.code === "INVALID_STATE")) return;
        throw err;
      }
    },
    async fail(transferId, reason) {
      try {
        // One retry at most: a sender giving up on an unreachable server says so at once.
        await call(
          "POST",
          `/upload/${id(transferId)}/fail`,
          { reason: reason.slice(0, 500), abort: false },
          {
            retry: { ...o.retry, maxRetries: 1, link: undefined },
          },
        );
      } catch {
        // Best effort: the janitor expires what nobody finishes.
      }
    },
  };
}
