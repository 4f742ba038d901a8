/**
 * One retryable/terminal classification for every answer the CLI gets: storage's (part PUTs, single
 * PUTs, ranged GETs on presigned URLs) and the coordinator's. Part PUTs, the receiver and the API
 * client all ask here, so a 403 or a 408 means the same thing everywhere.
 *
 * The table, first matching row wins (S3 codes from the XML <Code>, API codes from the JSON error body):
 *
 *   from      answer                                              code            retry  renew  exit
 *   storage   BadDigest, XAmzContentSHA256Mismatch, InvalidDigest  (S3 code)       yes    -      7 NETWORK  bytes damaged on the way
 *   storage   403 with "expired" (Request has expired, ExpiredToken) URL_EXPIRED    yes    yes    7 NETWORK
 *   storage   RequestTimeTooSkewed                                (S3 code)       no     -      6 REJECTED check the clock
 *   storage   other 403 (AccessDenied, SignatureDoesNotMatch, …)  (S3 code)       no     -      6 REJECTED
 *   storage   NoSuchUpload                                        NoSuchUpload    no     -      6 REJECTED upload aborted/expired
 *   storage   404 NoSuchKey                                       (S3 code)       no     -      6 REJECTED object gone
 *   api       401                                                 UNAUTHORIZED    no     -      5 AUTH
 *   api       404 NOT_FOUND / SHARE_NOT_FOUND                     (API code)      no     -      10 NOT_FOUND
 *   api       PART_CONFLICT, RATE_LIMITED, STORAGE_UNAVAILABLE,
 *             DATABASE_UNAVAILABLE (any status)                   (API code)      yes    -      7 NETWORK
 *   both      408, 429, 5xx, SlowDown, RequestTimeout,
 *             InternalError, ServiceUnavailable                   (code)          yes    -      7 NETWORK  Retry-After kept
 *   both      any other status ≥ 300                              (code)          no     -      6 REJECTED
 *   both      network error (ECONNRESET, EPIPE, ECONNREFUSED,
 *             ENOTFOUND, EAI_AGAIN, socket hang up, …)            (errno code)    yes    -      7 NETWORK  (api: 4 before
 *   both      no answer within the timeout                        TIMEOUT         yes    -      7 NETWORK   any answer,
 *   both      no bytes moving for the stall timeout               STALL           yes    -      7 NETWORK   SERVER_UNREACHABLE)
 *
 * "renew" means the URL itself is spent: ask the coordinator for a new one, then try again. `isUrlExpired`
 * tells it from an error. Everything else retryable is retried on the same URL by the one retry policy.
 *
 * Network class: the last three rows (no answer at all) become a `NetworkError`, which names the endpoint
 * (origin) that failed when the caller says which (`url`, or `server` for the API). Only these feed the
 * link watch (link-watch.ts): an answer, even a 503, proves the link works, and its backoff (Retry-After,
 * 429, 503, SlowDown, RATE_LIMITED) protects the server, so it is never cut short.
 */
import { CliError, EXIT, type ExitCode } from "./errors.js";

export type Service = "storage" | "api";

export interface Verdict {
  code: string;
  retryable: boolean;
  /** The presigned URL is spent: get a new one before trying again. */
  renewUrl: boolean;
  exitCode: ExitCode;
  message: string;
  retryAfterMs?: number | undefined;
  /**
   * No answer at all (the network class): the origin that failed, when known, and whether this client
   * has been connected to it (an outage is of a link that was up; never reached may be a wrong address).
   */
  network?: { endpoint: string | undefined; reached: boolean } | undefined;
}

/** A failure with no answer at all (see the table's last rows), and the endpoint it happened on. */
export class NetworkError extends CliError {
  constructor(
    code: string,
    message: string,
    exitCode: ExitCode,
    /** The origin that failed ("http://host:port"), when the caller said; what the link watch probes. */
    readonly endpoint: string | undefined,
    /** Whether this client has been connected to the endpoint (see `Verdict.network`). */
    readonly reached = true,
  ) {
    super(code, message, exitCode, true);
  }
}

