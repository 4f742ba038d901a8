/**
 * `sfts receive`: parallel ranged GETs on a presigned URL into PATH.sfts-partial, one range per stored
 * part, each checked against the part's SHA-256 as it arrives; a journal beside the partial file lists
 * the ranges done. Interrupted any way, the same command re-checks those ranges on disk (a damaged one
 * is fetched again) and fetches the rest; the whole-file SHA-256 is checked before the rename into place.
 */
import { createHash } from "node:crypto";
import { constants, existsSync, statSync } from "node:fs";
import { type FileHandle, mkdir, open, rename } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { dirname, join, resolve, sep } from "node:path";
import { z } from "zod";
import type { FileSummary, PartInfo } from "../../functions/contract/schemas.js";
import { type ApiClient, apiClientFor } from "./api-client.js";
import { Bandwidth } from "./bandwidth.js";
import { classifyNetwork, isUrlExpired, storageError, toCliError } from "./classify.js";
import { ConcurrencyController } from "./concurrency.js";
import type { ClientConfig } from "./config.js";
import { CliError, EXIT, fileError } from "./errors.js";
import type { NewEvent } from "./events.js";
import { hashFile } from "./file-io.js";
import { readJournalFile, removeJournal, writeJournal } from "./journal.js";
import { safeFileName } from "./names.js";
import { parseRetryAfter, type RetryPolicy, withRetries } from "./retry.js";

export interface ReceiveOptions {
  id: string;
  output?: string | undefined;
  force: boolean;
  concurrency: number;
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

interface Range {
  index: number;
  offset: number;
  size: number;
  sha256?: string | undefined;
}

const PartialJournal = z.object({
  version: z.literal(1),
  transferId: z.string(),
  size: z.number(),
  sha256: z.string(),
  done: z.array(z.number().int()),
});
type PartialJournal = z.infer<typeof PartialJournal>;

const FALLBACK_RANGE = 8 * 1024 * 1024;

/** The stored parts when they tile the file (their checksums then guard each range), else fixed ranges. */
export function planRanges(size: number, parts: readonly PartInfo[]): Range[] {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  let cursor = 0;
  const tiled = sorted.every((p) => {
    const ok = p.offset === cursor && p.size > 0;
    cursor += p.size;
    return ok;
  });
  if (tiled && cursor === size && sorted.length > 0)
    return sorted.map((p, index) => ({ index, offset: p.offset, size: p.size, sha256: p.sha256 }));
  const ranges: Range[] = [];
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

function getRange(
  url: string,
  range: Range,
  opts: {
    handle: FileHandle;
    path: string;
    bandwidth: Bandwidth;
    stallMs: number;
    signal: AbortSignal;
    onBytes: (n: number) => void;
  },
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const u = new URL(url);
    const send = u.protocol === "https:" ? httpsRequest : httpRequest;
    let settled = false;
    let last = performance.now();
    const hash = createHash("sha256");
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      opts.signal.removeEventListener("abort", onAbort);
      req.destroy();
      reject(err);
    };
    const onAbort = () => fail(opts.signal.reason);
    const watchdog = setInterval(
      () => {
        if (performance.now() - last > opts.stallMs)
          fail(toCliError(classifyNetwork({ service: "storage", stallMs: opts.stallMs, url })));
      },
      Math.min(1000, Math.max(50, opts.stallMs / 4)),
    );
    opts.signal.addEventListener("abort", onAbort, { once: true });
    const req = send(u, {
      method: "GET",
      headers: { range: `bytes=${range.offset}-${range.offset + range.size - 1}` },
    });
    req.on("error", (err: NodeJS.ErrnoException) =>
      fail(toCliError(classifyNetwork({ service: "storage", error: err, what: "fetching the range", url }))),
    );
    req.on("response", async (res: IncomingMessage) => {
      last = performance.now();
      const status = res.statusCode ?? 0;
      if (status !== 206 && !(status === 200 && range.offset === 0)) {
        let body = "";
        for await (const c of res) if (body.length < 4096) body += String(c);
        return fail(storageError(status, body, parseRetryAfter(res.headers["retry-after"]), "the range"));
      }
      let pos = range.offset;
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          if (settled) return;
          const take = Math.min(chunk.length, range.offset + range.size - pos);
          if (take <= 0) break;
          const piece = take === chunk.length ? chunk : chunk.subarray(0, take);
          await opts.bandwidth.acquire("receive", piece.length, opts.signal);
          try {
            await opts.handle.write(piece, 0, piece.length, pos);
          } catch (err) {
            return fail(fileError(err, opts.path));
          }
          hash.update(piece);
          pos += piece.length;
          last = performance.now();
          opts.onBytes(piece.length);
        }
      } catch (err) {
        return fail(
          err instanceof CliError
            ? err
            : new CliError("NETWORK", "The connection broke mid-range", EXIT.NETWORK, true),
        );
      }
      if (pos !== range.offset + range.size)
        return fail(new CliError("SHORT_READ", "Storage sent fewer bytes than asked", EXIT.NETWORK, true));
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      opts.signal.removeEventListener("abort", onAbort);
      resolvePromise(hash.digest("hex"));
    });
    req.end();
  });
}

async function hashRange(handle: FileHandle, range: Range): Promise<string> {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(Math.min(range.size, 4 * 1024 * 1024));
  let done = 0;
  while (done < range.size) {
    const { bytesRead } = await handle.read(
      buf,
      0,
      Math.min(buf.length, range.size - done),
      range.offset + done,
    );
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    done += bytesRead;
  }
  return h.digest("hex");
}

