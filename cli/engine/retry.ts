/**
 * One retry policy for every network operation (API calls and part PUTs): exponential backoff with
 * full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"), never shorter than a
 * server's Retry-After.
 */
import { CliError, EXIT } from "./errors.js";

export interface RetryPolicy {
  maxRetries: number;
  baseMs: number;
  capMs: number;
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
 * Runs `op` until it succeeds, a non-retryable error occurs, or the policy's retries are spent.
 * `op` must throw CliErrors (retryable or not); anything else is treated as not retryable.
 */
export async function withRetries<T>(
  op: (attempt: number) => Promise<T>,
  opts: { policy: RetryPolicy; onRetry?: (info: RetryInfo) => void; signal?: AbortSignal | undefined },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (!(err instanceof CliError) || !err.retryable) throw err;
      if (attempt >= opts.policy.maxRetries) throw exhausted(err, attempt + 1);
      const delayMs = backoffDelay(attempt, opts.policy, err.retryAfterMs);
      opts.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
      await sleep(delayMs, opts.signal);
    }
  }
}

function exhausted(err: CliError, tries: number): CliError {
  return new CliError(
    err.code,
    `${err.message} (gave up after ${tries} tries)`,
    err.exitCode === EXIT.UNEXPECTED ? EXIT.NETWORK : err.exitCode,
  );
}
