/**
 * The parts of one file still missing, fetched in file order through the receive's link slots (as many
 * GETs at once as the link model allows, shared with the other files of a batch). A part is fetched as
 * ranges of at most SUB_RANGE bytes, so a large part does not leave one slow GET at the end; each range
 * is retried on its own, going on from the bytes it has (range-get.ts). Once all of a part is written,
 * `check` (the hashing thread) says whether it matches its SHA-256: a damaged part is fetched again whole,
 * first in line. `onDone` hears of each part checked. A Ctrl-C (`stop`) lets the GETs in flight finish
 * and starts no more; `abort` ends them.
 */
import type { FileHandle } from "node:fs/promises";
import type { Bandwidth } from "../bandwidth.js";
import { isUrlExpired } from "../classify.js";
import { CliError, EXIT } from "../errors.js";
import type { NewEvent } from "../events.js";
import { type RetryPolicy, withRetries } from "../retry.js";
import type { Part } from "./file-hasher.js";
import type { LinkSlots } from "./link-slots.js";
import { getRange, type Range } from "./range-get.js";

/** The most bytes one GET asks for. */
export const SUB_RANGE = 8 * 1024 * 1024;

export interface FilePart extends Part {
  index: number;
}

export interface FetchPartsOptions {
  /** The parts to fetch, in file order. */
  parts: readonly FilePart[];
  /** Parts already on disk (a resume): only checked, and fetched again if damaged. */
  onDisk: readonly FilePart[];
  handle: FileHandle;
  partial: string;
  /** For events. */
  file: string;
  transferId: string;
  url: () => Promise<string>;
  renewUrl: () => Promise<void>;
  slots: LinkSlots;
  bandwidth: Bandwidth;
  stallMs: number;
  retry: RetryPolicy;
  emit: (e: NewEvent) => void;
  stop: AbortSignal;
  abort: AbortSignal;
  /** Bytes of each part received so far (for progress), by part index; removed when it is done. */
  inFlight: Map<number, number>;
  onBytes: (n: number) => void;
  onRetry: () => void;
  /** All of the part is on disk: true if it matches its SHA-256 (resolves in file order). */
  check: (p: FilePart) => Promise<boolean>;
  /** The part is checked; `attempts` 0 for a part that was on disk. */
  onDone: (p: FilePart, seconds: number, attempts: number) => void;
}

interface Sub {
  part: FilePart;
  range: Range;
}

