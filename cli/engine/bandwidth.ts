/**
 * A shared token bucket for --limit-rate with weighted fair sharing (start-time fair queuing): each request
 * gets a start tag max(virtual time, its flow's last finish tag) and a finish tag start + bytes / weight;
 * grants go in start-tag order. A high-priority file thus gets its larger share of the bandwidth rather
 * than only going first, and a flow that was idle banks no credit.
 */
export { PRIORITY_WEIGHT } from "./priority.js";

interface Waiter {
  bytes: number;
  start: number;
  seq: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Bandwidth {
  private tokens: number;
  private last: number;
  private readonly burst: number;
  private readonly queue: Waiter[] = [];
  private readonly finish = new Map<string, number>();
  private readonly weights = new Map<string, number>();
  private virtualTime = 0;
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

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
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const start = Math.max(this.virtualTime, this.finish.get(flow) ?? 0);
      this.finish.set(flow, start + bytes / (this.weights.get(flow) ?? 1));
      const onAbort = () => this.drop(w, signal?.reason);
      const w: Waiter = {
        bytes,
        start,
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
      };
      signal?.addEventListener("abort", onAbort, { once: true });
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

  private next(): number {
    let best = 0;
    this.queue.forEach((w, i) => {
      const b = this.queue[best] as Waiter;
      if (w.start < b.start || (w.start === b.start && w.seq < b.seq)) best = i;
    });
    return best;
  }

  private pump() {
    if (this.timer) return;
    this.refill();
    while (this.queue.length) {
      const i = this.next();
      const w = this.queue[i] as Waiter;
      if (this.tokens < Math.min(w.bytes, this.burst)) break;
      this.tokens -= w.bytes;
      this.queue.splice(i, 1);
      this.virtualTime = w.start;
      w.resolve();
    }
    if (this.queue.length) {
      const w = this.queue[this.next()] as Waiter;
      const deficit = Math.min(w.bytes, this.burst) - this.tokens;
      const waitMs = Math.max(1, (deficit / (this.rate ?? 1)) * 1000);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, waitMs);
    }
  }
}
