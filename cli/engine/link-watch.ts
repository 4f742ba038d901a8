/**
 * The link watch: notices the link to an endpoint (storage, or the coordinator: they may be different
 * hosts) going dark and coming back, so the retries waiting for it go again when the link returns, not
 * when their exponential backoff (up to 30 s) happens to fire. One watch per command, shared by every
 * request through the retry policy (`RetryPolicy.link`, see retry.ts).
 *
 * States, per endpoint (an origin such as "https://bucket.s3.example:443"):
 *   up       → a network-class failure (classify.ts: refused, reset, timeout, stall, unreachable, socket
 *              hang up) of a request begun when nothing had succeeded on that endpoint since → suspect,
 *              and a probe goes at once. A success since the request began means the link works: the
 *              failure was the request's own, nothing changes.
 *   suspect  → a probe fails → outage (the listener's outage()). A probe answers → up, quietly: the link
 *              was never dark, nobody is woken (their backoff runs as it would have).
 *   outage   → a probe every `intervalMs` (250 ms; probes overlap, at most probeTimeout ÷ interval at
 *              once, so a hanging probe does not delay the next); the first to answer, or any request
 *              that succeeds on the endpoint, declares it back: the listener's back(), and every retry
 *              waiting on the endpoint is woken at once. The link's return is noticed within one
 *              interval plus one round trip.
 * An endpoint counts as having been up (`wasUp`) once a request on it succeeded, a probe answered, or a
 * failure showed a connection had been made (reset, hang up, stall): only then is its outage a link that
 * went dark rather than an address that never worked (the retry policy treats the two differently).
 * Probing stops when the endpoint is back, or when it has been dark for `outageLimitMs` (10 min; the
 * retry policy then gives up with a clear message, see retry.ts).
 *
 * The probe (the CLI's is `headProbe` in head-probe.ts; the dashboard's a fetch): HEAD / on a fresh connection to the endpoint that failed, any HTTP
 * answer meaning "the link is up". Cheaper ones prove less: a bare TCP connect succeeds on a proxy or
 * middlebox that accepts connections but moves nothing, while a HEAD crosses the same path the parts
 * take (same host, port, proxies, TLS) and costs one small round trip.
 *
 * Pure apart from the probe (no Node import: the dashboard's uploader runs it too): time and timers come from the injected clock; the listener (the link
 * controller, link-model.ts, or anything with outage()/back()) hears "any endpoint dark" → outage() once,
 * "none dark any more" → back() once.
 */
export type LinkState = "up" | "suspect" | "outage";

export interface LinkListener {
  outage(): void;
  back(): void;
}

/** Whether the endpoint answers at all (any HTTP status) within `timeoutMs`. Never rejects. */
export type Probe = (endpoint: string, timeoutMs: number) => Promise<boolean>;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export interface LinkWatchOptions {
  probe: Probe;
  /** Between probes while dark (default 250 ms). */
  intervalMs?: number;
  /** A probe with no answer by then failed (default 2 s). */
  probeTimeoutMs?: number;
  /** Dark this long, retries give up (default 10 min). */
  outageLimitMs?: number;
  clock?: Clock;
  listener?: LinkListener;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.(); // a watch never keeps a finished command alive
    return t;
  },
  clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};

interface Endpoint {
  url: string;
  state: LinkState;
  lastSuccess: number;
  wasUp: boolean;
  /** When this dark spell (suspect or outage) began. */
  darkSince: number;
  /** Bumped at every change of spell, so a late probe answer of an earlier spell is ignored. */
  spell: number;
  probing: number;
  timer: unknown;
  waiters: Set<() => void>;
}

export class LinkWatch {
  readonly intervalMs: number;
  readonly probeTimeoutMs: number;
  readonly outageLimitMs: number;
  private readonly probe: Probe;
  private readonly clock: Clock;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly listeners = new Set<LinkListener>();
  private darkCount = 0;
  /** Probes sent, all endpoints (for tests and reports). */
  probes = 0;

  constructor(o: LinkWatchOptions) {
    this.probe = o.probe;
    this.intervalMs = o.intervalMs ?? 250;
    this.probeTimeoutMs = o.probeTimeoutMs ?? 2000;
    this.outageLimitMs = o.outageLimitMs ?? 10 * 60_000;
    this.clock = o.clock ?? realClock;
    if (o.listener) this.listeners.add(o.listener);
  }

