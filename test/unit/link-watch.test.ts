/**
 * The link watch (cli/engine/link-watch.ts) and the retry policy's use of it (retry.ts), on a simulated
 * link with vitest's fake clock and a fake probe: a 10 s outage is noticed, probed about every 250 ms, and
 * its end wakes a retry waiting in a 30 s backoff within one probe interval; a server's backoff
 * (503 SlowDown with Retry-After) is never cut short; tries during an outage do not spend the retries;
 * an outage past the limit ends with LINK_DOWN.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { classifyHttp, classifyNetwork, NetworkError, toCliError } from "../../cli/engine/classify.js";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import { headProbe } from "../../cli/engine/head-probe.js";
import { LinkWatch } from "../../cli/engine/link-watch.js";
import { type RetryPolicy, withRetries } from "../../cli/engine/retry.js";

const STORAGE = "http://storage.test:9000";
const API = "http://api.test:5000";

/** A link that is up or dark; the fake probe answers (after `rttMs`) whether it is up now. */
function fakeLink(rttMs = 20) {
  const link = { up: true, probes: [] as number[] };
  const probe = (endpoint: string) => {
    link.probes.push(Date.now());
    const target = endpoint;
    return new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(target === STORAGE ? link.up : true), rttMs),
    );
  };
  return { link, probe };
}

const reset = () =>
  toCliError(
    classifyNetwork({ service: "storage", error: { code: "ECONNRESET" }, url: `${STORAGE}/b/k?x=1` }),
  );

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  vi.spyOn(Math, "random").mockReturnValue(0.999); // every backoff at its ceiling
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("classify: network failures name their endpoint", () => {
  it("storage failures carry the URL's origin, API failures the server's; answers are not network errors", () => {
    const e = reset();
    expect(e).toBeInstanceOf(NetworkError);
    expect((e as NetworkError).endpoint).toBe(STORAGE);
    expect(e.retryable).toBe(true);
    const stall = toCliError(classifyNetwork({ service: "storage", stallMs: 8000, url: `${STORAGE}/x` }));
    expect((stall as NetworkError).endpoint).toBe(STORAGE);
    const api = toCliError(classifyNetwork({ service: "api", error: { code: "ECONNREFUSED" }, server: API }));
    expect((api as NetworkError).endpoint).toBe(API);
    const slow = toCliError(
      classifyHttp({ service: "storage", status: 503, code: "SlowDown", retryAfterMs: 5000 }),
    );
    expect(slow).not.toBeInstanceOf(NetworkError);
    expect((e as NetworkError).reached).toBe(true); // a reset: the connection had been made
    const refused = toCliError(
      classifyNetwork({ service: "storage", error: { code: "ECONNREFUSED" }, url: STORAGE }),
    );
    expect((refused as NetworkError).reached).toBe(false);
    expect(slow.retryAfterMs).toBe(5000);
  });
});

