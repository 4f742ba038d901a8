/**
 * A shared token bucket for --limit-rate with weighted fair sharing: when several files wait for bandwidth,
 * each grant goes to the waiter whose file has used the least bandwidth per unit of weight (start-time fair
 * queuing), so a high-priority file gets its larger share rather than only going first.
 */
export const PRIORITY_WEIGHT = { high: 4, normal: 2, low: 1 } as const;

interface Waiter {
  bytes: number;
  flow: string;
  resolve: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
}

export class Bandwidth {
  private tokens: number;
  private last: number;
  private readonly burst: number;
  private readonly queue: Waiter[] = [];
  private readonly vtime = new Map<string, number>();
  private readonly weights = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  /** `rate` in bytes per second; null means unlimited (acquire resolves at once). */
  constructor(
    private readonly rate: number | null,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.burst = rate === null ? 0 : Math.max(64 * 1024, rate / 10);
    this.tokens = this.burst;
    this.last = this.now();
  }

  get limited(): boolean {
    return this.rate !== null;
  }

  setWeight(flow: string, weight: number): void {
    this.weights.set(flow, weight);
  }

  /** Waits until `bytes` may be sent on behalf of `flow`. */
  acquire(flow: string, bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rate === null) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { bytes, flow, resolve, reject, signal };
      signal?.addEventListener("abort", () => this.drop(w, signal.reason), { once: true });
      this.queue.push(w);
      this.pump();
    });
  }

  private drop(w: Waiter, reason: unknown) {
    const i = this.queue.indexOf(w);
    if (i >= 0) {
      this.queue.splice(i, 1);
      w.reject(reason);
    }
  }

  private refill() {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * (this.rate ?? 0));
    this.last = t;
  }

  private pick(): number {
    // The waiting flow with the least weighted service so far goes next.
    let best = 0;
    let bestV = Number.POSITIVE_INFINITY;
    this.queue.forEach((w, i) => {
      const v = this.vtime.get(w.flow) ?? this.floorV();
      if (v < bestV) [best, bestV] = [i, v];
    });
    return best;
  }

  private floorV(): number {
    // A flow that just arrived starts level with the least-served active flow (no banked credit).
    let min = Number.POSITIVE_INFINITY;
    for (const w of this.queue) min = Math.min(min, this.vtime.get(w.flow) ?? Number.POSITIVE_INFINITY);
    return Number.isFinite(min) ? min : 0;
  }

  private pump() {
    if (this.timer) return;
    this.refill();
    while (this.queue.length) {
      const i = this.pick();
      const w = this.queue[i] as Waiter;
      const need = Math.min(w.bytes, this.burst);
      if (this.tokens < need) break;
      this.tokens -= w.bytes;
      this.queue.splice(i, 1);
      const weight = this.weights.get(w.flow) ?? 1;
      this.vtime.set(w.flow, Math.max(this.vtime.get(w.flow) ?? 0, this.floorV()) + w.bytes / weight);
      w.resolve();
    }
    if (this.queue.length) {
      const deficit = Math.min((this.queue[this.pick()] as Waiter).bytes, this.burst) - this.tokens;
      const waitMs = Math.max(1, (deficit / (this.rate ?? 1)) * 1000);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, waitMs);
    }
  }
}