export async function receive(opts: ReceiveOptions): Promise<ReceiveResult> {
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
  return receiveFile({
    api,
    file: { ...file, parts },
    target,
    concurrency: opts.concurrency,
    bandwidth: new Bandwidth(opts.limitRate),
    stallMs: opts.stallMs,
    retry: opts.client.retry,
    emit: opts.emit,
    stop: opts.stop,
    abort: opts.abort,
  });
}

/** Range slots shared by the files of a batch received at once (one budget for the whole receive). */
export interface RangeSlots {
  acquire(signal: AbortSignal): Promise<void>;
  release(): void;
}

export interface FileReceiveOptions {
  api: ApiClient;
  /** A complete file, with the parts that tile it (the origin's for a deduplicated file) when known. */
  file: FileSummary & { parts: readonly PartInfo[] };
  /** Where it goes; its folder exists. PATH.sfts-partial and its journal are written beside it. */
  target: string;
  concurrency: number;
  bandwidth: Bandwidth;
  slots?: RangeSlots | undefined;
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
  const { api, file, target, emit } = opts;
  const partial = `${target}.sfts-partial`;
  const journalFile = `${partial}.json`;
  const ranges = planRanges(file.size, file.parts);
  // A file of one range needs no journal: an interrupted range is fetched again whole anyway.
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
  const started = performance.now();
  let bytesFetched = 0;
  let retries = 0;
  const inFlight = new Map<number, number>();
  const done = new Set<number>();
  let resumed = false;
  try {
    // Ranges a previous run finished count only if their bytes on disk still hash right.
    const saved = journaled ? readJournalFile(journalFile, PartialJournal) : undefined;
    if (saved && saved.transferId === file.id && saved.size === file.size && saved.sha256 === file.sha256) {
      for (const i of saved.done) {
        const r = ranges[i];
        if (!r) continue;
        if (r.sha256 === undefined || (await hashRange(handle, r)) === r.sha256) done.add(i);
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
      }
      resumed = done.size > 0;
    }
    const bytesDone = () => ranges.filter((r) => done.has(r.index)).reduce((a, r) => a + r.size, 0);
    const journal = (): PartialJournal => ({
      version: 1,
      transferId: file.id,
      size: file.size,
      sha256: file.sha256,
      done: [...done].sort((a, b) => a - b),
    });
    if (journaled) writeJournal(journalFile, journal());
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
    const freshUrl = async () => {
      if (Date.parse(link.expiresAt) - Date.now() < 60_000) link = await api.downloadUrl(file.id);
      return link.url;
    };
    const bandwidth = opts.bandwidth;
    const aimd = new ConcurrencyController({ max: opts.concurrency });
    const queue = ranges.filter((r) => !done.has(r.index));
    let failure: unknown;
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
        concurrency: aimd.limit,
        partSize: ranges[0]?.size ?? 0,
      });
    }, 250);

    const fetchRange = async (r: Range) => {
      await opts.slots?.acquire(opts.abort);
      inFlight.set(r.index, 0);
      try {
        const t0 = performance.now();
        let attempt = 0;
        await withRetries(
          async () => {
            attempt++;
            inFlight.set(r.index, 0);
            let url = await freshUrl();
            try {
              const sha = await getRange(url, r, {
                handle,
                path: partial,
                bandwidth,
                stallMs: opts.stallMs,
                signal: opts.abort,
                onBytes: (n) => {
                  bytesFetched += n;
                  opts.onBytes?.(n);
                  inFlight.set(r.index, (inFlight.get(r.index) ?? 0) + n);
                },
              });
              if (r.sha256 !== undefined && sha !== r.sha256)
                throw new CliError(
                  "CHECKSUM",
                  `Bytes ${r.offset}–${r.offset + r.size - 1} arrived damaged`,
                  EXIT.NETWORK,
                  true,
                );
            } catch (err) {
              if (isUrlExpired(err)) {
                link = await api.downloadUrl(file.id);
                url = link.url;
              } else if (err instanceof CliError && err.retryable) aimd.onFailure();
              throw err;
            }
          },
          {
            policy: opts.retry,
            signal: opts.abort,
            onRetry: (info) => {
              retries++;
              emit({
                type: "retry",
                file: target,
                transferId: file.id,
                partNumber: r.index + 1,
                operation: "GET range",
                attempt: info.attempt,
                delayMs: info.delayMs,
                reason: info.error.message,
                code: info.error.code,
              });
            },
          },
        );
        aimd.onSuccess(r.size);
        done.add(r.index);
        if (journaled) writeJournal(journalFile, journal());
        emit({
          type: "part",
          file: target,
          transferId: file.id,
          partNumber: r.index + 1,
          offset: r.offset,
          size: r.size,
          sha256: r.sha256 ?? "",
          seconds: (performance.now() - t0) / 1000,
          attempt,
        });
      } finally {
        inFlight.delete(r.index);
        opts.slots?.release();
      }
    };

    try {
      await new Promise<void>((resolveAll) => {
        let running = 0;
        const pump = () => {
          while (!failure && !opts.stop.aborted && running < aimd.limit && queue.length) {
            const r = queue.shift() as Range;
            running++;
            fetchRange(r)
              .catch((err: unknown) => {
                failure ??= err;
              })
              .finally(() => {
                running--;
                pump();
              });
          }
          if (running === 0) resolveAll();
        };
        pump();
      });
    } finally {
      clearInterval(progress);
    }
    if (failure) throw failure;
    if (opts.stop.aborted || done.size < ranges.length)
      throw new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);

    await handle.sync();
    await handle.close();
    const whole = await hashFile(partial, undefined, opts.abort);
    if (whole !== file.sha256) {
      removeJournal(journalFile);
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
    removeJournal(journalFile);
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
    await handle.close().catch(() => {});
  }
}
