/**
 * Per-route deadlines for coordinator calls, learnt from what the calls took: a call whose answer does
 * not come within max(floor, factor × the slowest recent successful call of its route) is treated as
 * stalled (most often a keep-alive connection that died silently in a link drop), aborted and retried on
 * a fresh connection, instead of waiting out the configured timeout. A route never answered yet gets the
 * configured timeout; each retry of the same call doubles its deadline (a call that is only slow still
 * gets through), always capped by the configured timeout. Pure: the clock is injected.
 */

export interface CallDeadlineOptions {
  /** The configured API timeout: no deadline is longer. */
  capMs: number;
  /** No deadline is shorter (default 5 s). */
  floorMs?: number;
  /** Times the slowest recent call (default 4). */
  factor?: number;
  /** Recent successful calls remembered per route (default 20). */
  window?: number;
  now?: () => number;
}

export const DEFAULT_FLOOR_MS = 5_000;
export const DEFAULT_FACTOR = 4;
export const DEFAULT_WINDOW = 20;

export class CallDeadlines {
  private readonly recent = new Map<string, number[]>();
  private readonly floorMs: number;
  private readonly factor: number;
  private readonly window: number;
  readonly now: () => number;

  constructor(private readonly opts: CallDeadlineOptions) {
    this.floorMs = opts.floorMs ?? DEFAULT_FLOOR_MS;
    this.factor = opts.factor ?? DEFAULT_FACTOR;
    this.window = opts.window ?? DEFAULT_WINDOW;
    this.now = opts.now ?? (() => performance.now());
  }

  /** The deadline (ms) of a call of `route`; `attempt` 1 is the first try, each retry doubles it. */
  deadlineMs(route: string, attempt = 1): number {
    const seen = this.recent.get(route);
    if (!seen?.length) return Math.ceil(this.opts.capMs);
    const base = Math.max(this.floorMs, this.factor * Math.max(...seen));
    // Whole milliseconds: AbortSignal.timeout takes nothing else.
    return Math.ceil(Math.min(this.opts.capMs, base * 2 ** Math.max(0, attempt - 1)));
  }

  /** A call of `route` answered after `ms`. */
  observe(route: string, ms: number): void {
    const seen = this.recent.get(route) ?? [];
    seen.push(Math.max(0, ms));
    if (seen.length > this.window) seen.splice(0, seen.length - this.window);
    this.recent.set(route, seen);
  }

  /** Starts timing a call of `route`: `done()` records it as answered now. */
  start(route: string): { done(): void } {
    const at = this.now();
    return { done: () => this.observe(route, this.now() - at) };
  }
}
