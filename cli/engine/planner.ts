/**
 * Adaptive part sizing within S3's rules. Parts grow while they finish fast and cleanly and shrink toward
 * the 5 MiB floor when they fail, stall or crawl, so a part's worth of work lost to a bad link stays small
 * while a good link is not throttled by per-part round trips. With `suggest` (the link model's part size,
 * link-model.ts) the size comes from there and this planner's own feedback is not used; either way the
 * planner keeps S3's rules: 5 MiB–5 GiB, the floor that fits 10,000 parts, no runt last part. With `spread`
 * (the most requests the link model may run at once), an adaptive part is at most the file's size ÷ that
 * (MiB-aligned, at least 5 MiB): a file is never cut into fewer parts than the link could carry at once,
 * since on a link where each connection is capped only more parts in flight go faster.
 *
 * The uniform rule (`uniform`: stores where every part but the last must have one size, storage rules'
 * uniformParts): the part size is fixed for the upload (the init answer's partSize), part n covers
 * [(n-1)×size, n×size) (the last may be shorter), and nothing changes it: `suggest`, `spread`, successes
 * and failures are ignored (the link model then adapts only how many parts are in flight), and missing
 * ranges are refilled with the positional parts that cover them (`fill`). The size a sender asks for is
 * `partSizeFor` (functions/contract/part-rules.ts), the function the coordinator records it with.
 * Holes are split within the store's floor (`limits.minPartSize`). `PartQueue` is what an upload sends
 * next over the coordinator's missing ranges, for the CLI's part runner and the dashboard's uploader
 * alike. Pure: no I/O.
 */

import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, MiB } from "../../functions/contract/limits.js";
import { type PartLimits, S3_PART_LIMITS, uniformPart } from "../../functions/contract/part-rules.js";
import type { MissingRange } from "../../functions/contract/schemas.js";

export interface PlannedPart {
  partNumber: number;
  offset: number;
  size: number;
}

export interface PlannerOptions {
  fileSize: number;
  /** Where to start (from --chunk-size or the server's recommendation). */
  initial: number;
  adaptive: boolean;
  /** Largest size growth may reach (default 64 MiB); the 10,000-part floor may still require more. */
  ceiling?: number;
  /** A part should take about this long; faster parts grow, much slower ones shrink. */
  targetSeconds?: number;
  /** Adaptive: the size the link model suggests now (clamped to 5 MiB..ceiling and to S3's rules). */
  suggest?: () => number;
  /** Adaptive: the most parts that may be in flight at once; a part is at most fileSize ÷ spread. */
  spread?: number;
  /** The uniform rule: every part but the last has this size, part n starts at (n-1) × it. */
  uniform?: number | undefined;
}

/**
 * The positional parts that cover a missing range under the uniform rule (every part whose bytes meet
 * it; a range that does not start on a part boundary is covered by the whole part it starts in).
 */
export function uniformGap(
  gap: { offset: number; size: number },
  fileSize: number,
  size: number,
  maxParts = MAX_PARTS,
): PlannedPart[] {
  if (gap.size <= 0) return [];
  const first = Math.floor(gap.offset / size) + 1;
  const last = Math.ceil(Math.min(gap.offset + gap.size, fileSize) / size);
  if (last > maxParts) throw new Error(`part ${last} of ${size} bytes is past the store's ${maxParts} parts`);
  const parts: PlannedPart[] = [];
  for (let n = first; n <= last; n++) parts.push(uniformPart(n, size, fileSize));
  return parts;
}

export const DEFAULT_CEILING = 64 * MiB;
export const DEFAULT_TARGET_SECONDS = 4;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** The smallest part that lets `remaining` bytes fit in the part numbers from `n` to maxParts. */
export function floorFor(remaining: number, n: number, limits: PartLimits = S3_PART_LIMITS): number {
  const numbersLeft = limits.maxParts - n + 1;
  if (numbersLeft <= 0) return Number.POSITIVE_INFINITY;
  return Math.max(limits.minPartSize, Math.ceil(remaining / numbersLeft));
}

export class PartPlanner {
  private size: number;
  private fastStreak = 0;
  readonly ceiling: number;
  /** The largest part `spread` allows (no cap without it). */
  private readonly spreadCap: number;
  private readonly target: number;
  private readonly lim: PartLimits;

