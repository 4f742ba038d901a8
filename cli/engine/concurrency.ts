/**
 * AIMD concurrency on per-part goodput: after each round of `limit` clean parts, add one connection if
 * goodput rose by at least 5 %; halve on an error, a stall or throttling (at most once a second, so the
 * parts that were already in flight when the link went bad do not collapse the window to one). Pure.
 */
export interface ConcurrencyOptions {
  max: number;
  initial?: number;
  now?: () => number;
}

export class ConcurrencyController {
  private value: number;
  private readonly max: number;
  private readonly now: () => number;
  private roundStart: number;
  private roundBytes = 0;
  private roundParts = 0;
  private lastGoodput: number | undefined;
  private lastDecrease = Number.NEGATIVE_INFINITY;

  constructor(opts: ConcurrencyOptions) {
    this.max = Math.max(1, opts.max);
    this.value = Math.min(this.max, Math.max(1, opts.initial ?? Math.min(4, this.max)));
    this.now = opts.now ?? (() => performance.now());
    this.roundStart = this.now();
  }

  get limit(): number {
    return this.value;
  }

  onSuccess(bytes: number): void {
    this.roundBytes += bytes;
    this.roundParts++;
    if (this.roundParts < this.value) return;
    const elapsed = Math.max(1, this.now() - this.roundStart);
    const goodput = this.roundBytes / elapsed;
    if (this.lastGoodput === undefined || goodput > this.lastGoodput * 1.05)
      this.value = Math.min(this.max, this.value + 1);
    this.lastGoodput = goodput;
    this.newRound();
  }

  onFailure(): void {
    const t = this.now();
    // One decrease per burst: failures within a second of the last decrease come from the same bad moment
    // (parts that were already in flight when the link went bad), whatever succeeded in between.
    if (t - this.lastDecrease < 1000) return;
    this.value = Math.max(1, Math.floor(this.value / 2));
    this.lastDecrease = t;
    this.lastGoodput = undefined;
    this.newRound();
  }

  private newRound() {
    this.roundStart = this.now();
    this.roundBytes = 0;
    this.roundParts = 0;
  }
}