  now(): number {
    return this.clock.now();
  }

  /** Hears outage()/back(); returns the way to stop hearing. */
  addListener(l: LinkListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  state(endpoint: string): LinkState {
    return this.endpoints.get(endpoint)?.state ?? "up";
  }

  /** Whether any endpoint is in an outage. */
  get dark(): boolean {
    return this.darkCount > 0;
  }

  /** How long the endpoint has been dark (suspect or outage), 0 when up. */
  darkFor(endpoint: string): number {
    const e = this.endpoints.get(endpoint);
    return e && e.state !== "up" ? this.now() - e.darkSince : 0;
  }

  /** Whether the endpoint has been seen up in this command (see the header). */
  wasUp(endpoint: string): boolean {
    return this.endpoints.get(endpoint)?.wasUp ?? false;
  }

  /** A request on the endpoint succeeded: it is up (back, if it was in an outage). */
  succeeded(endpoint: string): void {
    const e = this.get(endpoint);
    e.lastSuccess = this.now();
    e.wasUp = true;
    if (e.state !== "up") this.up(e);
  }

  /**
   * A network-class failure of a request on the endpoint begun at `startedAt` (`reached`: a connection
   * had been made); the state it leaves.
   */
  failed(endpoint: string, startedAt: number, reached = false): LinkState {
    const e = this.get(endpoint);
    if (reached) e.wasUp = true;
    if (e.state === "up" && e.lastSuccess < startedAt) {
      e.state = "suspect";
      e.darkSince = this.now();
      e.spell++;
      this.tick(e);
    }
    return e.state;
  }

  /**
   * Resolves when the endpoint comes back from an outage (not when a suspicion turns out to be
   * nothing); `cancel` forgets the waiter.
   */
  whenBack(endpoint: string): { promise: Promise<void>; cancel(): void } {
    const e = this.get(endpoint);
    let wake = () => {};
    const promise = new Promise<void>((resolve) => {
      wake = resolve;
    });
    e.waiters.add(wake);
    return { promise, cancel: () => e.waiters.delete(wake) };
  }

  private get(endpoint: string): Endpoint {
    let e = this.endpoints.get(endpoint);
    if (!e) {
      e = {
        url: endpoint,
        state: "up",
        lastSuccess: Number.NEGATIVE_INFINITY,
        wasUp: false,
        darkSince: 0,
        spell: 0,
        probing: 0,
        timer: undefined,
        waiters: new Set(),
      };
      this.endpoints.set(endpoint, e);
    }
    return e;
  }

  /** One probe now (unless enough are in flight), the next in `intervalMs`, while the spell lasts. */
  private tick(e: Endpoint): void {
    e.timer = undefined;
    if (e.state === "up" || this.now() - e.darkSince >= this.outageLimitMs) return;
    const maxInFlight = Math.max(1, Math.ceil(this.probeTimeoutMs / this.intervalMs));
    if (e.probing < maxInFlight) {
      const spell = e.spell;
      e.probing++;
      this.probes++;
      void this.probe(e.url, this.probeTimeoutMs)
        .catch(() => false)
        .then((ok) => {
          if (e.spell === spell) e.probing--;
          if (e.spell !== spell || e.state === "up") return;
          if (ok) this.up(e);
          else if (e.state === "suspect") this.goDark(e);
        });
    }
    e.timer = this.clock.setTimeout(() => this.tick(e), this.intervalMs);
  }

  private goDark(e: Endpoint): void {
    e.state = "outage";
    if (this.darkCount++ === 0) for (const l of this.listeners) l.outage();
  }

  private up(e: Endpoint): void {
    const wasOutage = e.state === "outage";
    e.wasUp = true;
    e.state = "up";
    e.spell++;
    e.probing = 0;
    if (e.timer !== undefined) this.clock.clearTimeout(e.timer);
    e.timer = undefined;
    if (!wasOutage) return;
    const waiters = [...e.waiters];
    e.waiters.clear();
    for (const wake of waiters) wake();
    if (--this.darkCount === 0) for (const l of this.listeners) l.back();
  }
}