describe("LinkWatch", () => {
  it("a 10 s outage: outage on the failure, a probe about every 250 ms, back within one interval of the return", async () => {
    const { link, probe } = fakeLink();
    const heard: Array<[string, number]> = [];
    const watch = new LinkWatch({
      probe,
      listener: {
        outage: () => heard.push(["outage", Date.now()]),
        back: () => heard.push(["back", Date.now()]),
      },
    });
    link.up = false;
    expect(watch.failed(STORAGE, 0)).toBe("suspect");
    await vi.advanceTimersByTimeAsync(100);
    expect(watch.state(STORAGE)).toBe("outage");
    expect(watch.dark).toBe(true);
    expect(heard).toEqual([["outage", 20]]);
    await vi.advanceTimersByTimeAsync(10_000 - 100);
    // Dark for 10 s: one probe at once, then one every 250 ms.
    expect(link.probes.length).toBeGreaterThanOrEqual(38);
    expect(link.probes.length).toBeLessThanOrEqual(42);
    const gaps = link.probes.slice(1).map((t, i) => t - (link.probes[i] as number));
    expect(new Set(gaps)).toEqual(new Set([250]));
    link.up = true; // the link returns at t = 10 s
    await vi.advanceTimersByTimeAsync(300);
    expect(watch.state(STORAGE)).toBe("up");
    const back = heard.find(([what]) => what === "back");
    expect(back?.[1]).toBeGreaterThanOrEqual(10_000);
    expect(back?.[1]).toBeLessThanOrEqual(10_000 + 250 + 20);
    const probesWhenBack = link.probes.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(link.probes.length).toBe(probesWhenBack); // probing stops once it is back
  });

  it("a failure while others succeed is the request's own; a suspicion that a probe clears wakes nobody", async () => {
    const { link, probe } = fakeLink();
    const outage = vi.fn();
    const watch = new LinkWatch({ probe, listener: { outage, back: vi.fn() } });
    watch.succeeded(STORAGE); // at t = 0
    expect(watch.failed(STORAGE, 0)).toBe("up"); // began at 0, a success since: no probe
    expect(link.probes).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    expect(watch.failed(STORAGE, 10)).toBe("suspect");
    const woken = vi.fn();
    void watch.whenBack(STORAGE).promise.then(woken);
    await vi.advanceTimersByTimeAsync(1000);
    expect(watch.state(STORAGE)).toBe("up");
    expect(link.probes).toHaveLength(1);
    expect(woken).not.toHaveBeenCalled();
    expect(outage).not.toHaveBeenCalled();
  });

  it("a request that gets through during an outage declares the link back at once", async () => {
    const { link, probe } = fakeLink();
    const back = vi.fn();
    const watch = new LinkWatch({ probe, listener: { outage: vi.fn(), back } });
    link.up = false;
    watch.failed(STORAGE, 0, true);
    await vi.advanceTimersByTimeAsync(100);
    expect(watch.state(STORAGE)).toBe("outage");
    const woken = vi.fn();
    void watch.whenBack(STORAGE).promise.then(woken);
    watch.succeeded(STORAGE);
    await vi.advanceTimersByTimeAsync(0);
    expect(watch.state(STORAGE)).toBe("up");
    expect(woken).toHaveBeenCalledOnce();
    expect(back).toHaveBeenCalledOnce();
  });

  it("watches each endpoint on its own: storage dark does not make the coordinator dark", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe });
    link.up = false;
    watch.failed(STORAGE, 0);
    watch.failed(API, 0);
    await vi.advanceTimersByTimeAsync(100);
    expect(watch.state(STORAGE)).toBe("outage");
    expect(watch.state(API)).toBe("up");
  });

  it("the default probe says no for a port nobody listens on, within its timeout", async () => {
    vi.useRealTimers();
    expect(await headProbe("http://127.0.0.1:9", 1000)).toBe(false);
    expect(await headProbe("not a url", 1000)).toBe(false);
  });
});