  constructor(private readonly opts: PlannerOptions & { limits?: PartLimits | undefined }) {
    this.lim = opts.limits ?? S3_PART_LIMITS;
    const { minPartSize: min, maxPartSize: max } = this.lim;
    this.ceiling = Math.max(min, Math.min(max, opts.ceiling ?? DEFAULT_CEILING));
    this.target = opts.targetSeconds ?? DEFAULT_TARGET_SECONDS;
    this.size = clamp(opts.initial, min, opts.adaptive ? this.ceiling : max);
    const spread = opts.spread ?? 0;
    this.spreadCap =
      opts.adaptive && spread > 1
        ? Math.max(min, Math.floor(opts.fileSize / spread / MiB) * MiB)
        : Number.POSITIVE_INFINITY;
    if (opts.uniform !== undefined && !(opts.uniform > 0 && Number.isInteger(opts.uniform)))
      throw new Error(`a uniform part size must be a positive integer, not ${opts.uniform}`);
  }

  /** The fixed part size of the upload under the uniform rule, else undefined. */
  get uniform(): number | undefined {
    return this.opts.uniform;
  }

  /** The size the next part would get, before the floor and the end of the file. */
  get current(): number {
    if (this.opts.uniform !== undefined) return this.opts.uniform;
    const { minPartSize: min } = this.lim;
    if (this.opts.adaptive && this.opts.suggest)
      return clamp(Math.floor(this.opts.suggest()), min, Math.min(this.ceiling, this.spreadCap));
    return Math.min(this.size, this.spreadCap);
  }

  /** The next part of a range that runs to the end of the file, starting at `offset` with number `n`. */
  next(offset: number, n: number): PlannedPart {
    const remaining = this.opts.fileSize - offset;
    if (remaining <= 0) throw new Error(`no bytes left at offset ${offset}`);
    if (n > this.lim.maxParts) throw new Error(`part number ${n} is past ${this.lim.maxParts}`);
    const u = this.opts.uniform;
    if (u !== undefined) {
      if (offset !== (n - 1) * u) throw new Error(`part ${n} of ${u} bytes cannot start at byte ${offset}`);
      return uniformPart(n, u, this.opts.fileSize);
    }
    const { minPartSize: min, maxPartSize: max } = this.lim;
    const floor = floorFor(remaining, n, this.lim);
    let size = clamp(this.current, floor, max);
    // A remainder under the minimum could only be a last part: fold it into this one while that stays legal.
    if (remaining - size > 0 && remaining - size < min && remaining <= max) size = remaining;
    return { partNumber: n, offset, size: Math.min(size, remaining) };
  }

  /** The parts that refill a missing range between recorded parts (not the one that ends the file). */
  fill(gap: MissingRange): PlannedPart[] {
    const u = this.opts.uniform;
    if (u !== undefined) return uniformGap(gap, this.opts.fileSize, u, this.lim.maxParts);
    return splitGap(gap, this.opts.fileSize, this.current, this.lim.minPartSize);
  }

  /** A part went through: grow after two fast ones in a row, shrink after a slow one. */
  onSuccess(bytes: number, seconds: number): void {
    if (!this.opts.adaptive || this.opts.suggest || this.opts.uniform !== undefined) return;
    if (bytes < this.size / 2) return;
    if (seconds < this.target / 2) {
      this.fastStreak++;
      if (this.fastStreak >= 2) {
        this.size = Math.min(this.ceiling, this.size * 2);
        this.fastStreak = 0;
      }
    } else {
      this.fastStreak = 0;
      if (seconds > this.target * 2) this.shrink();
    }
  }

  /** A part failed or stalled: halve toward the floor (never under the uniform rule). */
  onFailure(): void {
    if (!this.opts.adaptive || this.opts.suggest || this.opts.uniform !== undefined) return;
    this.fastStreak = 0;
    this.shrink();
  }

  private shrink() {
    this.size = Math.max(this.lim.minPartSize, Math.floor(this.size / 2 / MiB) * MiB);
  }
}

/**
 * Splits a missing range between recorded parts (numbers firstPart..lastPart free) into parts near
 * `target` bytes, each `minPartSize` (the store's floor, S3's 5 MiB)–5 GiB unless it ends the file.
 * Unused numbers are allowed.
 */
export function splitGap(
  gap: { offset: number; size: number; firstPart: number; lastPart: number },
  fileSize: number,
  target: number,
  minPartSize = MIN_PART_SIZE,
): PlannedPart[] {
  const numbers = gap.lastPart - gap.firstPart + 1;
  const endsFile = gap.offset + gap.size === fileSize;
  if (numbers <= 0)
    throw new Error(`no part numbers are free for bytes ${gap.offset}–${gap.offset + gap.size - 1}`);
  let count = Math.max(1, Math.round(gap.size / Math.max(target, minPartSize)));
  count = Math.max(count, Math.ceil(gap.size / MAX_PART_SIZE));
  // Every part but the file's last must be at least the floor, so never more parts than floor-sized pieces.
  count = Math.min(count, Math.max(1, Math.floor(gap.size / minPartSize)), numbers);
  if (!endsFile && gap.size < minPartSize)
    throw new Error(`a ${gap.size}-byte hole between parts cannot be filled`);
  // Near-equal sizes (base or base + 1), so no part exceeds the others, nor 5 GiB when the average does not.
  const base = Math.floor(gap.size / count);
  const extra = gap.size - base * count;
  const parts: PlannedPart[] = [];
  let offset = gap.offset;
  for (let i = 0; i < count; i++) {
    const size = base + (i < extra ? 1 : 0);
    parts.push({ partNumber: gap.firstPart + i, offset, size });
    offset += size;
  }
  return parts;
}

