/**
 * One retry policy for every network operation (API calls, part PUTs, ranged GETs): exponential backoff
 * with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"), never shorter than a
 * server's Retry-After.
 *
 * With a link watch (`policy.link`, link-watch.ts) the policy tells the server failing from the link
 * failing:
 * - An answer that is a failure (429, 503, SlowDown, RATE_LIMITED, 5xx, …) is the server's: its backoff
 *   and Retry-After are honoured exactly as without a watch, never cut short, and every one counts
 *   against `maxRetries`.
 * - No answer at all (a `NetworkError` naming its endpoint: refused, reset, timeout, stall, unreachable)
 *   is reported to the watch, and the backoff sleep races the watch's "back" for that endpoint: when the
 *   link returns, the retry goes within one probe interval instead of after up to `capMs`.
 * - Tries that fail while the endpoint is in an outage, or whose wait ends with its return, do not count
 *   against `maxRetries`, if the endpoint had been up in this command (an outage is not the server failing; the backoff still grows, so tries on the
 *   timer during a long outage stay rare, the watch's cheap probes doing the watching). A try that fails
 *   while the watch only suspects the link is counted once its wait is over, unless the outage was real.
 *   An endpoint never reached (refused or unresolved from the first try: perhaps a wrong address, exit 4
 *   for the coordinator) spends its retries as without a watch, though its retries are still woken.
 * - Instead, an outage is bounded in time: dark for the watch's `outageLimitMs` (10 min), the operation
 *   gives up with LINK_DOWN (exit 7, NETWORK), saying how long and that running the command again resumes.
 */
import { NetworkError } from "./classify.js";
import { CliError, EXIT } from "./errors.js";
import type { LinkWatch } from "./link-watch.js";

export interface RetryPolicy {
  maxRetries: number;
  baseMs: number;
  capMs: number;
  /** Notices outages and the link's return (one per command); without it, plain backoff. */
  link?: LinkWatch | undefined;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 10, baseMs: 250, capMs: 30_000 };

export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  if (!/[a-z]/i.test(value)) return undefined; // neither delay-seconds nor an HTTP date
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: CliError;
}

/**
 * Runs `op` until it succeeds, a non-retryable error occurs, or the policy's retries are spent (or, with
 * a link watch, the link has been dark past its outage limit). `op` must throw CliErrors (retryable or
 * not); anything else is treated as not retryable.
 */
export async function withRetries<T>(
  op: (attempt: number) => Promise<T>,
  opts: { policy: RetryPolicy; onRetry?: (info: RetryInfo) => void; signal?: AbortSignal | undefined },
): Promise<T> {
  const link = opts.policy.link;
  let charged = 0;
  /** The endpoint a network failure of this operation named: a success then tells the watch it is up. */
  let failedOn: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const startedAt = link?.now() ?? 0;
    try {
      const result = await op(attempt);
      if (link && failedOn !== undefined) link.succeeded(failedOn);
      return result;
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (!(err instanceof CliError) || !err.retryable) throw err;
      const endpoint = link && err instanceof NetworkError ? err.endpoint : undefined;
      if (!link || endpoint === undefined) {
        if (++charged > opts.policy.maxRetries) throw exhausted(err, attempt + 1);
        const delayMs = backoffDelay(attempt, opts.policy, err.retryAfterMs);
        opts.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
        await sleep(delayMs, opts.signal);
        continue;
      }
      failedOn = endpoint;
      const found = link.failed(endpoint, startedAt, (err as NetworkError).reached);
      // Never seen up: every try counts, as without a watch (an address that never worked is no outage).
      const seenUp = link.wasUp(endpoint);
      const state = seenUp ? found : "up";
      if (state === "up" && ++charged > opts.policy.maxRetries) throw exhausted(err, attempt + 1);
      const left = seenUp ? link.outageLimitMs - link.darkFor(endpoint) : Number.POSITIVE_INFINITY;
      if (state === "outage" && left <= 0) throw linkDown(err, link, endpoint);
      const delayMs = backoffDelay(attempt, opts.policy, err.retryAfterMs);
      opts.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
      const woken = await sleepUnlessBack(Math.min(delayMs, Math.max(0, left)), link, endpoint, opts.signal);
      const after = link.state(endpoint);
      if (seenUp && after === "outage" && link.darkFor(endpoint) >= link.outageLimitMs)
        throw linkDown(err, link, endpoint);
      if (state === "suspect" && !woken && after !== "outage" && ++charged > opts.policy.maxRetries)
        throw exhausted(err, attempt + 1);
    }
  }
}

/** Sleeps `ms`, or less if the endpoint comes back from an outage first: true when woken by its return. */
async function sleepUnlessBack(
  ms: number,
  link: LinkWatch,
  endpoint: string,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const back = link.whenBack(endpoint);
  const timer = new AbortController();
  const both = signal ? AbortSignal.any([signal, timer.signal]) : timer.signal;
  try {
    return await Promise.race([sleep(ms, both).then(() => false), back.promise.then(() => true)]);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    back.cancel();
    timer.abort();
  }
}

function exhausted(err: CliError, tries: number): CliError {
  return new CliError(
    err.code,
    `${err.message} (gave up after ${tries} tries)`,
    err.exitCode === EXIT.UNEXPECTED ? EXIT.NETWORK : err.exitCode,
  );
}

function linkDown(err: CliError, link: LinkWatch, endpoint: string): CliError {
  const minutes = Math.max(1, Math.round(link.darkFor(endpoint) / 60_000));
  return new CliError(
    "LINK_DOWN",
    `No connection to ${endpoint} for ${minutes} minute${minutes === 1 ? "" : "s"} (${err.message}); ` +
      "run the same command again when the link is back: it picks up where it stopped",
    EXIT.NETWORK,
  );
}
