/**
 * Upload speed, smoothed over a sliding window: samples of a running byte total (what the link carried),
 * the speed being what the total grew by over the last WINDOW_MS (or since the first sample, if younger).
 * Idle for a whole window: 0. Time comes from the injected clock, so tests need no real waiting. Pure.
 */

/** The window the speed is measured over (the view's speed and ETA). */
export const WINDOW_MS = 3_000;

export class SpeedMeter {
  private readonly samples: { at: number; total: number }[] = [];
  private total = 0;

  constructor(private readonly now: () => number) {}

  /** Bytes went out (a PUT's progress). */
  add(bytes: number): void {
    if (bytes <= 0) return;
    this.total += bytes;
    this.sample();
  }

  /** Marks the start of a run (the speed is measured from here, not from an idle pause). */
  mark(): void {
    this.sample();
  }

  private sample(): void {
    const at = this.now();
    const last = this.samples[this.samples.length - 1];
    if (last && last.at === at) last.total = this.total;
    else this.samples.push({ at, total: this.total });
    // Keep one sample older than the window (the baseline) and everything inside it.
    while (this.samples.length > 2 && (this.samples[1] as { at: number }).at <= at - WINDOW_MS)
      this.samples.shift();
  }

  /** Bytes per second over the last window; 0 when nothing moved in it. */
  bps(): number {
    const now = this.now();
    // The baseline: the newest sample at or before the window's start, else the oldest there is.
    let base = this.samples[0];
    for (const s of this.samples) {
      if (s.at <= now - WINDOW_MS) base = s;
      else break;
    }
    if (!base || now <= base.at) return 0;
    const grown = this.total - base.total;
    return grown > 0 ? (grown * 1000) / (now - base.at) : 0;
  }
}