/**
 * What one upload sends next, over the coordinator's missing ranges (the CLI's part runner and the
 * dashboard's part plan): a hole between recorded parts is filled at once (the planner's `fill`); the
 * range that ends the file is planned part by part as it goes, each part sized by the planner of that
 * moment (under the uniform rule from the whole part the range starts in, which may have to go again).
 * `lead`: parts planned already for a new upload's one range (the CLI's, hashed with the file), sent
 * first, the rest of the range after them.
 */
export class PartQueue {
  private queue: PlannedPart[] = [];
  private tail: { offset: number; next: number } | undefined;
  private fileSize = 0;

  get hasWork(): boolean {
    return this.queue.length > 0 || this.tail !== undefined;
  }

  clear(): void {
    this.queue = [];
    this.tail = undefined;
  }

  /** Plans anew the upload of a `fileSize`-byte file from its missing ranges. */
  plan(
    planner: PartPlanner,
    fileSize: number,
    gaps: readonly MissingRange[],
    lead: readonly PlannedPart[] = [],
  ): void {
    this.clear();
    this.fileSize = fileSize;
    for (const gap of gaps) {
      if (gap.size === 0) continue;
      // A range that ends the file has no recorded part after it: it is planned as it goes.
      const endsFile = gap.offset + gap.size === this.fileSize;
      const last = lead[lead.length - 1];
      if (endsFile && gap.offset === 0 && gap.firstPart === 1 && last) {
        this.queue.push(...lead.map(({ partNumber, offset, size }) => ({ partNumber, offset, size })));
        const end = last.offset + last.size;
        if (end < this.fileSize) this.tail = { offset: end, next: last.partNumber + 1 };
      } else if (endsFile && planner.uniform !== undefined) {
        const first = Math.floor(gap.offset / planner.uniform) + 1;
        this.tail = { offset: (first - 1) * planner.uniform, next: first };
      } else if (endsFile) this.tail = { offset: gap.offset, next: gap.firstPart };
      else this.queue.push(...planner.fill(gap));
    }
  }

  /** The next part to send, if any is left. */
  take(planner: PartPlanner): PlannedPart | undefined {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (!this.tail) return undefined;
    const part = planner.next(this.tail.offset, this.tail.next);
    const end = part.offset + part.size;
    this.tail = end >= this.fileSize ? undefined : { offset: end, next: part.partNumber + 1 };
    return part;
  }
}

/**
 * The missing ranges without the bytes of `part` (held by storage). Undefined when the part does not sit
 * inside one range, or when cutting it out would leave a hole no legal part can fill (under `minPartSize`, 5 MiB
 * on S3, and not at the end of the file): then it is simply sent again.
 */
export function carve(
  gaps: readonly MissingRange[],
  part: { partNumber: number; offset: number; size: number },
  fileSize: number,
  minPartSize = MIN_PART_SIZE,
): MissingRange[] | undefined {
  const i = gaps.findIndex(
    (g) =>
      part.offset >= g.offset &&
      part.offset + part.size <= g.offset + g.size &&
      part.partNumber >= g.firstPart &&
      part.partNumber <= g.lastPart,
  );
  if (i < 0) return undefined;
  const g = gaps[i] as MissingRange;
  const before: MissingRange = {
    offset: g.offset,
    size: part.offset - g.offset,
    firstPart: g.firstPart,
    lastPart: part.partNumber - 1,
  };
  const afterOffset = part.offset + part.size;
  const after: MissingRange = {
    offset: afterOffset,
    size: g.offset + g.size - afterOffset,
    firstPart: part.partNumber + 1,
    lastPart: g.lastPart,
  };
  const fillable = (r: MissingRange) =>
    r.size === 0 || (r.lastPart >= r.firstPart && (r.offset + r.size === fileSize || r.size >= minPartSize));
  if (!fillable(before) || !fillable(after)) return undefined;
  return [...gaps.slice(0, i), ...[before, after].filter((r) => r.size > 0), ...gaps.slice(i + 1)];
}