export interface HttpAnswer {
  service: Service;
  status: number;
  /** S3's <Code> or the API's error code; derived from the status when absent. */
  code?: string | undefined;
  message?: string | undefined;
  retryAfterMs?: number | undefined;
  /** What was being done, for the message: "the part", "the range", "POST /batch". */
  what?: string | undefined;
}

/** Codes the coordinator uses for failures that a retry can fix. */
export const RETRYABLE_API_CODES: ReadonlySet<string> = new Set([
  "PART_CONFLICT",
  "RATE_LIMITED",
  "STORAGE_UNAVAILABLE",
  "DATABASE_UNAVAILABLE",
]);
const DAMAGED_CODES = new Set(["BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"]);
const TRANSIENT_CODES = new Set(["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"]);

const transientStatus = (s: number) => s === 408 || s === 429 || s >= 500;

function verdict(
  code: string,
  retryable: boolean,
  message: string,
  extra: {
    exitCode?: ExitCode;
    renewUrl?: boolean;
    retryAfterMs?: number | undefined;
    network?: Verdict["network"];
  } = {},
): Verdict {
  return {
    code,
    retryable,
    renewUrl: extra.renewUrl ?? false,
    exitCode: extra.exitCode ?? (retryable ? EXIT.NETWORK : EXIT.REJECTED),
    message,
    ...(extra.retryAfterMs !== undefined && { retryAfterMs: extra.retryAfterMs }),
    ...(extra.network !== undefined && { network: extra.network }),
  };
}

/** An HTTP answer that is not a success. */
export function classifyHttp(a: HttpAnswer): Verdict {
  const code = a.code ?? `HTTP_${a.status}`;
  const said = a.message ?? `answered ${a.status}`;
  if (a.service === "storage") {
    const what = a.what ?? "the request";
    const text = `Storage refused ${what}: ${code} (${said})`;
    if (DAMAGED_CODES.has(code)) return verdict(code, true, `${text}; the bytes were damaged on the way`);
    if (a.status === 403 && /expired/i.test(`${code} ${said}`))
      return verdict("URL_EXPIRED", true, `The presigned URL expired before ${what} was sent`, {
        renewUrl: true,
      });
    if (code === "RequestTimeTooSkewed") return verdict(code, false, `${text}; check this machine's clock`);
    if (a.status === 403) return verdict(code, false, text);
    if (code === "NoSuchUpload")
      return verdict(code, false, "The upload no longer exists in storage (aborted or expired)");
    if (transientStatus(a.status) || TRANSIENT_CODES.has(code))
      return verdict(code, true, text, { retryAfterMs: a.retryAfterMs });
    return verdict(code, false, text);
  }
  if (a.status === 401)
    return verdict(
      "UNAUTHORIZED",
      false,
      `The server refused the API token (${said}); check --token or SFTS_TOKEN`,
      {
        exitCode: EXIT.AUTH,
      },
    );
  if (a.status === 404 && (code === "NOT_FOUND" || code === "SHARE_NOT_FOUND"))
    return verdict(code, false, said, { exitCode: EXIT.NOT_FOUND });
  // A 503 that no retry fixes: the coordinator's probe found storage does not refuse damaged bytes.
  if (code === "STORAGE_UNVERIFIED") return verdict(code, false, said, { exitCode: EXIT.NETWORK });
  if (RETRYABLE_API_CODES.has(code) || transientStatus(a.status) || TRANSIENT_CODES.has(code))
    return verdict(code, true, said, { retryAfterMs: a.retryAfterMs });
  return verdict(code, false, said);
}

