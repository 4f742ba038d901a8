/**
 * `sfts receive` of one file: parallel ranged GETs on a presigned URL into PATH.sfts-partial, as many
 * at once as the link model allows (link-model.ts, through receive/link-slots.ts), each stored part
 * fetched as ranges of at most 8 MiB and written at its offset in batches (receive/fetch-ranges.ts,
 * range-get.ts). Behind them a hashing thread reads the file back in order (receive/file-hasher.ts):
 * each part is checked against its SHA-256 (a damaged one is fetched again) and the whole file's SHA-256
 * runs in the same pass, while the file is flushed to disk in the background, so when the last range
 * lands little is left to hash and flush; the whole-file SHA-256 is checked before the rename into place. A journal beside the partial file lists the
 * ranges done (receive/partial-journal.ts): interrupted any way, the same command re-checks those ranges
 * on disk against their SHA-256 and fetches only the rest.
 * Memory (`--memory`): each GET in flight holds at most two write batches and the socket's buffers
 * (MEMORY_PER_GET), which caps the concurrency; the hashing thread holds 4 MiB.
 */
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { constants, existsSync, statSync } from "node:fs";
import { type FileHandle, mkdir, open, rename } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { FileSummary, PartInfo } from "../../functions/contract/schemas.js";
import { type ApiClient, apiClientFor } from "./api-client.js";
import { Bandwidth } from "./bandwidth.js";
import type { ClientConfig } from "./config.js";
import { CliError, EXIT, fileError } from "./errors.js";
import type { NewEvent } from "./events.js";
import { readRange } from "./file-io.js";
import { linkEvents } from "./link-events.js";
import { LinkController } from "./link-model.js";
import { safeFileName } from "./names.js";
import { type FilePart, fetchParts, SUB_RANGE } from "./receive/fetch-ranges.js";
import { type FileHasher, HashThread } from "./receive/file-hasher.js";
import { LinkSlots } from "./receive/link-slots.js";
import { type PartialJournal, PartialJournalWriter, readPartialJournal } from "./receive/partial-journal.js";
import { WRITE_BATCH } from "./receive/range-get.js";
import type { RetryPolicy } from "./retry.js";

export interface ReceiveOptions {
  id: string;
  output?: string | undefined;
  force: boolean;
  /** Most ranges in flight at once (the link model's ceiling). */
  concurrency: number;
  /** Bytes of buffers the ranges in flight may hold (caps the concurrency). */
  memory: number;
  limitRate: number | null;
  stallMs: number;
  client: ClientConfig;
  emit: (e: NewEvent) => void;
  stop: AbortSignal;
  abort: AbortSignal;
  cwd?: string;
}

export interface ReceiveResult {
  path: string;
  transferId: string;
  sha256: string;
  size: number;
  bytesFetched: number;
  resumed: boolean;
}

/** Memory one GET in flight may hold: two write batches and about a megabyte of socket buffers. */
export const MEMORY_PER_GET = 2 * WRITE_BATCH + 1024 * 1024;
/** Bytes flushed to disk in the background as the checked prefix of the file grows. */
const SYNC_EVERY = 64 * 1024 * 1024;

/**
 * The link model and its slots for one receive (a batch's files share them), listening to the link
 * watch and reporting its decisions; `close` flushes the last decision and stops listening.
 */
export function receiveSlots(o: {
  concurrency: number;
  memory: number;
  client: ClientConfig;
  emit: (e: NewEvent) => void;
}): { slots: LinkSlots; close: () => void } {
  const max = Math.max(1, Math.min(o.concurrency, Math.floor(o.memory / MEMORY_PER_GET)));
  const events = linkEvents(o.emit);
  const size = SUB_RANGE;
  const slots = new LinkSlots(
    new LinkController({
      max,
      initial: Math.min(8, max),
      partSize: { initial: size, min: size, max: size, adaptive: false },
      onDecision: events.push,
    }),
  );
  const unheard = o.client.retry.link?.addListener(slots);
  return {
    slots,
    close: () => {
      unheard?.();
      events.flush();
    },
  };
}

