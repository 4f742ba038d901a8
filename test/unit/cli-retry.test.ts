import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import {
  backoffDelay,
  DEFAULT_RETRY,
  parseRetryAfter,
  type RetryInfo,
  type RetryPolicy,
  sleep,
  withRetries,
} from "../../cli/engine/retry.js";

const fast: RetryPolicy = { maxRetries: 3, baseMs: 1, capMs: 2 };
const retryable = (message = "connection reset", retryAfterMs?: number) =>
  new CliError("NETWORK", message, EXIT.NETWORK, true, retryAfterMs);

describe("backoffDelay", () => {
  const policy: RetryPolicy = { maxRetries: 10, baseMs: 250, capMs: 30_000 };

  it("is full jitter: random() × min(cap, base·2^attempt), rounded down", () => {
    expect(backoffDelay(0, policy, undefined, () => 0)).toBe(0);
    expect(backoffDelay(0, policy, undefined, () => 0.5)).toBe(125);
    expect(backoffDelay(3, policy, undefined, () => 0.5)).toBe(1000);
    expect(backoffDelay(3, policy, undefined, () => 0.999999)).toBe(1999);
    expect(backoffDelay(20, policy, undefined, () => 0.5)).toBe(15_000);
    expect(backoffDelay(1000, policy, undefined, () => 0.999999)).toBe(29_999);
  });

  it("stays within [0, min(cap, base·2^attempt)) for any attempt and any random draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        (attempt, r, baseMs, capMs) => {
          const p = { maxRetries: 10, baseMs, capMs };
          const d = backoffDelay(attempt, p, undefined, () => r);
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThan(Math.min(capMs, baseMs * 2 ** attempt));
        },
      ),
    );
  });

  it("is never shorter than Retry-After, even past the cap", () => {
    expect(backoffDelay(0, policy, 5_000, () => 0.5)).toBe(5_000);
    expect(backoffDelay(10, policy, 100, () => 0.5)).toBe(15_000);
    expect(backoffDelay(10, policy, 60_000, () => 0.999)).toBe(60_000);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 300_000 }),
        (attempt, r, retryAfter) => {
          expect(backoffDelay(attempt, policy, retryAfter, () => r)).toBeGreaterThanOrEqual(retryAfter);
        },
      ),
    );
  });

  it("defaults to 10 retries from 250 ms, capped at 30 s", () => {
    expect(DEFAULT_RETRY).toEqual({ maxRetries: 10, baseMs: 250, capMs: 30_000 });
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");

  it("reads delay-seconds as milliseconds", () => {
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter("5", now)).toBe(5_000);
    expect(parseRetryAfter(" 120 ", now)).toBe(120_000);
  });

  it("reads an HTTP date as the time from now until then, never negative", () => {
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 21 Oct 2015 08:28:00 GMT", now)).toBe(3_600_000);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now)).toBe(0);
  });

  it("is undefined when absent or unreadable", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("12abc", now)).toBeUndefined();
    expect(parseRetryAfter("Wed, 99 Foo 2015", now)).toBeUndefined();
  });
});

describe("sleep", () => {
  it("rejects at once with the reason when the signal has already aborted", async () => {
    const reason = new Error("stop");
    await expect(sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it("rejects with the reason when the signal aborts while sleeping", async () => {
    const ac = new AbortController();
    const reason = new Error("stop");
    const p = sleep(60_000, ac.signal);
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
  });
});

describe("withRetries", () => {
  it("returns the first success and passes the attempt number (from 0)", async () => {
    const seen: number[] = [];
    const result = await withRetries(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 2) throw retryable();
        return "ok";
      },
      { policy: fast },
    );
    expect(result).toBe("ok");
    expect(seen).toEqual([0, 1, 2]);
  });

  it("retries a retryable CliError maxRetries times, then gives up saying how many tries it made", async () => {
    let calls = 0;
    const infos: RetryInfo[] = [];
    const err = await withRetries(
      async () => {
        calls++;
        throw retryable("storage is throttling");
      },
      { policy: fast, onRetry: (i) => infos.push(i) },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(err).toBeInstanceOf(CliError);
    const e = err as CliError;
    expect(e.message).toBe("storage is throttling (gave up after 4 tries)");
    expect(e.code).toBe("NETWORK");
    expect(e.exitCode).toBe(EXIT.NETWORK);
    expect(e.retryable).toBe(false);
    expect(infos.map((i) => i.attempt)).toEqual([1, 2, 3]);
    for (const i of infos) {
      expect(i.error).toBeInstanceOf(CliError);
      expect(i.delayMs).toBeGreaterThanOrEqual(0);
      expect(i.delayMs).toBeLessThan(fast.capMs);
    }
  });

  it("makes one try and no retry when maxRetries is 0", async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls++;
          throw retryable("down");
        },
        { policy: { ...fast, maxRetries: 0 } },
      ),
    ).rejects.toThrow("down (gave up after 1 tries)");
    expect(calls).toBe(1);
  });

  it("keeps the exit code of the last error, turning 'unexpected' into 'network'", async () => {
    const keep = await withRetries(
      async () => {
        throw new CliError("SERVER_ERROR", "503", EXIT.SERVER_UNREACHABLE, true);
      },
      { policy: fast },
    ).catch((e: CliError) => e);
    expect(keep.exitCode).toBe(EXIT.SERVER_UNREACHABLE);
    const unexpected = await withRetries(
      async () => {
        throw new CliError("ODD", "odd", EXIT.UNEXPECTED, true);
      },
      { policy: fast },
    ).catch((e: CliError) => e);
    expect(unexpected.exitCode).toBe(EXIT.NETWORK);
  });

  it("does not retry a CliError that is not retryable, nor any other error", async () => {
    for (const thrown of [
      new CliError("AUTH", "bad token", EXIT.AUTH, false),
      new TypeError("bug"),
      "a string",
    ]) {
      let calls = 0;
      let retries = 0;
      const err = await withRetries(
        async () => {
          calls++;
          throw thrown;
        },
        { policy: fast, onRetry: () => retries++ },
      ).catch((e: unknown) => e);
      expect(err).toBe(thrown);
      expect(calls).toBe(1);
      expect(retries).toBe(0);
    }
  });

  it("waits at least the Retry-After the error carries", async () => {
    const infos: RetryInfo[] = [];
    const start = performance.now();
    await withRetries(
      async (attempt) => {
        if (attempt === 0) throw retryable("slow down", 30);
        return attempt;
      },
      { policy: fast, onRetry: (i) => infos.push(i) },
    );
    expect(infos.map((i) => i.delayMs)).toEqual([30]);
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
  });

  it("stops waiting and rejects with the abort reason when the signal aborts during a backoff", async () => {
    const ac = new AbortController();
    const reason = new Error("interrupted");
    let calls = 0;
    const start = performance.now();
    const err = await withRetries(
      async () => {
        calls++;
        throw retryable("reset", 60_000);
      },
      { policy: fast, signal: ac.signal, onRetry: () => setTimeout(() => ac.abort(reason), 5) },
    ).catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(calls).toBe(1);
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it("rejects with the abort reason, without retrying, when the operation fails after an abort", async () => {
    const ac = new AbortController();
    const reason = new Error("interrupted");
    let calls = 0;
    const err = await withRetries(
      async () => {
        calls++;
        ac.abort(reason);
        throw retryable();
      },
      { policy: fast, signal: ac.signal },
    ).catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(calls).toBe(1);
  });
});
