/**
 * Coalesces single requests into bulk calls: entries into POST /batch/{id}/files, completions into
 * /batch/{id}/complete, part specs into one presign call per file. A call leaves when it is full
 * (`maxItems`), when nothing has joined it for `quietMs`, or `maxWaitMs` after its first item; with
 * `maxInFlight`, items wait while that many calls are on their way (then they leave together). Every
 * item gets its own answer, or the call's error. `close(reason)` refuses what waits (a run stopped).
 */

export interface BatcherOptions {
  maxItems: number;
  quietMs?: number;
  maxWaitMs?: number;
  maxInFlight?: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class Batcher<T, R> {
  private pending: Pending<T, R>[] = [];
  private quietTimer: ReturnType<typeof setTimeout> | undefined;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = 0;
  private closed: unknown;
  private isClosed = false;

  constructor(
    private readonly call: (items: T[]) => Promise<R[]>,
    private readonly opts: BatcherOptions,
  ) {}

  submit(item: T): Promise<R> {
    if (this.isClosed) return Promise.reject(this.closed);
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.opts.maxItems) this.flush();
      else this.arm();
    });
  }

  /** Sends what waits now (a caller knows nothing else will join soon). */
  flush(): void {
    this.clearTimers();
    while (this.pending.length && this.inFlight < (this.opts.maxInFlight ?? Number.POSITIVE_INFINITY)) {
      const batch = this.pending.splice(0, this.opts.maxItems);
      this.inFlight++;
      void this.send(batch);
    }
  }

  close(reason: unknown): void {
    this.isClosed = true;
    this.closed = reason;
    this.clearTimers();
    for (const p of this.pending.splice(0)) p.reject(reason);
  }

  private arm(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.flush(), this.opts.quietMs ?? 0);
    if (!this.waitTimer && this.opts.maxWaitMs !== undefined)
      this.waitTimer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
  }

  private clearTimers(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.quietTimer = undefined;
    this.waitTimer = undefined;
  }

  private async send(batch: Pending<T, R>[]): Promise<void> {
    try {
      const answers = await this.call(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        p.resolve(answers[i] as R);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight--;
      if (this.pending.length && !this.isClosed) this.flush();
    }
  }
}