const FALLBACK_RANGE = 8 * 1024 * 1024;

/** The stored parts when they tile the file (their checksums then guard each range), else fixed ranges. */
export function planRanges(size: number, parts: readonly PartInfo[]): FilePart[] {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  let cursor = 0;
  const tiled = sorted.every((p) => {
    const ok = p.offset === cursor && p.size > 0;
    cursor += p.size;
    return ok;
  });
  if (tiled && cursor === size && sorted.length > 0)
    return sorted.map((p, index) => ({ index, offset: p.offset, size: p.size, sha256: p.sha256 }));
  const ranges: FilePart[] = [];
  for (let offset = 0, index = 0; offset < size; offset += FALLBACK_RANGE, index++)
    ranges.push({ index, offset, size: Math.min(FALLBACK_RANGE, size - offset) });
  return ranges;
}

/** Where the file goes: -o PATH (or a folder), else its stored name made safe, in the current folder. */
export function targetPath(name: string, id: string, output: string | undefined, cwd: string): string {
  const safe = safeFileName(name, id);
  if (output === undefined) return join(cwd, safe);
  const abs = resolve(cwd, output);
  return namesFolder(output) || (existsSync(abs) && statSync(abs).isDirectory()) ? join(abs, safe) : abs;
}

/** "-o incoming/" names a folder even before it exists (it is then created). */
const namesFolder = (output: string): boolean => output.endsWith("/") || output.endsWith(sep);

export async function receive(opts: ReceiveOptions): Promise<ReceiveResult> {
  quietSignals(opts);
  const api = apiClientFor(opts.client, opts.abort, opts.emit);
  const file = await api.getFile(opts.id);
  if (file.status !== "complete")
    throw new CliError(
      "NOT_COMPLETE",
      `Transfer ${file.id} is ${file.status}; only complete files can be received`,
      EXIT.REJECTED,
    );
  let parts = file.parts;
  if (parts.length === 0 && file.deduplicatedFrom) parts = (await api.getFile(file.deduplicatedFrom)).parts;
  const target = targetPath(file.name, file.id, opts.output, opts.cwd ?? process.cwd());
  if (existsSync(target) && !opts.force)
    throw new CliError("EXISTS", `${target} already exists; use --force to overwrite it`, EXIT.EXISTS);
  if (opts.output !== undefined && namesFolder(opts.output))
    try {
      await mkdir(dirname(target), { recursive: true });
    } catch (err) {
      throw fileError(err, dirname(target));
    }
  const hashes = new HashThread();
  const link = receiveSlots(opts);
  try {
    return await receiveFile({
      api,
      file: { ...file, parts },
      target,
      slots: link.slots,
      hashes,
      bandwidth: new Bandwidth(opts.limitRate),
      stallMs: opts.stallMs,
      retry: opts.client.retry,
      emit: opts.emit,
      stop: opts.stop,
      abort: opts.abort,
    });
  } finally {
    link.close();
    await hashes.close();
  }
}

/** Every GET in flight, and every one waiting for a slot, listens on the abort signal. */
export function quietSignals(o: { stop: AbortSignal; abort: AbortSignal }): void {
  setMaxListeners(10_000, o.stop, o.abort);
}

export interface FileReceiveOptions {
  api: ApiClient;
  /** A complete file, with the parts that tile it (the origin's for a deduplicated file) when known. */
  file: FileSummary & { parts: readonly PartInfo[] };
  /** Where it goes; its folder exists. PATH.sfts-partial and its journal are written beside it. */
  target: string;
  /** The GETs' slots and link model, shared by the files of a batch. */
  slots: LinkSlots;
  /** The thread hashing whole files, shared by the files of a batch. */
  hashes: HashThread;
  bandwidth: Bandwidth;
  stallMs: number;
  retry: RetryPolicy;
  emit: (e: NewEvent) => void;
  stop: AbortSignal;
  abort: AbortSignal;
  /** Per-file progress events every 250 ms (a batch reports one total instead). */
  progress?: boolean;
  /** Called with every byte count fetched (a batch's total). */
  onBytes?: (n: number) => void;
  /** A batch's file: its path and batch id, carried on its start and done events. */
  batch?: { batchId: string; path: string } | undefined;
}

