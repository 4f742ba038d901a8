/**
 * The coordinator API as the CLI sees it: typed calls, answers checked against the shared contract,
 * every call retried by the one retry policy, failures turned into CliErrors with exit codes.
 */
import type { z } from "zod";
import {
  AbortBatchResponse,
  type AddBatchFilesRequest,
  AddBatchFilesResponse,
  BatchDetail,
  type CompleteBatchFilesRequest,
  CompleteBatchFilesResponse,
  type CreateBatchRequest,
  CreateBatchResponse,
  ListBatchesResponse,
  ListBatchFilesResponse,
} from "../../functions/contract/batches.js";
import { ApiKeyInfo, CreatedKey, type CreateKeyRequest, KeyList } from "../../functions/contract/keys.js";
import {
  AbortResponse,
  ContentResponse,
  CreatedShare,
  DownloadResponse,
  ErrorBody,
  FileDetail,
  FileSummary,
  type InitRequest,
  InitResponse,
  ListFilesResponse,
  MissingResponse,
  PartDoneResponse,
  type PartRecordSpec,
  type PartSpec,
  PresignResponse,
  RecordPartsResponse,
  ShareInfo,
  ShareList,
} from "../../functions/contract/schemas.js";
import { StorageInfo } from "../../functions/contract/storage.js";
import { CallDeadlines } from "./call-deadline.js";
import { classifyHttp, classifyNetwork, toCliError } from "./classify.js";
import type { ClientConfig } from "./config.js";
import { CliError, EXIT } from "./errors.js";
import type { NewEvent } from "./events.js";
import { parseRetryAfter, type RetryInfo, type RetryPolicy, withRetries } from "./retry.js";

export interface ApiClientOptions {
  server: string;
  token: string | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  onRetry?: (operation: string, info: RetryInfo) => void;
  signal?: AbortSignal | undefined;
  /**
   * Learnt per-route deadlines (call-deadline.ts): a call not answered within its route's deadline is
   * aborted (which destroys its connection: a keep-alive socket dead since a link drop is not reused) and
   * retried on a fresh one. Default: deadlines capped by timeoutMs.
   */
  deadlines?: CallDeadlines;
}

/** Body sizes by powers of 4 from 1 KiB: 0 (up to 1 KiB), 1 (to 4 KiB), 2 (to 16 KiB)… */
function sizeClass(bytes: number): number {
  return bytes <= 1024 ? 0 : Math.ceil(Math.log(bytes / 1024) / Math.log(4));
}

function queryString(query: Record<string, string | number | undefined>): URLSearchParams {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  return q;
}

export class ApiClient {
  private reached = false;
  private readonly deadlines: CallDeadlines;

  constructor(private readonly opts: ApiClientOptions) {
    this.deadlines = opts.deadlines ?? new CallDeadlines({ capMs: opts.timeoutMs });
  }

  get server(): string {
    return this.opts.server;
  }

