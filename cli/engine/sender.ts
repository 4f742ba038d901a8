/**
 * `sfts send`: the resilient uploader. Several files share one pool of connections (AIMD on goodput),
 * split by priority weight; each file plans its parts adaptively, PUTs them straight to storage on
 * presigned URLs with the part's SHA-256 signed in, records each with the coordinator, and resumes from
 * the server's missing ranges after any interruption — with or without the local journal.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import type { MissingRange, Priority } from "../../functions/contract/schemas.js";
import { apiClientFor } from "./api-client.js";
import { Bandwidth, PRIORITY_WEIGHT } from "./bandwidth.js";
import { BufferPool } from "./buffer-pool.js";
import { ConcurrencyController } from "./concurrency.js";
import type { ClientConfig } from "./config.js";
import { CliError, EXIT, fileError } from "./errors.js";
import type { NewEvent } from "./events.js";
import { hashFile, type LocalFile, readRange, sha256Hex, statFile } from "./file-io.js";
import { journalPath, readJournal, removeJournal, writeJournal } from "./journal.js";
import { putPart } from "./part-put.js";
import { PartPlanner, type PlannedPart, splitGap } from "./planner.js";
import { withRetries } from "./retry.js";

export interface SendFile {
  path: string;
  priority: Priority;
}

export interface SendOptions {
  files: SendFile[];
  client: ClientConfig;
  /** Upper bound for parallel part uploads across all files. */
  concurrency: number;
  adaptive: boolean;
  /** Starting (or, without adaptation, fixed) part size; the server's recommendation if unset. */
  chunkSize?: number | undefined;
  /** Largest part adaptation may grow to. */
  maxChunkSize?: number | undefined;
  limitRate: number | null;
  stallMs: number;
  /** Bytes of parts held in memory at once, at most (a single part may exceed it alone). */
  memoryBudget: number;
  emit: (e: NewEvent) => void;
  /** Soft stop (first Ctrl-C): start nothing new, let parts in flight finish. */
  stop: AbortSignal;
  /** Hard stop: abort parts in flight too. */
  abort: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export type FileResult =
  | {
      file: string;
      status: "done";
      transferId: string;
      sha256: string;
      size: number;
      deduplicated: boolean;
      seconds: number;
    }
  | { file: string; status: "failed" | "interrupted"; transferId?: string | undefined; error: CliError };

const PROGRESS_EVERY_MS = 250;

class FileTask {
  readonly weight: number;
  local!: LocalFile;
  sha256 = "";
  transferId = "";
  journal = "";
  planner!: PartPlanner;
  handle: FileHandle | undefined;
  queue: PlannedPart[] = [];
  tail: { offset: number; next: number } | undefined;
  inFlight = 0;
  inFlightWritten = new Map<number, number>();
  bytesDone = 0;
  partsDone = 0;
  bytesSent = 0;
  retries = 0;
  /** The last failure a retry got past, reported to the server with the next part for the dashboard. */
  lastError: string | undefined;
  resumed = false;
  ready = false;
  finished = false;
  assembling = false;
  error: CliError | undefined;
  started = performance.now();
  speed = { bytes: 0, at: performance.now(), bps: 0 };

  constructor(
    readonly path: string,
    readonly priority: Priority,
  ) {
    this.weight = PRIORITY_WEIGHT[priority];
  }

  get hasWork(): boolean {
    return this.ready && !this.finished && !this.error && (this.queue.length > 0 || this.tail !== undefined);
  }

  take(): PlannedPart {
    const queued = this.queue.shift();
    if (queued) return queued;
    const tail = this.tail as { offset: number; next: number };
    const part = this.planner.next(tail.offset, tail.next);
    const end = part.offset + part.size;
    this.tail = end >= this.local.size ? undefined : { offset: end, next: part.partNumber + 1 };
    return part;
  }

  /** Confirmed bytes plus what parts in flight have written so far. */
  get progressBytes(): number {
    let b = this.bytesDone;
    for (const w of this.inFlightWritten.values()) b += w;
    return Math.min(b, this.local?.size ?? b);
  }
}

