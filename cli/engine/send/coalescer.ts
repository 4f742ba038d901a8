/**
 * "One call in flight, the rest batched": items submitted while a call is on its way wait and go together
 * in the next call, up to a count and a weight (JSON bytes) per call. By default nothing waits for a timer:
 * the first item leaves at once, and the round trip it takes is what gathers the next call's items. With
 * `ready`, a call of fewer than maxItems leaves only when the caller says more items will not come soon
 * (or after maxWaitMs), so a steady trickle of items still makes full calls. Used for file
 * entries (POST /batch, /batch/{id}/files), single-PUT completions and a multipart file's presigns.
 */
export interface CoalescerOptions<I> {
  /** Items per call, at most. */
  maxItems: number;
  /** Weight per call, at most (a call always carries at least one item). */
  maxWeight?: number;
  weigh?: (item: I) => number;
  /** Calls in flight at once (1: strictly one). */
  maxInFlight?: number;
  /** The first call waits for this (e.g. the files being hashed right now), so it carries them too. */
  holdFirst?: () => Promise<void>;
  /**
   * Whether a call may leave now with fewer than maxItems (default: always). When it says no, items
   * wait until it says yes on a later `poke()`, the batch is full, or the oldest waited maxWaitMs.
   */
  ready?: (queued: number) => boolean;
  /** With `ready`: the longest an item waits for a fuller call (default 1 s). */
  maxWaitMs?: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private holding: "no" | "yes" | "done" = "no";
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private overdue = false;
  /** Calls made so far (for tests and the benchmark's call counts). */
  calls = 0;

  /** `call` answers the items it was given, in the same order. */
  constructor(
    private readonly call: (items: I[]) => Promise<O[]>,
    private readonly opts: CoalescerOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Conditions of `ready` changed: a call may leave now. */
  poke(): void {
    if (this.queue.length) this.pump();
  }

  /** Whether a call of fewer than maxItems may leave now. */
  private mayLeave(): boolean {
    if (!this.opts.ready || this.queue.length >= this.opts.maxItems || this.overdue) return true;
    if (this.opts.ready(this.queue.length)) return true;
    if (!this.waitTimer) {
      this.waitTimer = setTimeout(() => {
        this.waitTimer = undefined;
        this.overdue = true;
        this.pump();
      }, this.opts.maxWaitMs ?? 1000);
      this.waitTimer.unref?.();
    }
    return false;
  }

  /** Items waiting or on their way. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Resolves once nothing is waiting or in flight. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private take(): Pending<I, O>[] {
    const max = this.opts.maxItems;
    const maxWeight = this.opts.maxWeight ?? Number.POSITIVE_INFINITY;
    const weigh = this.opts.weigh ?? (() => 0);
    const batch: Pending<I, O>[] = [];
    let weight = 0;
    while (this.queue.length && batch.length < max) {
      const w = weigh((this.queue[0] as Pending<I, O>).item);
      if (batch.length > 0 && weight + w > maxWeight) break;
      weight += w;
      batch.push(this.queue.shift() as Pending<I, O>);
    }
    return batch;
  }

  private pump(): void {
    if (this.holding !== "done" && this.opts.holdFirst) {
      if (this.holding === "yes" || this.queue.length === 0) return;
      this.holding = "yes";
      void this.opts.holdFirst().finally(() => {
        this.holding = "done";
        this.pump();
      });
      return;
    }
    while (this.queue.length && this.inFlight < (this.opts.maxInFlight ?? 1) && this.mayLeave()) {
      const batch = this.take();
      this.overdue = false;
      if (this.waitTimer && this.queue.length === 0) {
        clearTimeout(this.waitTimer);
        this.waitTimer = undefined;
      }
      this.inFlight++;
      this.calls++;
      let answer: Promise<O[]>;
      try {
        answer = this.call(batch.map((p) => p.item));
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer
        .then(
          (outs) => {
            batch.forEach((p, i) => {
              if (i < outs.length) p.resolve(outs[i] as O);
              else p.reject(new Error("the call answered fewer items than it was given"));
            });
          },
          (err: unknown) => {
            for (const p of batch) p.reject(err);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
          if (this.queue.length === 0 && this.inFlight === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const w of waiters) w();
          }
        });
    }
  }
}