  private async once<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body: unknown,
    route: string,
    attempt: number,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const json = body === undefined ? null : JSON.stringify(body);
    // A call of 500 entries takes longer than one of 5: deadlines are learnt per route and body size class.
    const key = `${route}#${sizeClass(json?.length ?? 0)}`;
    const deadlineMs = this.deadlines.deadlineMs(key, attempt);
    const timeout = AbortSignal.timeout(deadlineMs);
    const signal = this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
    const timing = this.deadlines.start(key);
    let res: Response;
    let text: string;
    try {
      res = await fetch(new URL(path, this.opts.server), {
        method,
        headers,
        body: json,
        signal,
        redirect: "manual",
      });
      text = await res.text();
    } catch (err) {
      if (this.opts.signal?.aborted) throw this.opts.signal.reason;
      throw toCliError(
        classifyNetwork({
          service: "api",
          error: err,
          timeoutMs: timeout.aborted ? deadlineMs : undefined,
          reached: this.reached,
          server: this.opts.server,
        }),
      );
    }
    this.reached = true;
    if (res.ok) timing.done();
    let answer: unknown;
    try {
      answer = text ? JSON.parse(text) : undefined;
    } catch {
      answer = undefined;
    }
    if (res.ok) {
      const parsed = schema.safeParse(answer);
      if (!parsed.success)
        throw new CliError(
          "BAD_ANSWER",
          `The server at ${this.opts.server} gave an answer SFTS does not understand to ${method} ${path}; is it an SFTS coordinator?`,
          EXIT.UNEXPECTED,
        );
      return parsed.data;
    }
    const error = ErrorBody.safeParse(answer);
    throw toCliError(
      classifyHttp({
        service: "api",
        status: res.status,
        code: error.success ? error.data.error.code : undefined,
        message: error.success ? error.data.error.message : `${method} ${path} answered ${res.status}`,
        retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
      }),
    );
  }

  private call<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const operation = `${method} ${path
      .split("?")[0]
      ?.replace(/(tr|bt)_[0-9a-z]{26}/, "{id}")
      .replace(/\/parts\/\d+\//, "/parts/{n}/")}`;
    return withRetries((attempt) => this.once(method, path, schema, body, operation, attempt + 1), {
      policy: this.opts.retry,
      signal: this.opts.signal,
      onRetry: (info) => this.opts.onRetry?.(operation, info),
    });
  }

  /**
   * GET /api/storage: the rules senders follow and whether transfers are served. Undefined from a
   * coordinator without the route (older than storage profiles: S3's rules apply).
   */
  async storage(): Promise<StorageInfo | undefined> {
    try {
      return await this.call("GET", "/api/storage", StorageInfo);
    } catch (err) {
      if (err instanceof CliError && err.code === "ROUTE_NOT_FOUND") return undefined;
      throw err;
    }
  }
  /** POST /api/storage/probe (admin keys): the coordinator probes storage now; undefined on an older one. */
  async probeStorage(): Promise<StorageInfo | undefined> {
    try {
      return await this.call("POST", "/api/storage/probe", StorageInfo);
    } catch (err) {
      if (err instanceof CliError && err.code === "ROUTE_NOT_FOUND") return undefined;
      throw err;
    }
  }
  init(body: InitRequest) {
    return this.call("POST", "/upload/init", InitResponse, body);
  }
  /** Names the SHA-256 of an upload started without it: continue, done (stored already) or switch. */
  nameContent(id: string, sha256: string) {
    return this.call("POST", `/upload/${id}/content`, ContentResponse, { sha256 });
  }
  /** Presigns `parts`; records `done` (parts sent since the last call) first, in the same round trip. */
  presign(id: string, parts: PartSpec[], done?: PartRecordSpec[], client?: Record<string, unknown>) {
    return this.call("POST", `/upload/${id}/parts`, PresignResponse, {
      parts,
      ...(done?.length && { done }),
      ...(client && { client }),
    });
  }
  recordParts(id: string, parts: PartRecordSpec[], client?: Record<string, unknown>) {
    return this.call("POST", `/upload/${id}/parts/done`, RecordPartsResponse, {
      parts,
      ...(client && { client }),
    });
  }
  /** The sender gave up on a transfer: it is marked failed with the reason (and aborted if asked). */
  failTransfer(id: string, reason: string, abort = false) {
    return this.call("POST", `/upload/${id}/fail`, AbortResponse, { reason: reason.slice(0, 500), abort });
  }
  createBatch(body: CreateBatchRequest) {
    return this.call("POST", "/batch", CreateBatchResponse, body);
  }
  addBatchFiles(batchId: string, body: AddBatchFilesRequest) {
    return this.call("POST", `/batch/${batchId}/files`, AddBatchFilesResponse, body);
  }
  completeBatchFiles(batchId: string, body: CompleteBatchFilesRequest) {
    return this.call("POST", `/batch/${batchId}/complete`, CompleteBatchFilesResponse, body);
  }
  abortBatch(batchId: string) {
    return this.call("DELETE", `/batch/${batchId}`, AbortBatchResponse);
  }
  listBatches(query: Record<string, string | number | undefined>) {
    return this.call("GET", `/api/batches?${queryString(query)}`, ListBatchesResponse);
  }
  getBatch(batchId: string) {
    return this.call("GET", `/api/batches/${batchId}`, BatchDetail);
  }
  listBatchFiles(batchId: string, query: Record<string, string | number | undefined> = {}) {
    return this.call("GET", `/api/batches/${batchId}/files?${queryString(query)}`, ListBatchFilesResponse);
  }
  createBatchShare(batchId: string, body: { expiresIn?: number; maxDownloads?: number }) {
    return this.call("POST", `/api/batches/${batchId}/share`, CreatedShare, body);
  }
  listBatchShares(batchId: string) {
    return this.call("GET", `/api/batches/${batchId}/shares`, ShareList);
  }
  partDone(
    id: string,
    n: number,
    body: { offset: number; size: number; sha256: string; etag: string; client?: Record<string, unknown> },
  ) {
    return this.call("POST", `/upload/${id}/parts/${n}/done`, PartDoneResponse, body);
  }
  missing(id: string) {
    return this.call("GET", `/upload/missing/${id}`, MissingResponse);
  }
  /** Completes a multipart upload; `parts` are records not sent yet (recorded, then assembled). */
  assemble(id: string, parts?: PartRecordSpec[], client?: Record<string, unknown>) {
    const body =
      parts?.length || client ? { ...(parts?.length && { parts }), ...(client && { client }) } : undefined;
    return this.call("POST", `/assemble/${id}`, FileSummary, body);
  }
  abort(id: string) {
    return this.call("DELETE", `/upload/${id}`, AbortResponse);
  }
  listFiles(query: Record<string, string | number | undefined>) {
    return this.call("GET", `/api/files?${queryString(query)}`, ListFilesResponse);
  }
  getFile(id: string) {
    return this.call("GET", `/api/files/${id}`, FileDetail);
  }
  /** A presigned GET for a complete file (not followed: the caller fetches ranges itself). */
  downloadUrl(id: string) {
    return this.call("GET", `/download/${id}?redirect=false`, DownloadResponse);
  }
  createShare(id: string, body: { expiresIn?: number; maxDownloads?: number }) {
    return this.call("POST", `/api/files/${id}/share`, CreatedShare, body);
  }
  listShares(id: string) {
    return this.call("GET", `/api/files/${id}/shares`, ShareList);
  }
  revokeShare(token: string) {
    return this.call("POST", "/api/shares/revoke", ShareInfo, { token });
  }
  revokeShareById(id: string, shareId: string) {
    return this.call("DELETE", `/api/files/${id}/shares/${shareId}`, ShareInfo);
  }
  /** The key this client's token belongs to: proves server and token work (sfts login). */
  whoAmI() {
    return this.call("GET", "/api/keys/me", ApiKeyInfo);
  }
  listKeys() {
    return this.call("GET", "/api/keys", KeyList);
  }
  createKey(body: { name: string; role?: CreateKeyRequest["role"] }) {
    return this.call("POST", "/api/keys", CreatedKey, body);
  }
  revokeKey(keyId: string) {
    return this.call("DELETE", `/api/keys/${keyId}`, ApiKeyInfo);
  }
}

/** The client for a command: its config, its stop signal, and every retry reported as a `retry` event. */
export function apiClientFor(c: ClientConfig, signal?: AbortSignal, emit?: (e: NewEvent) => void): ApiClient {
  return new ApiClient({
    server: c.server,
    token: c.token,
    timeoutMs: c.timeoutMs,
    retry: c.retry,
    signal,
    ...(emit && {
      onRetry: (operation: string, info: RetryInfo) =>
        emit({
          type: "retry",
          operation,
          attempt: info.attempt,
          delayMs: info.delayMs,
          reason: info.error.message,
          code: info.error.code,
        }),
    }),
  });
}