export async function send(opts: SendOptions): Promise<FileResult[]> {
  const env = opts.env ?? process.env;
  const emit = opts.emit;
  const api = apiClientFor(opts.client, opts.abort, emit);
  const aimd = new ConcurrencyController({ max: opts.concurrency });
  const bandwidth = new Bandwidth(opts.limitRate);
  const pool = new BufferPool(opts.memoryBudget);
  const tasks = opts.files.map((f) => new FileTask(f.path, f.priority));
  for (const t of tasks) bandwidth.setWeight(t.path, t.weight);
  const results = new Map<FileTask, FileResult>();
  let inFlightBytes = 0;
  let wake: () => void = () => {};

  const fail = (t: FileTask, err: unknown) => {
    if (t.error || t.finished) return;
    const e =
      err instanceof CliError
        ? err
        : opts.abort.aborted || opts.stop.aborted
          ? new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED)
          : new CliError("UNEXPECTED", err instanceof Error ? err.message : String(err), EXIT.UNEXPECTED);
    t.error = e;
    const status = e.exitCode === EXIT.INTERRUPTED ? "interrupted" : "failed";
    results.set(t, { file: t.path, status, transferId: t.transferId || undefined, error: e });
    if (status === "failed")
      emit({
        type: "error",
        file: t.path,
        ...(t.transferId && { transferId: t.transferId }),
        code: e.code,
        exitCode: e.exitCode,
        message: e.message,
      });
  };

  // ---- per file: find what storage already holds, or start a transfer

  const prepare = async (t: FileTask) => {
    t.local = await statFile(t.path);
    const name = basename(t.local.path);
    t.journal = journalPath(opts.client.server, t.local.path, env);
    const saved = readJournal(t.journal);
    let candidate: string | undefined;
    if (
      saved &&
      saved.size === t.local.size &&
      saved.mtimeMs === t.local.mtimeMs &&
      saved.ino === t.local.ino
    ) {
      t.sha256 = saved.sha256;
      candidate = saved.transferId;
    } else {
      t.sha256 = await hashFile(
        t.local.path,
        (bytes) => emit({ type: "hash", file: t.path, bytes, size: t.local.size }),
        opts.abort,
      );
    }
    if (opts.stop.aborted) throw new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);

    let missing: MissingRange[] | undefined;
    const tryResume = async (id: string) => {
      try {
        const m = await api.missing(id);
        if (m.size !== t.local.size) return false;
        if (m.status === "complete") {
          t.transferId = id;
          missing = [];
          return true;
        }
        if (m.status !== "uploading") return false;
        t.transferId = id;
        t.bytesDone = m.bytesDone;
        t.partsDone = m.partsDone;
        missing = m.missing;
        t.resumed = true;
        return true;
      } catch (err) {
        if (err instanceof CliError && ["NOT_FOUND", "INVALID_STATE", "UPLOAD_GONE"].includes(err.code))
          return false;
        throw err;
      }
    };
    if (candidate) await tryResume(candidate);
    if (!t.transferId) {
      const open = await api.listFiles({
        status: "uploading",
        sha256: t.sha256,
        size: t.local.size,
        limit: 5,
      });
      for (const f of open.items) if (await tryResume(f.id)) break;
    }
    let partSize = opts.chunkSize;
    let deduplicated = false;
    if (!t.transferId) {
      const init = await api.init({
        name,
        size: t.local.size,
        sha256: t.sha256,
        priority: t.priority,
        ...(opts.chunkSize !== undefined && { partSizeHint: opts.chunkSize }),
      });
      t.transferId = init.transferId;
      partSize ??= init.partSize;
      deduplicated = init.deduplicated;
      missing =
        init.status === "complete" ? [] : [{ offset: 0, size: t.local.size, firstPart: 1, lastPart: 10_000 }];
    }
    t.planner = new PartPlanner({
      fileSize: t.local.size,
      initial: partSize ?? 8 * 1024 * 1024,
      adaptive: opts.adaptive,
      ...(opts.maxChunkSize !== undefined && { ceiling: opts.maxChunkSize }),
    });
    for (const gap of missing ?? []) {
      if (gap.offset + gap.size === t.local.size && gap.lastPart === 10_000)
        t.tail = { offset: gap.offset, next: gap.firstPart };
      else t.queue.push(...splitGap(gap, t.local.size, t.planner.current));
    }
    emit({
      type: "start",
      file: t.path,
      name,
      size: t.local.size,
      sha256: t.sha256,
      transferId: t.transferId,
      priority: t.priority,
      resumed: t.resumed,
      bytesDone: t.bytesDone,
    });
    if (missing?.length === 0) {
      // Nothing to send: the server has it (dedupe, or an earlier run got this far).
      await finishFile(t, deduplicated);
      return;
    }
    saveJournal(t);
    try {
      t.handle = await open(t.local.path, "r");
    } catch (err) {
      throw fileError(err, t.path);
    }
    t.ready = true;
  };

  const saveJournal = (t: FileTask) => {
    try {
      writeJournal(t.journal, {
        version: 1,
        server: opts.client.server,
        path: t.local.path,
        size: t.local.size,
        mtimeMs: t.local.mtimeMs,
        ino: t.local.ino,
        sha256: t.sha256,
        transferId: t.transferId,
        partsDone: t.partsDone,
        bytesDone: t.bytesDone,
        updatedAt: new Date().toISOString(),
      });
    } catch {
      // The journal only saves time on resume; the server's record is what counts.
    }
  };

  const finishFile = async (t: FileTask, deduplicated: boolean) => {
    t.assembling = true;
    let summary = await api.assemble(t.transferId);
    if (summary.sha256 !== t.sha256)
      throw new CliError(
        "INTEGRITY",
        `The server recorded SHA-256 ${summary.sha256}, not ${t.sha256}`,
        EXIT.INTEGRITY,
      );
    summary = { ...summary };
    t.finished = true;
    removeJournal(t.journal);
    const seconds = (performance.now() - t.started) / 1000;
    results.set(t, {
      file: t.path,
      status: "done",
      transferId: t.transferId,
      sha256: t.sha256,
      size: t.local.size,
      deduplicated,
      seconds,
    });
    emit({
      type: "done",
      file: t.path,
      transferId: t.transferId,
      sha256: t.sha256,
      size: t.local.size,
      seconds,
      deduplicated,
      resumed: t.resumed,
      bytesSent: t.bytesSent,
      retries: t.retries,
    });
  };

  // ---- parts

  const runPart = async (t: FileTask, part: PlannedPart) => {
    t.inFlight++;
    inFlightBytes += part.size;
    t.inFlightWritten.set(part.partNumber, 0);
    let body: Buffer | undefined;
    try {
      body = await readRange(t.handle as FileHandle, t.path, part.offset, part.size, pool.acquire(part.size));
      const bytes = body;
      const sha256 = sha256Hex(bytes);
      let signed: { url: string; headers: Record<string, string>; expiresAt: string } | undefined;
      let attempt = 0;
      let seconds = 0;
      const { etag } = await withRetries(
        async () => {
          attempt++;
          if (!signed || Date.parse(signed.expiresAt) - Date.now() < 60_000)
            signed = (await api.presign(t.transferId, [{ ...part, sha256 }])).parts[0];
          if (!signed) throw new CliError("BAD_ANSWER", "The server presigned no URL", EXIT.UNEXPECTED);
          t.inFlightWritten.set(part.partNumber, 0);
          const started = performance.now();
          try {
            const r = await putPart({
              url: signed.url,
              headers: signed.headers,
              body: bytes,
              bandwidth,
              flow: t.path,
              stallMs: opts.stallMs,
              signal: opts.abort,
              onBytes: (n) => {
                t.bytesSent += n;
                t.inFlightWritten.set(part.partNumber, (t.inFlightWritten.get(part.partNumber) ?? 0) + n);
              },
            });
            seconds = (performance.now() - started) / 1000;
            return r;
          } catch (err) {
            if (err instanceof CliError) {
              if (err.code === "URL_EXPIRED" || err.exitCode === EXIT.REJECTED) signed = undefined;
              if (err.code !== "URL_EXPIRED") {
                t.planner.onFailure();
                aimd.onFailure();
              }
            }
            throw err;
          }
        },
        {
          policy: opts.client.retry,
          signal: opts.abort,
          onRetry: (info) => {
            t.retries++;
            t.lastError = `${info.error.code}: ${info.error.message}`.slice(0, 500);
            t.inFlightWritten.set(part.partNumber, 0);
            emit({
              type: "retry",
              file: t.path,
              transferId: t.transferId,
              partNumber: part.partNumber,
              operation: "PUT part",
              attempt: info.attempt,
              delayMs: info.delayMs,
              reason: info.error.message,
              code: info.error.code,
            });
          },
        },
      );
      await api.partDone(t.transferId, part.partNumber, {
        offset: part.offset,
        size: part.size,
        sha256,
        etag,
        client: {
          retries: t.retries,
          speedBps: Math.round(t.speed.bps),
          ...(t.lastError !== undefined && { lastError: t.lastError }),
        },
      });
      t.planner.onSuccess(part.size, seconds);
      aimd.onSuccess(part.size);
      t.bytesDone += part.size;
      t.partsDone++;
      saveJournal(t);
      emit({ type: "part", file: t.path, transferId: t.transferId, ...part, sha256, seconds, attempt });
    } catch (err) {
      // A part that could not be sent fails its file; interrupted parts simply stay missing for the resume.
      if (!(opts.abort.aborted || opts.stop.aborted)) fail(t, err);
      else if (!t.error) fail(t, new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED));
    } finally {
      t.inFlight--;
      inFlightBytes -= part.size;
      if (body) pool.release(body);
      t.inFlightWritten.delete(part.partNumber);
      wake();
    }
  };

  // ---- scheduling

  const pick = (): FileTask | undefined => {
    let best: FileTask | undefined;
    for (const t of tasks) {
      if (!t.hasWork) continue;
      if (
        !best ||
        t.inFlight / t.weight < best.inFlight / best.weight ||
        (t.inFlight / t.weight === best.inFlight / best.weight && t.weight > best.weight)
      )
        best = t;
    }
    return best;
  };

  // Before hashing anything (a large file takes a while): is the server there, and does it take the token?
  await api.listFiles({ limit: 1 });

  const progressTimer = setInterval(() => {
    for (const t of tasks) {
      if (!t.ready || t.finished || t.error) continue;
      const now = performance.now();
      const bytes = t.progressBytes;
      const dt = (now - t.speed.at) / 1000;
      if (dt > 0) {
        const inst = Math.max(0, bytes - t.speed.bytes) / dt;
        t.speed.bps = t.speed.bps === 0 ? inst : 0.7 * t.speed.bps + 0.3 * inst;
      }
      t.speed.bytes = bytes;
      t.speed.at = now;
      const left = t.local.size - bytes;
      emit({
        type: "progress",
        file: t.path,
        transferId: t.transferId,
        bytesDone: bytes,
        size: t.local.size,
        speedBps: Math.round(t.speed.bps),
        etaSeconds: t.speed.bps > 0 ? left / t.speed.bps : null,
        retries: t.retries,
        concurrency: aimd.limit,
        partSize: t.planner.current,
      });
    }
  }, PROGRESS_EVERY_MS);

  const inFlightTotal = () => tasks.reduce((n, t) => n + t.inFlight, 0);

  try {
    // Hash and look up files one at a time (high priority first), while earlier ones already upload.
    const order = [...tasks].sort((a, b) => b.weight - a.weight);
    const preparing = (async () => {
      for (const t of order) {
        if (opts.stop.aborted) {
          fail(t, new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED));
          continue;
        }
        try {
          await prepare(t);
        } catch (err) {
          fail(t, err);
        }
        wake();
      }
    })();
    let prepared = false;
    preparing.then(() => {
      prepared = true;
      wake();
    });

    for (;;) {
      const woke = new Promise<void>((r) => {
        wake = r;
      });
      if (!opts.stop.aborted) {
        for (;;) {
          if (inFlightTotal() >= aimd.limit) break;
          const t = pick();
          if (!t) break;
          const peek = t.queue[0]?.size ?? t.planner.current;
          if (inFlightBytes > 0 && inFlightBytes + peek > opts.memoryBudget) break;
          void runPart(t, t.take());
        }
      }
      // Files with nothing left to send and nothing in flight get assembled.
      for (const t of tasks) {
        if (
          t.ready &&
          !t.finished &&
          !t.error &&
          !t.assembling &&
          t.inFlight === 0 &&
          t.queue.length === 0 &&
          t.tail === undefined
        ) {
          if (opts.stop.aborted) continue;
          t.assembling = true;
          void (async () => {
            try {
              const now = await statFile(t.path);
              if (now.size !== t.local.size || now.mtimeMs !== t.local.mtimeMs)
                throw new CliError(
                  "FILE_CHANGED",
                  `${t.path} changed while it was being sent; run the command again to send the new contents`,
                  EXIT.INTEGRITY,
                );
              await finishFile(t, false);
            } catch (err) {
              if (err instanceof CliError && err.code === "PARTS_MISSING") {
                // Storage lost something after it was recorded: ask again what is missing and send it.
                const m = await api.missing(t.transferId);
                for (const gap of m.missing) t.queue.push(...splitGap(gap, t.local.size, t.planner.current));
                t.assembling = false;
              } else fail(t, err);
            } finally {
              wake();
            }
          })();
        }
      }
      const active = tasks.some((t) => t.inFlight > 0 || (t.assembling && !t.finished && !t.error));
      const pending = tasks.some((t) => !t.finished && !t.error && (t.hasWork || !t.ready));
      if (!active && (!pending || opts.stop.aborted) && prepared) break;
      if (!active && !pending && !prepared) {
        await woke;
        continue;
      }
      await woke;
    }
  } finally {
    clearInterval(progressTimer);
    await Promise.all(tasks.map((t) => t.handle?.close().catch(() => {})));
  }
  for (const t of tasks)
    if (!results.has(t))
      results.set(t, {
        file: t.path,
        status: "interrupted",
        transferId: t.transferId || undefined,
        error: new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED),
      });
  return tasks.map((t) => results.get(t) as FileResult);
}