describe("withRetries with a link watch", () => {
  const slowPolicy = (watch: LinkWatch, maxRetries = 10): RetryPolicy => ({
    maxRetries,
    baseMs: 30_000,
    capMs: 30_000,
    link: watch,
  });

  it("a retry waiting in a 30 s backoff runs again within one probe interval of the link's return", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe });
    const calls: number[] = [];
    link.up = false;
    const done = withRetries(
      async () => {
        calls.push(Date.now());
        if (!link.up) throw reset();
        return "sent";
      },
      { policy: slowPolicy(watch) },
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([0]); // still waiting in its ~30 s backoff
    link.up = true;
    await vi.advanceTimersByTimeAsync(300);
    await expect(done).resolves.toBe("sent");
    expect(calls).toHaveLength(2);
    expect(calls[1]).toBeGreaterThanOrEqual(10_000);
    expect(calls[1]).toBeLessThanOrEqual(10_000 + 250 + 20);
  });

  it("without a watch the same retry waits its whole backoff", async () => {
    const calls: number[] = [];
    let up = false;
    const done = withRetries(
      async () => {
        calls.push(Date.now());
        if (!up) throw reset();
        return "sent";
      },
      { policy: { maxRetries: 10, baseMs: 30_000, capMs: 30_000 } },
    );
    await vi.advanceTimersByTimeAsync(10_000);
    up = true;
    await vi.advanceTimersByTimeAsync(30_000);
    await expect(done).resolves.toBe("sent");
    expect(calls[1]).toBeGreaterThan(29_000);
  });

  it("a 503 SlowDown with Retry-After is not woken early by the link's return", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe });
    const calls: number[] = [];
    link.up = false;
    const done = withRetries(
      async (attempt) => {
        calls.push(Date.now());
        if (attempt === 0) throw reset(); // the link goes dark
        if (attempt === 1)
          throw toCliError(
            classifyHttp({ service: "storage", status: 503, code: "SlowDown", retryAfterMs: 20_000 }),
          );
        return "sent";
      },
      { policy: { maxRetries: 10, baseMs: 250, capMs: 1000, link: watch } },
    );
    link.up = true; // back quickly: the first retry is woken...
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toHaveLength(2);
    // ...but storage then asks for 20 s: another outage and return meanwhile change nothing.
    const slowDownAt = calls[1] as number;
    link.up = false;
    watch.failed(STORAGE, Date.now());
    await vi.advanceTimersByTimeAsync(1000);
    expect(watch.state(STORAGE)).toBe("outage");
    link.up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(watch.state(STORAGE)).toBe("up");
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(20_000);
    await expect(done).resolves.toBe("sent");
    expect((calls[2] as number) - slowDownAt).toBeGreaterThanOrEqual(20_000);
  });

  it("tries that fail during an outage do not spend the retries", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe });
    let calls = 0;
    link.up = false;
    const done = withRetries(
      async () => {
        calls++;
        if (!link.up) throw reset();
        return "sent";
      },
      { policy: { maxRetries: 2, baseMs: 100, capMs: 400, link: watch } },
    );
    const settled = vi.fn();
    void done.then(settled, settled);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBeGreaterThan(100); // tried on its (short) timer all along, never giving up
    expect(settled).not.toHaveBeenCalled();
    link.up = true;
    await vi.advanceTimersByTimeAsync(500);
    await expect(done).resolves.toBe("sent");
  });

  it("the same failures with the link up spend them", async () => {
    const probe = vi.fn(async () => true); // the link answers: the failures are the server's connection's
    const watch = new LinkWatch({ probe });
    let calls = 0;
    const done = withRetries(
      async () => {
        calls++;
        throw reset();
      },
      { policy: { maxRetries: 2, baseMs: 100, capMs: 400, link: watch } },
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5000);
    const err = (await done) as CliError;
    expect(err.message).toMatch(/gave up after 3 tries/);
    expect(calls).toBe(3);
  });

  it("an endpoint never reached (refused from the first try) spends its retries as without a watch", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe });
    link.up = false;
    const refused = () =>
      toCliError(
        classifyNetwork({ service: "storage", error: { code: "ECONNREFUSED" }, url: `${STORAGE}/k` }),
      );
    let calls = 0;
    const done = withRetries(
      async () => {
        calls++;
        throw refused();
      },
      { policy: { maxRetries: 2, baseMs: 100, capMs: 400, link: watch } },
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5000);
    expect(((await done) as CliError).message).toMatch(/gave up after 3 tries/);
    expect(calls).toBe(3);
    // The coordinator never answered: exit 4, as before, not a 10-minute wait.
    const unreachable = () =>
      toCliError(
        classifyNetwork({ service: "api", error: { code: "ECONNREFUSED" }, reached: false, server: API }),
      );
    const api = withRetries(
      async () => {
        throw unreachable();
      },
      { policy: { maxRetries: 1, baseMs: 100, capMs: 400, link: watch } },
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5000);
    expect(((await api) as CliError).exitCode).toBe(EXIT.SERVER_UNREACHABLE);
  });

  it("a refusal after the endpoint was reached is an outage: it does not spend the retries", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe });
    link.up = false;
    let calls = 0;
    const done = withRetries(
      async () => {
        calls++;
        if (link.up) return "sent";
        throw calls === 1
          ? reset()
          : toCliError(
              classifyNetwork({ service: "storage", error: { code: "ECONNREFUSED" }, url: `${STORAGE}/k` }),
            );
      },
      { policy: { maxRetries: 2, baseMs: 100, capMs: 400, link: watch } },
    );
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls).toBeGreaterThan(10);
    link.up = true;
    await vi.advanceTimersByTimeAsync(500);
    await expect(done).resolves.toBe("sent");
  });

  it("an outage past the limit ends with LINK_DOWN, exit 7, saying how long and that it resumes", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe, outageLimitMs: 3 * 60_000 });
    link.up = false;
    const done = withRetries(
      async () => {
        throw reset();
      },
      { policy: slowPolicy(watch) },
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(3 * 60_000 + 1000);
    const err = (await done) as CliError;
    expect(err).toBeInstanceOf(CliError);
    expect(err.code).toBe("LINK_DOWN");
    expect(err.exitCode).toBe(EXIT.NETWORK);
    expect(err.message).toMatch(/^No connection to http:\/\/storage\.test:9000 for 3 minutes/);
    expect(err.message).toMatch(/run the same command again/);
    const probes = link.probes.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(link.probes.length).toBe(probes); // probing stopped at the limit
  });

  it("an abort during the wait ends it with the abort's reason", async () => {
    const { link, probe } = fakeLink();
    const watch = new LinkWatch({ probe });
    link.up = false;
    const abort = new AbortController();
    const done = withRetries(
      async () => {
        throw reset();
      },
      { policy: slowPolicy(watch), signal: abort.signal },
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    abort.abort(new Error("stopped"));
    expect(((await done) as Error).message).toBe("stopped");
  });
});
