/**
 * The link model: one controller per command that chooses how many requests (part PUTs or ranged GETs)
 * are in flight and how big the next part is, from what the requests themselves show. It maximises
 * delivered bytes per second, not attempts. Pure: no I/O, no timers; time comes from the injected clock
 * and every decision is taken inside a call (started, progress, succeeded, failed, outage, back).
 *
 * What it measures
 * - Goodput: bytes delivered per second over epochs of `epochMs` (1 s), from progress() as bytes flow,
 *   scaled by (1 − loss rate) so bytes of requests that fail do not count. Smoothed for reporting.
 * - Loss: failed requests ÷ requests over the last 30 s, and of which kind:
 *   · reset, timeout, stall, damaged (bytes lost or mangled on the way): link loss. A failure on its own,
 *     or a few while most requests go on, is random loss (independent per request).
 *   · many failures within ~1 s (a burst) that take at least half of what was in flight, and at least 2:
 *     a whole-link drop (everything in flight lost at once). Drops per minute over the last 2 minutes.
 *   · throttled (429, 503, SlowDown) and server (other 5xx): the server is in trouble, not the link.
 * - Outage: the link watch says the link is dark (outage()) and back (back()).
 *
 * What it decides, and why
 * - Concurrency is a hill-climb on goodput. Each epoch in which the limit was used (requests in flight
 *   reached it) is compared with the epoch before the last change: a widening that raised goodput by
 *   ≥ 5 % is kept and the limit grows again (×1.5, so 4 → 64 in seven epochs); one that did not is a
 *   plateau (hold there); one that made goodput ≥ 10 % worse steps back to the previous limit. A widening
 *   is judged only in an epoch that ran with at least half its new requests in flight on average (new
 *   requests need a connection and a round trip first, and a limit no part fills says nothing); one left
 *   unused for 5 epochs is given up ("unused: hold"). Holding,
 *   it probes one step up every 10 epochs (links change) and steps back unless that paid. Epochs with a
 *   drop, throttling, an outage, or a collapse of goodput (< 25 % of the one before: a stall, not a
 *   gradient) are not judged, nor the one after (it recovers): the epoch after that is the new baseline.
 * - Random loss does not reduce concurrency: a failed stream sits out its reconnect and backoff while
 *   the others keep the link full, so more parallel streams are what keep goodput up. The hill-climb goes
 *   on widening while goodput rises ("loss: widen"); parts shrink (a lost part costs less to send again).
 * - A drop loses everything in flight whatever the concurrency, so halving would not lose less; the
 *   limit is held ("drop: hold") and the part size shrinks (fewer bytes at risk per request) and does
 *   not grow again while drops keep coming. What does matter is how long a part is in flight: partSize ×
 *   limit ÷ goodput. The hill-climb then judges goodput × exp(−that ÷ the mean time between drops), the
 *   share of parts that get through; a drop that finds parts in flight for more than half that time
 *   cuts the limit toward what fits, at most by half per drop ("drop: fewer bytes at risk": on a slow
 *   link each part then moves faster, where the link, not the stream, is the limit; where the stream
 *   is, the hill-climb widens again as goodput rises), and while holding it probes one step down
 *   instead of up when a part's time in flight is over a fifth of the time between drops.
 * - Throttling or server errors halve the limit, once per burst (failures within 1 s of the last
 *   decrease are the same burst), then hold 5 epochs before probing again: backoff protects the server.
 * - outage(): nothing widens or narrows while the link is dark (failures then say nothing of the link);
 *   back(): the limit from before the outage, at once (no slow start), and a fresh baseline.
 * - Part size (when adaptive): doubles after two fast clean parts in a row (under half of
 *   `targetSeconds`, no loss in the window, no drops), halves (MiB-aligned, at least `min`) after a part
 *   much slower than the target or once per loss burst. concurrency × partSize stays within 3/4 of the
 *   memory budget (the rest reads and hashes parts ahead): concurrency first, the part size takes what is
 *   left. The planner clamps the suggestion to S3's rules (5 MiB floor, 10,000 parts).
 *
 * Every request that started() ends in exactly one of succeeded(), failed(kind) or abandoned() (aborted,
 * refused, URL expired: no word on the link). Decisions (a change of concurrency, part size or reason)
 * go to onDecision; `decision` is the latest, with the figures as they are now. `lossKind(code)` maps
 * classify.ts's codes to loss kinds.
 */

