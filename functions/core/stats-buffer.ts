/**
 * Coalesces the advisory counters (the STATS totals and the per-minute SERIES points) in process, so that
 * no item is written by every transfer on every part: deltas are added up here and written at most once
 * per `flushMs` (0 = written through at once), as one update of a stats shard and one per minute touched.
 * Counters are advisory: a failed write is warned about and its delta kept for the next flush.
 * On Lambda a frozen container cannot run its timer: what it holds is written by its next request after
 * the interval, or lost with the container (at most one interval of counters, never a transfer's state).
 * Lifecycle: one per TransferService; flush() before shutdown (the local stack does) and before reads.
 */
import type { SeriesDelta } from "./activity.js";
import type { Clock, StatsDelta } from "./ports.js";

export interface StatsSink {
  /** Adds a delta to the totals (the repo spreads these over shards). */
  addStats(delta: StatsDelta): Promise<void>;
  /** Adds to one minute's series point; absent, series deltas are dropped. */
  addToMinute?(minute: string, delta: SeriesDelta): Promise<void>;
}

export interface StatsBufferOptions {
  sink: StatsSink;
  /** Longest a delta waits before it is written; 0 writes every delta through at once. */
  flushMs: number;
  clock?: Clock;
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Runs fn after ms (for the trailing flush); returns a canceller. Default: an unref'd setTimeout. */
  schedule?: (fn: () => void, ms: number) => () => void;
}

const defaultSchedule = (fn: () => void, ms: number) => {
  const timer = setTimeout(fn, ms);
  timer.unref?.();
  return () => clearTimeout(timer);
};

type NumberMap = Record<string, number>;

function addInto(into: NumberMap, from: Partial<Record<string, number>> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) if (v) into[k] = (into[k] ?? 0) + v;
}

/** Adds `b` into `a` (both StatsDelta), dropping zeros. */
export function mergeStats(a: StatsDelta, b: StatsDelta): StatsDelta {
  const status: NumberMap = { ...(a.status as NumberMap | undefined) };
  const priority: NumberMap = { ...(a.priority as NumberMap | undefined) };
  addInto(status, b.status);
  addInto(priority, b.priority);
  const out: StatsDelta = {};
  const nonZero = (m: NumberMap) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== 0));
  if (Object.keys(nonZero(status)).length) out.status = nonZero(status);
  if (Object.keys(nonZero(priority)).length) out.priority = nonZero(priority);
  for (const k of [
    "bytesStored",
    "bytesReceived",
    "bytesDeduplicated",
    "dedupeHits",
    "uploadedBytes",
    "uploadMillis",
  ] as const) {
    const v = (a[k] ?? 0) + (b[k] ?? 0);
    if (v !== 0) out[k] = v;
  }
  return out;
}

export const isEmptyStats = (d: StatsDelta): boolean => Object.keys(mergeStats({}, d)).length === 0;

function mergeSeries(a: SeriesDelta, b: SeriesDelta): SeriesDelta {
  const out: NumberMap = { ...(a as NumberMap) };
  addInto(out, b as NumberMap);
  return out as SeriesDelta;
}

export class StatsBuffer {
  private readonly sink: StatsSink;
  private readonly flushMs: number;
  private readonly clock: Clock;
  private readonly warn: NonNullable<StatsBufferOptions["warn"]>;
  private readonly schedule: NonNullable<StatsBufferOptions["schedule"]>;
  private totals: StatsDelta = {};
  private readonly minutes = new Map<string, SeriesDelta>();
  private lastFlush: number;
  private cancelTimer: (() => void) | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(opts: StatsBufferOptions) {
    this.sink = opts.sink;
    this.flushMs = Math.max(0, opts.flushMs);
    this.clock = opts.clock ?? { now: () => new Date() };
    this.warn = opts.warn ?? (() => {});
    this.schedule = opts.schedule ?? defaultSchedule;
    this.lastFlush = this.clock.now().getTime();
  }

  /** Whether anything waits to be written. */
  get pending(): boolean {
    return !isEmptyStats(this.totals) || this.minutes.size > 0;
  }

  /**
   * Adds counters (and, for `minute`, series counters). Resolves once they are written if this call
   * flushed (write-through, or the interval had passed); else at once, a trailing flush being scheduled.
   */
  add(delta: StatsDelta, series?: { minute: string; delta: SeriesDelta }): Promise<void> {
    this.totals = mergeStats(this.totals, delta);
    if (series && Object.values(series.delta).some((v) => v)) {
      const was = this.minutes.get(series.minute) ?? {};
      this.minutes.set(series.minute, mergeSeries(was, series.delta));
    }
    if (!this.pending) return Promise.resolve();
    if (this.flushMs === 0 || this.clock.now().getTime() - this.lastFlush >= this.flushMs)
      return this.flush();
    this.cancelTimer ??= this.schedule(() => {
      this.cancelTimer = undefined;
      void this.flush();
    }, this.flushMs);
    return Promise.resolve();
  }

  /** Writes what is buffered: one stats update and one per minute touched. Never throws. */
  flush(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.lastFlush = this.clock.now().getTime();
    const totals = this.totals;
    const minutes = [...this.minutes];
    this.totals = {};
    this.minutes.clear();
    const run = async () => {
      const writes: Promise<void>[] = [];
      if (!isEmptyStats(totals))
        writes.push(
          this.sink.addStats(totals).catch((err: unknown) => {
            this.totals = mergeStats(this.totals, totals);
            this.warn("stats update failed", { error: err instanceof Error ? err.message : String(err) });
          }),
        );
      const addToMinute = this.sink.addToMinute?.bind(this.sink);
      if (addToMinute)
        for (const [minute, delta] of minutes)
          writes.push(
            addToMinute(minute, delta).catch((err: unknown) => {
              this.minutes.set(minute, mergeSeries(this.minutes.get(minute) ?? {}, delta));
              this.warn("activity update failed", {
                error: err instanceof Error ? err.message : String(err),
              });
            }),
          );
      await Promise.all(writes);
    };
    // Flushes run one after the other, so a reader that awaits flush() sees every earlier one written.
    this.flushing = this.flushing.then(run);
    return this.flushing;
  }
}