/** Resolves when every part is done, or (stop) when the GETs started are; rejects on the first failure. */
export async function fetchParts(o: FetchPartsOptions): Promise<void> {
  let failure: unknown;
  const queue: Sub[] = o.parts.flatMap(subsOf);
  const left = new Map<number, number>(o.parts.map((p) => [p.index, subsOf(p).length]));
  const attempts = new Map<number, number>([
    ...o.onDisk.map((p): [number, number] => [p.index, 0]),
    ...o.parts.map((p): [number, number] => [p.index, 1]),
  ]);
  const began = new Map<number, number>();
  const running = new Set<Promise<void>>();
  let wake: (() => void) | undefined;

  const partWritten = async (p: FilePart) => {
    if (await o.check(p)) {
      o.inFlight.delete(p.index);
      o.onDone(p, (performance.now() - (began.get(p.index) ?? 0)) / 1000, attempts.get(p.index) ?? 1);
      return;
    }
    // Damaged on the way: the whole part again, ahead of the rest (the file's check waits for it).
    const attempt = Math.max(1, attempts.get(p.index) ?? 1) + 1;
    o.slots.failed(undefined, "damaged");
    const error = new CliError(
      "CHECKSUM",
      `Bytes ${p.offset}–${p.offset + p.size - 1} arrived damaged`,
      EXIT.NETWORK,
      true,
    );
    if (attempt > o.retry.maxRetries + 1)
      throw new CliError("CHECKSUM", `${error.message} ${attempt - 1} times; giving up`, EXIT.NETWORK);
    o.onRetry();
    o.emit({
      type: "retry",
      file: o.file,
      transferId: o.transferId,
      partNumber: p.index + 1,
      operation: "GET range",
      attempt: attempt - 1,
      delayMs: 0,
      reason: error.message,
      code: error.code,
    });
    attempts.set(p.index, attempt);
    o.inFlight.set(p.index, 0);
    const subs = subsOf(p);
    left.set(p.index, subs.length);
    queue.unshift(...subs);
  };

  const track = (run: Promise<void>) => {
    const tracked = run
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => {
        running.delete(tracked);
        wake?.();
      });
    running.add(tracked);
  };
  for (const p of o.onDisk) track(partWritten(p));

  const start = (s: Sub) => {
    if (!began.has(s.part.index)) began.set(s.part.index, performance.now());
    if (!o.inFlight.has(s.part.index)) o.inFlight.set(s.part.index, 0);
    track(
      fetchSub(o, s).then(async () => {
        const n = (left.get(s.part.index) ?? 1) - 1;
        left.set(s.part.index, n);
        if (n === 0) await partWritten(s.part);
      }),
    );
  };

  while (!failure && !o.stop.aborted) {
    const s = queue.shift();
    if (!s) {
      if (running.size === 0) break;
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
      continue;
    }
    try {
      await o.slots.acquire(o.abort);
    } catch (err) {
      failure ??= err;
      break;
    }
    if (failure || o.stop.aborted) {
      o.slots.release();
      break;
    }
    start(s);
  }
  while (running.size) await Promise.all(running);
  if (failure) throw failure;
}

function subsOf(p: FilePart): Sub[] {
  const subs: Sub[] = [];
  for (let at = 0; at < p.size; at += SUB_RANGE)
    subs.push({ part: p, range: { offset: p.offset + at, size: Math.min(SUB_RANGE, p.size - at) } });
  return subs;
}

/** One GET range, its slot already held for the first try; later tries take a slot again after their backoff. */
async function fetchSub(o: FetchPartsOptions, s: Sub): Promise<void> {
  const state = { got: 0 };
  let holding = true;
  const index = s.part.index;
  try {
    await withRetries(
      async () => {
        if (!holding) await o.slots.acquire(o.abort);
        holding = true;
        const begun = performance.now();
        const before = state.got;
        // Bytes told to the link model a quarter megabyte at a time (it reads the clock each time).
        let unreported = 0;
        const report = () => {
          o.slots.progress(unreported);
          unreported = 0;
        };
        o.slots.started();
        try {
          await getRange(await o.url(), s.range, state, {
            handle: o.handle,
            path: o.partial,
            bandwidth: o.bandwidth,
            stallMs: o.stallMs,
            signal: o.abort,
            onBytes: (n) => {
              o.onBytes(n);
              unreported += n;
              if (unreported >= 256 * 1024) report();
              o.inFlight.set(index, (o.inFlight.get(index) ?? 0) + n);
            },
          });
          report();
          o.slots.succeeded(s.range.size - before, (performance.now() - begun) / 1000);
        } catch (err) {
          report();
          const expired = isUrlExpired(err);
          if (expired) await o.renewUrl();
          // An expired URL or a local error says nothing of the link: "outage" goes uncounted.
          if (err instanceof CliError && err.retryable && !expired) o.slots.failed(err.code);
          else o.slots.failed(undefined, "outage");
          throw err;
        } finally {
          holding = false;
          o.slots.release();
        }
      },
      {
        policy: o.retry,
        signal: o.abort,
        onRetry: (info) => {
          o.onRetry();
          o.emit({
            type: "retry",
            file: o.file,
            transferId: o.transferId,
            partNumber: index + 1,
            operation: "GET range",
            attempt: info.attempt,
            delayMs: info.delayMs,
            reason: info.error.message,
            code: info.error.code,
          });
        },
      },
    );
  } finally {
    if (holding) o.slots.release();
  }
}