export interface NetworkFailure {
  service: Service;
  /** The error thrown by fetch or node:http (its code, or its cause's, is read). */
  error?: unknown;
  timeoutMs?: number | undefined;
  stallMs?: number | undefined;
  what?: string | undefined;
  /** API only: whether this client ever had an answer from the server (else: unreachable, exit 4). */
  reached?: boolean | undefined;
  server?: string | undefined;
  /** The request's URL (storage): its origin is the endpoint the link watch probes. */
  url?: string | undefined;
}

/** The origin of a URL, or undefined when it is not one. */
export function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const o = new URL(url).origin;
    return o === "null" ? undefined : o;
  } catch {
    return undefined;
  }
}

/** The errno-like code of a network failure: its own, its cause's, or one of an AggregateError's. */
export function networkCode(err: unknown): string {
  type Coded = { code?: unknown; cause?: Coded; errors?: Coded[] };
  const e = err as Coded | undefined;
  const own = (x: Coded | undefined) => (typeof x?.code === "string" ? x.code : undefined);
  return (
    own(e?.cause) ??
    own(e?.cause?.errors?.find((x) => own(x))) ??
    own(e) ??
    own(e?.errors?.find((x) => own(x))) ??
    "NETWORK"
  );
}

/** Errors of a connection that was never made. */
const NOT_CONNECTED_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ETIMEDOUT",
  "EADDRNOTAVAIL",
  "NETWORK",
]);

/** No answer at all: a broken connection, a timeout, or a stall. Always retryable. */
export function classifyNetwork(f: NetworkFailure): Verdict {
  const what = f.what ?? "the request";
  const code =
    f.stallMs !== undefined ? "STALL" : f.timeoutMs !== undefined ? "TIMEOUT" : networkCode(f.error);
  const why =
    f.stallMs !== undefined
      ? `no progress for ${Math.round(f.stallMs / 1000)}s`
      : f.timeoutMs !== undefined
        ? `no answer within ${f.timeoutMs / 1000}s`
        : code === "NETWORK" && f.error instanceof Error && f.error.message
          ? f.error.message
          : code;
  const endpoint = originOf(f.url ?? f.server);
  if (f.service === "api") {
    const reached = f.reached ?? true;
    const network = { endpoint, reached };
    return verdict(
      reached ? "NETWORK" : "SERVER_UNREACHABLE",
      true,
      `Cannot reach the SFTS server at ${f.server ?? "?"} (${why})`,
      { exitCode: reached ? EXIT.NETWORK : EXIT.SERVER_UNREACHABLE, network },
    );
  }
  // Storage: a connection that was reset, hung up or stalled had been made; refused, unresolved or
  // unroutable ones may never have been.
  const network = { endpoint, reached: !NOT_CONNECTED_CODES.has(code) };
  if (code === "STALL")
    return verdict(code, true, `No progress for ${Math.round((f.stallMs ?? 0) / 1000)}s`, { network });
  return verdict(code, true, `${what[0]?.toUpperCase() ?? ""}${what.slice(1)} failed (${why})`, { network });
}

export function toCliError(v: Verdict): CliError {
  if (v.network)
    return new NetworkError(v.code, v.message, v.exitCode, v.network.endpoint, v.network.reached);
  return new CliError(v.code, v.message, v.exitCode, v.retryable, v.retryAfterMs);
}

/** S3's XML error body: its <Code> and <Message>, when there are any. */
export function s3ErrorBody(body: string): { code?: string; message?: string } {
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
  const message = /<Message>([^<]+)<\/Message>/.exec(body)?.[1];
  return { ...(code !== undefined && { code }), ...(message !== undefined && { message }) };
}

/** A storage answer (status and XML body) as a CliError. */
export function storageError(
  status: number,
  body: string,
  retryAfterMs: number | undefined,
  what: string,
): CliError {
  return toCliError(classifyHttp({ service: "storage", status, ...s3ErrorBody(body), retryAfterMs, what }));
}

/** The presigned URL is spent: get a new one from the coordinator, then try again. */
export const isUrlExpired = (err: unknown): boolean => err instanceof CliError && err.code === "URL_EXPIRED";