export type LossKind = "reset" | "timeout" | "stall" | "damaged" | "throttled" | "server" | "outage";

export interface LinkDecision {
  /** ms, from the injected clock */
  at: number;
  /** requests in flight allowed now */
  concurrency: number;
  /** bytes the next part should have (a suggestion the planner clamps to S3 rules) */
  partSize: number;
  /** short: "probe up", "loss: widen", "drop: hold", "throttled: halve", "outage", "back", … */
  reason: string;
  /** delivered bytes/s, smoothed */
  goodputBps: number;
  /** failed requests / requests, recent window */
  lossRate: number;
  /** whole-link drops (everything in flight lost at once), recent window */
  dropsPerMinute: number;
}

export interface LinkControllerOptions {
  /** ceiling (well above 8 where it pays; e.g. the --concurrency flag) */
  max: number;
  /** default 1 */
  min?: number;
  /** default min(8, max) */
  initial?: number;
  partSize?: { initial: number; min: number; max: number; adaptive: boolean };
  /** bytes budget: concurrency × partSize never plans past it */
  memory?: number;
  /** injected clock (ms) */
  now?: () => number;
  onDecision?: (d: LinkDecision) => void;
  /** Length of a measuring epoch (default 1000 ms). */
  epochMs?: number;
  /** A part should take about this long (default 4 s): faster parts grow, much slower ones shrink. */
  targetSeconds?: number;
}

const MiB = 1024 * 1024;
const GAIN = 0.05;
const WORSE = 0.1;
const COLLAPSE = 0.25;
const GROWTH = 1.5;
const BURST_MS = 1_000;
const LOSS_WINDOW_MS = 30_000;
const DROP_WINDOW_MS = 120_000;
const REPROBE_EPOCHS = 10;
/** A widening whose new requests have not run after this many epochs is given up. */
const UNUSED_EPOCHS = 5;
const THROTTLE_HOLD_EPOCHS = 5;
const DROP_SHARE = 0.5;
const MEMORY_SHARE = 0.75;
/** A drop cuts the limit when a part's time in flight exceeds this share of the time between drops. */
const DROP_RISK = 0.5;
/** Holding under drops, the periodic probe goes down when the share is above this. */
const PROBE_DOWN_RISK = 0.2;

/** The loss kind of a failed request's error code (classify.ts's codes); undefined: not the link's doing. */
export function lossKind(code: string | undefined): LossKind | undefined {
  if (code === undefined) return undefined;
  if (code === "STALL") return "stall";
  if (code === "TIMEOUT" || code === "RequestTimeout" || code === "HTTP_408") return "timeout";
  if (code === "BadDigest" || code === "XAmzContentSHA256Mismatch" || code === "InvalidDigest")
    return "damaged";
  if (code === "SlowDown" || code === "HTTP_429" || code === "HTTP_503" || code === "ServiceUnavailable")
    return "throttled";
  if (code === "TooManyRequests" || code === "RATE_LIMITED") return "throttled";
  if (code === "InternalError" || /^HTTP_5\d\d$/.test(code)) return "server";
  if (/^(ECONNRESET|EPIPE|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|NETWORK)$/.test(code))
    return "reset";
  if (/^(UND_ERR|ERR_STREAM|ENOTFOUND|EAI_AGAIN)/.test(code)) return "reset";
  return undefined;
}

interface Burst {
  last: number;
  count: number;
  /** Most requests in flight during the burst (counting those that failed). */
  peak: number;
  drop: boolean;
}

export class LinkController {
  private value: number;
  private readonly max: number;
  private readonly min: number;
  private readonly now: () => number;
  private readonly epochMs: number;
  private readonly target: number;
  private readonly sizing: { min: number; max: number; adaptive: boolean };
  private size: number;
  private fastStreak = 0;
  private reason = "start";
  private last: LinkDecision;

