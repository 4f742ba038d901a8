/**
 * The one Scheduler (the CLI's, cli/engine/send/scheduler.ts) every batch of the page shares, set for a
 * browser: part connections ≤ 6 (what a browser opens per origin over HTTP/1.1), two files hashed at
 * once, a 96 MiB budget of part buffers, adaptive part sizes up to 16 MiB. The engine's options may
 * narrow them (the tests do).
 */
import { Scheduler } from "../../../cli/engine/send/scheduler.js";
import { MIN_PART_SIZE, MiB } from "../../../functions/contract/limits.js";

/** Browsers open 6 connections per origin over HTTP/1.1. */
export const DEFAULT_CONCURRENCY = 6;
export const DEFAULT_MEMORY = 96 * MiB;
export const DEFAULT_MAX_PART_SIZE = 16 * MiB;
/** Files hashed at once (a small file read whole, or a large one's streaming pass in the worker). */
const HASHERS = 2;

export interface PageSchedulerOptions {
  concurrency: number;
  maxPartSize: number;
  memory: number;
  now: () => number;
  /** The link model decided (concurrency, part size): the view shows it. */
  onDecision: () => void;
}

export function pageScheduler(o: PageSchedulerOptions): Scheduler {
  return new Scheduler({
    concurrency: o.concurrency,
    transfers: o.concurrency,
    hashers: HASHERS,
    memory: o.memory,
    initialConcurrency: o.concurrency,
    partSize: {
      initial: Math.min(8 * MiB, o.maxPartSize),
      min: Math.min(MIN_PART_SIZE, o.maxPartSize),
      max: o.maxPartSize,
      adaptive: true,
    },
    now: o.now,
    onDecision: o.onDecision,
  });
}
