/**
 * The send scheduler owns what files compete for: connection slots for multipart parts (as many as the
 * link model allows, at most --concurrency; `link` is the command's one LinkController), slots for
 * single-PUT files (at most --transfers: each small PUT costs a round trip, so many go at once), slots
 * for hashing reads, the init-ahead window (small files hashed and entered but not PUT yet), and the
 * memory budget for bytes held between read and PUT (--memory, whatever the concurrency; one request
 * larger than the budget alone is let through when nothing else is held).
 *
 * Waiters queue per resource and priority; when a resource frees, the class with the smallest
 * held/weight share goes next (weights high 4, normal 2, low 1), FIFO within a class, so high priority
 * gets a larger share, not only the first turn. Pure apart from timers: no I/O.
 */
import type { Priority } from "../../../functions/contract/schemas.js";
import { LinkController, type LinkControllerOptions } from "../link-model.js";
import { PRIORITY_WEIGHT } from "../priority.js";

export type Slot = "hash" | "part" | "put" | "ahead";
type Key = Slot | "memory";
const KEYS: readonly Key[] = ["ahead", "hash", "part", "put", "memory"];
const CLASSES: readonly Priority[] = ["high", "normal", "low"];

export interface SchedulerOptions {
  /** Parts of multipart files in flight, at most (the link model adapts below it). */
  concurrency: number;
  /** Single-PUT files in flight, at most. */
  transfers: number;
  /** Files hashed (read) at once. */
  hashers: number;
  /**
   * Single-PUT files between their hashing and the end of their PUT, at most (the init-ahead window):
   * their entries go out well before a PUT slot frees, so entry calls carry many files. Default: no cap.
   */
  ahead?: number;
  /** Bytes held in part and file buffers at once, at most. */
  memory: number;
  /** Start the link model here (default min(8, concurrency)). */
  initialConcurrency?: number;
  /** Part sizes the link model chooses between (default: 8 MiB fixed). */
  partSize?: LinkControllerOptions["partSize"];
  now?: () => number;
  /** Each decision of the link model (concurrency, part size, and why). */
  onDecision?: LinkControllerOptions["onDecision"];
}

export interface LeaseRequest {
  slot?: Slot;
  bytes?: number;
  priority: Priority;
  signal?: AbortSignal | undefined;
}

export interface Lease {
  readonly bytes: number;
  release(): void;
}

interface Waiter {
  req: LeaseRequest;
  bytes: number;
  resolve: (l: Lease) => void;
  reject: (err: unknown) => void;
  onAbort?: () => void;
}

export class Scheduler {
  /** The link model: the part slots' limit, and what part PUTs report to (started, progress, …). */
  readonly link: LinkController;
  private readonly queues = new Map<Key, Map<Priority, Waiter[]>>();
  private readonly held = new Map<Key, Map<Priority, number>>();
  private readonly inUse = { hash: 0, part: 0, put: 0, ahead: 0 };
  private memoryInUse = 0;
  /** Highest values seen, for tests and diagnostics. */
  readonly peak = { hash: 0, part: 0, put: 0, ahead: 0, memory: 0 };

  constructor(private readonly opts: SchedulerOptions) {
    this.link = new LinkController({
      max: opts.concurrency,
      memory: opts.memory,
      ...(opts.initialConcurrency !== undefined && { initial: opts.initialConcurrency }),
      ...(opts.partSize && { partSize: opts.partSize }),
      ...(opts.now && { now: opts.now }),
      // A wider limit lets waiting parts start now.
      onDecision: (d) => {
        this.schedulePump();
        opts.onDecision?.(d);
      },
    });
    for (const k of KEYS) {
      this.queues.set(k, new Map(CLASSES.map((c) => [c, []])));
      this.held.set(k, new Map(CLASSES.map((c) => [c, 0])));
    }
  }

  get memoryBudget(): number {
    return this.opts.memory;
  }
  get memoryHeld(): number {
    return this.memoryInUse;
  }
  inFlight(slot: Slot): number {
    return this.inUse[slot];
  }
  /** Requests waiting for a slot (or, "memory", for bytes alone). */
  waiting(key: Slot | "memory"): number {
    let n = 0;
    for (const q of this.queues.get(key)?.values() ?? []) n += q.length;
    return n;
  }

  private readonly listeners: (() => void)[] = [];
  /** Called after grants and releases have been settled (the coalescers look at the pipeline then). */
  onChange(cb: () => void): void {
    this.listeners.push(cb);
  }
  limit(slot: Slot): number {
    if (slot === "ahead") return this.opts.ahead ?? Number.POSITIVE_INFINITY;
    return slot === "part" ? this.link.limit : slot === "put" ? this.opts.transfers : this.opts.hashers;
  }