  private inFlight = 0;
  private epochStart: number;
  private epochBytes = 0;
  private epochPeak = 0;
  /** Requests in flight × ms over the epoch so far, and when it was last added to. */
  private epochArea = 0;
  private areaAt = 0;
  /** Epochs a widening has waited for its new requests to run. */
  private unusedEpochs = 0;
  private epochDisturbed = false;
  private smoothed = 0;
  /** Throughput (before the drop discount), smoothed. */
  private smoothedRaw = 0;
  private readonly born: number;

  /** The hill-climb: goodput measured at `baseLimit` (undefined: the next epoch is the baseline). */
  private baseGoodput: number | undefined;
  private baseLimit: number;
  private holding = false;
  private holdEpochs = 0;
  /** Epochs still to skip after a disturbance. */
  private settle = 0;
  private lastEpochGoodput: number | undefined;

  private outcomes: { at: number; ok: boolean; drop?: boolean }[] = [];
  private drops: number[] = [];
  private burst: Burst | undefined;
  private lastDecrease = Number.NEGATIVE_INFINITY;
  private lastShrinkBurst = Number.NEGATIVE_INFINITY;
  private dark = false;
  private announced = false;
  private beforeOutage = 0;

  constructor(private readonly opts: LinkControllerOptions) {
    this.max = Math.max(1, Math.floor(opts.max));
    this.min = Math.min(this.max, Math.max(1, Math.floor(opts.min ?? 1)));
    this.now = opts.now ?? (() => performance.now());
    this.epochMs = opts.epochMs ?? 1_000;
    this.target = opts.targetSeconds ?? 4;
    const ps = opts.partSize ?? { initial: 8 * MiB, min: 5 * MiB, max: 64 * MiB, adaptive: false };
    this.sizing = { min: ps.min, max: Math.max(ps.min, ps.max), adaptive: ps.adaptive };
    this.size = ps.adaptive ? clamp(ps.initial, this.sizing.min, this.sizing.max) : ps.initial;
    this.value = this.clampLimit(opts.initial ?? Math.min(8, this.max));
    this.baseLimit = this.value;
    this.epochStart = this.now();
    this.areaAt = this.epochStart;
    this.born = this.epochStart;
    this.fitMemory();
    this.last = this.snapshot();
  }

  /** concurrency now */
  get limit(): number {
    return this.value;
  }

  /** suggested size of the next part */
  get partSize(): number {
    return this.size;
  }

  /** The latest decision's limit, part size and reason, with the figures as they are now. */
  get decision(): LinkDecision {
    return this.snapshot();
  }

  /** The most concurrency may reach (the ceiling, lowered by the memory budget). */
  get ceiling(): number {
    const m = this.opts.memory;
    if (m === undefined || !this.sizing.adaptive) return this.max;
    return Math.max(this.min, Math.min(this.max, Math.floor((m * MEMORY_SHARE) / this.sizing.min)));
  }

  /** a request (part PUT or ranged GET) began */
  started(): void {
    this.tick();
    if (!this.announced) {
      // The first request: the starting point is a decision too (unless one was told already).
      this.announced = true;
      this.opts.onDecision?.(this.snapshot());
    }
    this.account();
    this.inFlight++;
    this.epochPeak = Math.max(this.epochPeak, this.inFlight);
  }

  /** bytes delivered (for goodput sampling, called as bytes flow) */
  progress(bytes: number): void {
    this.epochBytes += Math.max(0, bytes);
    this.tick();
  }

