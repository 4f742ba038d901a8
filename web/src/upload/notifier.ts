/**
 * The engine's word to its subscribers (the view): a snapshot at once for a phase change, at most every
 * `everyMs` for progress (notices in between join the one planned). A subscriber that throws is logged
 * and the others still hear: a view's failure is the view's, the uploads go on (notices are sent from
 * inside their flow). No snapshot is taken while nobody listens.
 */
export class Notifier<S> {
  private readonly listeners = new Set<(s: S) => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = 0;

  constructor(
    private readonly snapshot: () => S,
    private readonly everyMs: number,
  ) {}

  subscribe(listener: (s: S) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Something changed: subscribers hear of it at once (`immediate`) or within `everyMs`. */
  notify(immediate = false): void {
    if (immediate) {
      this.emit();
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.last + this.everyMs - Date.now());
    this.timer = setTimeout(() => this.emit(), wait);
  }

  private emit(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.last = Date.now();
    if (this.listeners.size === 0) return;
    const s = this.snapshot();
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (err) {
        console.error("upload engine: a subscriber failed", err);
      }
    }
  }
}