/** One file: resumable ranged GETs into TARGET.sfts-partial, each range and the whole file checked. */
export async function receiveFile(opts: FileReceiveOptions): Promise<ReceiveResult> {
  const { api, file, target, emit, slots } = opts;
  const partial = `${target}.sfts-partial`;
  const ranges = planRanges(file.size, file.parts);
  // A file of one part needs no journal: an interrupted part is fetched again whole anyway.
  const journaled = ranges.length > 1;

  let handle: FileHandle;
  try {
    // O_NOFOLLOW: a symlink planted at the partial's name is refused, never written through.
    handle = await open(
      partial,
      constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | (journaled ? 0 : constants.O_TRUNC),
      0o644,
    );
    await handle.truncate(file.size);
  } catch (err) {
    throw fileError(err, partial);
  }
  const hasher: FileHasher = opts.hashes.file(partial, ranges);
  const journal = new PartialJournalWriter(`${partial}.json`);
  const started = performance.now();
  let bytesFetched = 0;
  let retries = 0;
  const inFlight = new Map<number, number>();
  const done = new Set<number>();
  let resumed = false;
  // The checked prefix [0, prefix), flushed to disk in the background as it grows.
  let frontier = 0;
  let prefix = 0;
  let synced = 0;
  let syncing: Promise<void> | undefined;
  let syncError: unknown;
  const advance = () => {
    for (let r = ranges[frontier]; r && done.has(r.index); r = ranges[++frontier]) prefix = r.offset + r.size;
    if (syncing || prefix - synced < SYNC_EVERY) return;
    const upTo = prefix;
    syncing = handle
      .datasync()
      .then(
        () => {
          synced = upTo;
        },
        (err: unknown) => {
          syncError ??= fileError(err, partial);
        },
      )
      .finally(() => {
        syncing = undefined;
      });
  };
  try {
    // Ranges a previous run finished count only if their bytes on disk still hash right.
    const saved = journaled ? readPartialJournal(`${partial}.json`) : undefined;
    if (saved && saved.transferId === file.id && saved.size === file.size && saved.sha256 === file.sha256) {
      const listed = [...new Set(saved.done)].flatMap((i) => (ranges[i] ? [ranges[i]] : []));
      const sums: (string | undefined)[] = [];
      for (const r of listed)
        sums.push(r.sha256 === undefined ? r.sha256 : await hashRange(handle, partial, r));
      listed.forEach((r, k) => {
        if (sums[k] === r.sha256) done.add(r.index);
        else
          emit({
            type: "retry",
            file: target,
            transferId: file.id,
            operation: "verify partial",
            attempt: 1,
            delayMs: 0,
            reason: `bytes ${r.offset}–${r.offset + r.size - 1} on disk are damaged; fetching them again`,
            code: "CHECKSUM",
          });
      });
      resumed = done.size > 0;
    }
    const bytesDone = () => ranges.filter((r) => done.has(r.index)).reduce((a, r) => a + r.size, 0);
    const state = (): PartialJournal => ({
      version: 1,
      transferId: file.id,
      size: file.size,
      sha256: file.sha256,
      done: [...done].sort((a, b) => a - b),
    });
    if (journaled) await journal.save(state());
    advance();
    emit({
      type: "start",
      file: target,
      ...opts.batch,
      name: file.name,
      size: file.size,
      sha256: file.sha256,
      transferId: file.id,
      priority: file.priority,
      resumed,
      bytesDone: bytesDone(),
    });

    // An empty file needs no URL (and no GET).
    let link = { url: "", expiresAt: new Date(0).toISOString() };
    let renewing: Promise<void> | undefined;
    const renewUrl = () =>
      (renewing ??= api
        .downloadUrl(file.id)
        .then((l) => {
          link = l;
        })
        .finally(() => {
          renewing = undefined;
        }));
    const url = async () => {
      if (Date.parse(link.expiresAt) - Date.now() < 60_000) await renewUrl();
      return link.url;
    };
    let speed = { bytes: bytesDone(), at: performance.now(), bps: 0 };
    const progress = setInterval(() => {
      if (opts.progress === false) return;
      const now = performance.now();
      const bytes = bytesDone() + [...inFlight.values()].reduce((a, b) => a + b, 0);
      const inst = Math.max(0, bytes - speed.bytes) / ((now - speed.at) / 1000);
      speed = { bytes, at: now, bps: speed.bps === 0 ? inst : 0.7 * speed.bps + 0.3 * inst };
      emit({
        type: "progress",
        file: target,
        transferId: file.id,
        bytesDone: bytes,
        size: file.size,
        speedBps: Math.round(speed.bps),
        etaSeconds: speed.bps > 0 ? (file.size - bytes) / speed.bps : null,
        retries,
        concurrency: slots.limit,
        partSize: ranges[0]?.size ?? 0,
      });
    }, 250);
    try {
      await fetchParts({
        parts: ranges.filter((r) => !done.has(r.index)),
        onDisk: ranges.filter((r) => done.has(r.index)),
        handle,
        partial,
        file: target,
        transferId: file.id,
        url,
        renewUrl,
        slots,
        bandwidth: opts.bandwidth,
        stallMs: opts.stallMs,
        retry: opts.retry,
        emit,
        stop: opts.stop,
        abort: opts.abort,
        inFlight,
        onBytes: (n) => {
          bytesFetched += n;
          opts.onBytes?.(n);
        },
        onRetry: () => {
          retries++;
        },
        check: (p) => hasher.written(p.index),
        onDone: (r, seconds, attempt) => {
          done.add(r.index);
          advance();
          if (attempt === 0) return; // on disk already, and journaled
          // The part event says the range is checked, written and in the journal.
          void (journaled ? journal.save(state()) : Promise.resolve()).then(() =>
            emit({
              type: "part",
              file: target,
              transferId: file.id,
              partNumber: r.index + 1,
              offset: r.offset,
              size: r.size,
              sha256: r.sha256 ?? "",
              seconds,
              attempt,
            }),
          );
        },
      });
    } finally {
      clearInterval(progress);
      await journal.flush();
    }
    if (opts.stop.aborted || done.size < ranges.length)
      throw new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);

    while (syncing) await syncing;
    if (syncError) throw syncError;
    const whole = await hasher.digest();
    try {
      await handle.sync();
      await handle.close();
    } catch (err) {
      throw fileError(err, partial);
    }
    if (whole !== file.sha256) {
      await journal.remove();
      throw new CliError(
        "INTEGRITY",
        `The received file's SHA-256 is ${whole}, not ${file.sha256}; ${partial} is kept for inspection`,
        EXIT.INTEGRITY,
      );
    }
    try {
      await rename(partial, target);
    } catch (err) {
      throw fileError(err, target);
    }
    await journal.remove();
    emit({
      type: "done",
      file: target,
      ...opts.batch,
      transferId: file.id,
      sha256: whole,
      size: file.size,
      seconds: (performance.now() - started) / 1000,
      deduplicated: false,
      resumed,
      bytesSent: bytesFetched,
      retries,
    });
    return { path: target, transferId: file.id, sha256: whole, size: file.size, bytesFetched, resumed };
  } finally {
    hasher.close();
    while (syncing) await syncing.catch(() => {});
    await handle.close().catch(() => {});
  }
}

async function hashRange(handle: FileHandle, path: string, r: FilePart): Promise<string> {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(Math.min(r.size, 4 * 1024 * 1024));
  for (let at = 0; at < r.size; at += buf.length) {
    const n = Math.min(buf.length, r.size - at);
    try {
      h.update(await readRange(handle, path, r.offset + at, n, buf.subarray(0, n)));
    } catch {
      return ""; // shorter than it should be: not this range
    }
  }
  return h.digest("hex");
}