  succeeded(bytes: number, seconds: number): void {
    this.tick();
    this.account();
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.dark) return;
    this.outcomes.push({ at: this.now(), ok: true });
    this.sizeOnSuccess(bytes, seconds);
  }

  failed(kind: LossKind): void {
    this.tick();
    const before = this.inFlight;
    this.account();
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.dark || kind === "outage") return;
    const t = this.now();
    this.outcomes.push({ at: t, ok: false });
    if (kind === "throttled" || kind === "server") {
      this.epochDisturbed = true;
      if (t - this.lastDecrease < BURST_MS) return;
      this.lastDecrease = t;
      this.value = this.clampLimit(Math.floor(this.value / 2));
      this.rebase(true);
      this.holdEpochs = -THROTTLE_HOLD_EPOCHS;
      this.decide(kind === "throttled" ? "throttled: halve" : "server: halve");
      return;
    }
    const b = this.burst;
    if (b && t - b.last <= BURST_MS) {
      b.count++;
      b.last = t;
      b.peak = Math.max(b.peak, before);
    } else this.burst = { last: t, count: 1, peak: before, drop: false };
    const burst = this.burst as Burst;
    // One shrink per burst across streams; a request failing alone (nothing else in flight) is its own.
    if (burst.count === 1 || burst.peak <= 1) this.shrinkOncePerBurst(t, burst.peak <= 1);
    if (!burst.drop && burst.count >= 2 && burst.count >= Math.ceil(DROP_SHARE * burst.peak)) {
      burst.drop = true;
      this.drops.push(t);
      // The burst's failures were a drop, not random loss.
      let n = burst.count;
      for (let i = this.outcomes.length - 1; i >= 0 && n > 0; i--) {
        const o = this.outcomes[i] as { ok: boolean; drop?: boolean };
        if (!o.ok && !o.drop) {
          o.drop = true;
          n--;
        }
      }
      this.epochDisturbed = true;
      this.rebase(this.holding);
      // Parts that take longer than half the time between drops rarely get through: fewer at once (each
      // then moves faster where the link, not the stream, is the limit); the hill-climb takes it on.
      const share = this.riskShare(this.smoothedRaw);
      if (share !== undefined && share > DROP_RISK && this.smoothedRaw > 0) {
        const interval = this.dropInterval() as number;
        const fit = Math.floor((this.smoothedRaw * interval * DROP_RISK) / 1000 / this.size);
        // At most a halving per drop: where the stream, not the link, is the limit, fewer streams only
        // send slower, and the hill-climb must still see that.
        this.value = this.clampLimit(Math.max(Math.floor(this.value / 2), Math.min(this.value, fit)));
        this.decide("drop: fewer bytes at risk");
      } else this.decide("drop: hold");
    } else if (burst.drop) {
      this.epochDisturbed = true;
      (this.outcomes[this.outcomes.length - 1] as { drop?: boolean }).drop = true;
    }
  }

  /** A request ended with no word on the link (aborted, refused, its URL expired): it only leaves. */
  abandoned(): void {
    this.tick();
    this.account();
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** the link watch saw the link go dark */
  outage(): void {
    this.tick();
    if (this.dark) return;
    this.dark = true;
    this.beforeOutage = this.value;
    this.decide("outage");
  }

  /** the link watch saw it return */
  back(): void {
    if (!this.dark) return;
    this.dark = false;
    this.value = this.clampLimit(this.beforeOutage);
    this.burst = undefined;
    this.newEpoch();
    this.settle = 1;
    this.rebase(this.holding);
    this.decide("back");
  }

  // ---- figures

  private prune(t: number): void {
    while (this.outcomes.length && (this.outcomes[0] as { at: number }).at < t - LOSS_WINDOW_MS)
      this.outcomes.shift();
    while (this.drops.length && (this.drops[0] as number) < t - DROP_WINDOW_MS) this.drops.shift();
  }

  private get lossRate(): number {
    if (this.outcomes.length === 0) return 0;
    return this.outcomes.filter((o) => !o.ok).length / this.outcomes.length;
  }

  /** Random loss (failures outside drops) in the window. */
  private get randomLoss(): boolean {
    return this.outcomes.some((o) => !o.ok && !o.drop);
  }

  private get dropsPerMinute(): number {
    return (this.drops.length * 60_000) / DROP_WINDOW_MS;
  }

  private snapshot(): LinkDecision {
    const t = this.now();
    this.prune(t);
    return {
      at: t,
      concurrency: this.value,
      partSize: this.size,
      reason: this.reason,
      goodputBps: Math.round(this.smoothed),
      lossRate: Math.round(this.lossRate * 10_000) / 10_000,
      dropsPerMinute: Math.round(this.dropsPerMinute * 100) / 100,
    };
  }

  private decide(reason: string): void {
    this.reason = reason;
    this.fitMemory();
    const d = this.snapshot();
    const changed =
      d.concurrency !== this.last.concurrency ||
      d.partSize !== this.last.partSize ||
      d.reason !== this.last.reason;
    this.last = d;
    if (changed) {
      this.announced = true;
      this.opts.onDecision?.(d);
    }
  }

  // ---- concurrency: the hill-climb, one judgment per epoch

  private clampLimit(v: number): number {
    return Math.min(this.ceiling, Math.max(this.min, Math.floor(v)));
  }

  private rebase(holding: boolean): void {
    this.baseGoodput = undefined;
    this.baseLimit = this.value;
    this.holding = holding;
    this.lastEpochGoodput = undefined;
    this.unusedEpochs = 0;
  }

  private newEpoch(): void {
    this.epochStart = this.now();
    this.epochBytes = 0;
    this.epochPeak = this.inFlight;
    this.epochArea = 0;
    this.areaAt = this.epochStart;
    this.epochDisturbed = false;
  }

  /** Adds the requests in flight since the last change to the epoch's area. */
  private account(): void {
    const t = this.now();
    this.epochArea += this.inFlight * Math.max(0, t - this.areaAt);
    this.areaAt = t;
  }

  private tick(): void {
    const t = this.now();
    const elapsed = t - this.epochStart;
    if (elapsed < this.epochMs) return;
    this.prune(t);
    const raw = ((this.epochBytes * 1000) / elapsed) * (1 - this.lossRate);
    const g = this.atRisk(raw);
    const used = this.epochPeak >= this.value;
    this.account();
    // The mean number of requests in flight over the epoch.
    const mean = this.epochArea / elapsed;
    const disturbed = this.dark || this.epochDisturbed;
    const collapsed = this.lastEpochGoodput !== undefined && g < this.lastEpochGoodput * COLLAPSE;
    this.newEpoch();
    if (disturbed || collapsed || g <= 0) {
      // Not a gradient: neither judged nor a baseline, and neither is the epoch after it (it recovers).
      this.settle = 1;
      if (!this.dark) this.rebase(this.holding);
      return;
    }
    this.smoothed = this.smoothed === 0 ? g : 0.6 * this.smoothed + 0.4 * g;
    this.smoothedRaw = this.smoothedRaw === 0 ? raw : 0.6 * this.smoothedRaw + 0.4 * raw;
    this.lastEpochGoodput = g;
    if (this.settle > 0) {
      this.settle--;
      return;
    }
    this.judge(g, used, mean);
  }

  private judge(g: number, used: boolean, mean: number): void {
    const loss = this.randomLoss;
    const up = () => this.clampLimit(Math.max(this.value + 1, Math.ceil(this.value * GROWTH)));
    if (this.baseGoodput === undefined) {
      // A baseline at this limit; widen from it unless holding.
      this.baseGoodput = g;
      this.baseLimit = this.value;
      if (!this.holding && used && this.value < this.ceiling) {
        this.value = up();
        this.decide(loss ? "loss: widen" : "probe up");
      }
      return;
    }
    const base = this.baseGoodput;
    if (this.value > this.baseLimit) {
      // The last change widened: judge it once an epoch ran with, on average, at least half the new
      // requests in flight (a limit with no parts to fill it says nothing); a widening left unused for
      // long is not kept.
      if (!used || mean < this.baseLimit + (this.value - this.baseLimit) / 2) {
        if (++this.unusedEpochs < UNUSED_EPOCHS) return;
        this.value = this.baseLimit;
        this.holding = true;
        this.holdEpochs = 0;
        this.unusedEpochs = 0;
        this.decide("unused: hold");
        return;
      }
      this.unusedEpochs = 0;
      if (g >= base * (1 + GAIN)) {
        this.baseGoodput = g;
        this.baseLimit = this.value;
        if (!this.holding && used && this.value < this.ceiling) {
          this.value = up();
          this.decide(loss ? "loss: widen" : "probe up");
        } else {
          this.holding = true;
          this.holdEpochs = 0;
          this.decide(this.value >= this.ceiling ? "ceiling: hold" : "plateau: hold");
        }
      } else if (g < base * (1 - WORSE) || this.holding) {
        // Worse (or a re-probe that did not pay): back to the limit that was measured.
        this.value = this.baseLimit;
        this.holding = true;
        this.holdEpochs = 0;
        this.decide(g < base * (1 - WORSE) ? "worse: step back" : "plateau: hold");
      } else {
        this.baseGoodput = g;
        this.baseLimit = this.value;
        this.holding = true;
        this.holdEpochs = 0;
        this.decide("plateau: hold");
      }
      return;
    }
    if (this.value < this.baseLimit) {
      // A probe down (drops: fewer bytes at risk): kept only if it paid.
      if (g >= base * (1 + GAIN)) {
        this.baseGoodput = g;
        this.baseLimit = this.value;
        this.decide("drop: narrower pays");
      } else {
        this.value = this.baseLimit;
        this.decide("plateau: hold");
      }
      this.holdEpochs = 0;
      return;
    }
    // Holding at the measured limit: track its goodput, probe one step now and then: up, or down when
    // drops make a part's time in flight a large share of the time between drops.
    this.baseGoodput = 0.5 * base + 0.5 * g;
    this.holding = true;
    this.holdEpochs++;
    if (this.holdEpochs < REPROBE_EPOCHS || !used) return;
    this.holdEpochs = 0;
    this.baseLimit = this.value;
    const risk = this.riskShare(this.smoothedRaw);
    if (risk !== undefined && risk > PROBE_DOWN_RISK && this.value > this.min) {
      this.value = this.clampLimit(Math.floor(this.value / GROWTH));
      this.decide("drop: probe down");
    } else if (this.value < this.ceiling) {
      this.value = up();
      this.decide(loss ? "loss: widen" : "probe up");
    }
  }

  // ---- bytes at risk under drops

  /** Mean time between drops (ms), from the drops in the window; undefined without drops. */
  private dropInterval(): number | undefined {
    if (this.drops.length === 0) return undefined;
    const span = Math.min(DROP_WINDOW_MS, this.now() - this.born);
    return Math.max(BURST_MS, span / this.drops.length);
  }

  /** A part's time in flight ÷ the time between drops, at goodput `g` and the limit now. */
  private riskShare(g: number): number | undefined {
    const interval = this.dropInterval();
    if (interval === undefined || g <= 0) return undefined;
    const inFlightMs = ((this.size * this.value) / g) * 1000;
    return inFlightMs / interval;
  }

  /**
   * Goodput discounted by the chance that a part is still in flight when the next drop comes: a part
   * takes partSize × limit ÷ goodput to send, and survives a drop-free stretch with exp(−that ÷ interval).
   * Without drops: goodput as measured.
   */
  private atRisk(g: number): number {
    const share = this.riskShare(g);
    return share === undefined ? g : g * Math.exp(-share);
  }

  // ---- part size

  private sizeOnSuccess(bytes: number, seconds: number): void {
    if (!this.sizing.adaptive || bytes < this.size / 2) return;
    if (seconds < this.target / 2) {
      const clean = this.lossRate === 0 && this.drops.length === 0;
      this.fastStreak = clean ? this.fastStreak + 1 : 0;
      if (this.fastStreak >= 2) {
        this.fastStreak = 0;
        const grown = Math.min(this.sizing.max, this.size * 2, this.memoryPartCap());
        if (grown > this.size) {
          this.size = grown;
          this.decide("part size: grow");
        }
      }
    } else {
      this.fastStreak = 0;
      if (seconds > this.target * 2) this.shrink("part size: slow");
    }
  }

  private shrinkOncePerBurst(t: number, alone = false): void {
    if (!alone && t - this.lastShrinkBurst < BURST_MS) return;
    this.lastShrinkBurst = t;
    this.fastStreak = 0;
    this.shrink("loss: smaller parts");
  }

  private shrink(reason: string): void {
    if (!this.sizing.adaptive) return;
    const smaller = Math.max(this.sizing.min, Math.floor(this.size / 2 / MiB) * MiB);
    if (smaller < this.size) {
      this.size = smaller;
      this.decide(reason);
    }
  }

  private memoryPartCap(): number {
    const m = this.opts.memory;
    if (m === undefined) return Number.POSITIVE_INFINITY;
    return Math.max(this.sizing.min, Math.floor((m * MEMORY_SHARE) / this.value / MiB) * MiB);
  }

  /** concurrency × part size within the memory share: the part size gives way. */
  private fitMemory(): void {
    if (!this.sizing.adaptive) return;
    this.size = Math.max(this.sizing.min, Math.min(this.size, this.memoryPartCap()));
  }
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