  /** Waits for the slot and the bytes together; rejects with the signal's reason if it aborts first. */
  acquire(req: LeaseRequest): Promise<Lease> {
    if (req.signal?.aborted) return Promise.reject(req.signal.reason);
    const bytes = Math.max(0, req.bytes ?? 0);
    return new Promise<Lease>((resolve, reject) => {
      const w: Waiter = { req, bytes, resolve, reject };
      const key: Key = req.slot ?? "memory";
      const queue = this.queues.get(key)?.get(req.priority) as Waiter[];
      if (req.signal) {
        w.onAbort = () => {
          const i = queue.indexOf(w);
          if (i >= 0) {
            queue.splice(i, 1);
            reject(req.signal?.reason);
          }
        };
        req.signal.addEventListener("abort", w.onAbort, { once: true });
      }
      queue.push(w);
      this.schedulePump();
    });
  }

  private pumpQueued = false;
  /** Requests made in the same turn compete together: the grants wait for the end of the turn. */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Files sending parts now, by class: their classes keep a share of part slots even before they ask. */
  private readonly active = new Map<Priority, number>(CLASSES.map((c) => [c, 0]));

  /** A file starts (or stops) sending parts. */
  activate(c: Priority, on: boolean): void {
    this.active.set(c, Math.max(0, (this.active.get(c) ?? 0) + (on ? 1 : -1)));
    this.schedulePump();
  }

  /**
   * Part slots by share: with several classes sending, each class may hold floor(limit × its weight /
   * the active weights) slots (at least one); beyond that only slots no other active class is owed.
   * So a high-priority file that asked first does not take every slot from a low one that asks a moment later.
   */
  private partShareAllows(c: Priority): boolean {
    const held = this.held.get("part") as Map<Priority, number>;
    const waiting = this.queues.get("part") as Map<Priority, Waiter[]>;
    const classes = CLASSES.filter((k) => (this.active.get(k) ?? 0) > 0 || (waiting.get(k)?.length ?? 0) > 0);
    if (classes.length < 2) return true;
    const total = classes.reduce((n, k) => n + PRIORITY_WEIGHT[k], 0);
    const limit = this.limit("part");
    const cap = (k: Priority) => Math.max(1, Math.floor((limit * PRIORITY_WEIGHT[k]) / total));
    if ((held.get(c) ?? 0) < cap(c)) return true;
    const owed = classes
      .filter((k) => k !== c)
      .reduce((n, k) => n + Math.max(0, cap(k) - (held.get(k) ?? 0)), 0);
    return this.inUse.part + owed < limit;
  }

  private grantable(key: Key, w: Waiter): boolean {
    if (key !== "memory" && this.inUse[key] >= this.limit(key)) return false;
    if (key === "part" && !this.partShareAllows(w.req.priority)) return false;
    if (w.bytes === 0) return true;
    return this.memoryInUse === 0 || this.memoryInUse + w.bytes <= this.opts.memory;
  }

  private share(key: Key, c: Priority): number {
    return (this.held.get(key)?.get(c) ?? 0) / PRIORITY_WEIGHT[c];
  }

  private pump(): void {
    for (let progress = true; progress; ) {
      progress = false;
      for (const key of KEYS) {
        for (;;) {
          let best: Priority | undefined;
          for (const c of CLASSES) {
            const head = this.queues.get(key)?.get(c)?.[0];
            if (!head || !this.grantable(key, head)) continue;
            // Ties go to the heavier class (CLASSES is in weight order).
            if (best === undefined || this.share(key, c) < this.share(key, best)) best = c;
          }
          if (best === undefined) break;
          const w = this.queues.get(key)?.get(best)?.shift() as Waiter;
          this.grant(key, w);
          progress = true;
        }
      }
    }
    for (const cb of this.listeners) cb();
  }

  private grant(key: Key, w: Waiter): void {
    if (w.onAbort) w.req.signal?.removeEventListener("abort", w.onAbort);
    const c = w.req.priority;
    const amount = key === "memory" ? w.bytes : 1;
    const held = this.held.get(key) as Map<Priority, number>;
    held.set(c, (held.get(c) ?? 0) + amount);
    if (key !== "memory") {
      this.inUse[key]++;
      this.peak[key] = Math.max(this.peak[key], this.inUse[key]);
    }
    this.memoryInUse += w.bytes;
    this.peak.memory = Math.max(this.peak.memory, this.memoryInUse);
    let released = false;
    w.resolve({
      bytes: w.bytes,
      release: () => {
        if (released) return;
        released = true;
        held.set(c, (held.get(c) ?? 0) - amount);
        if (key !== "memory") this.inUse[key]--;
        this.memoryInUse -= w.bytes;
        this.schedulePump();
      },
    });
  }
}
