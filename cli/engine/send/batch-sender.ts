/**
 * `sfts send PATH...`: the engine entry. Walks the paths into a manifest (one batch), then runs every file
 * as a FileTransfer under one Scheduler, with file entries, completions and presigns coalesced so a small
 * file costs two coordinator round trips shared with every other file of the same call:
 *
 *   walk → digest → hash files in parallel (high priority and small files first; small files up to
 *   INIT_AHEAD ahead of their PUTs) → entries to POST /batch
 *   (the first call, which also finds the batch of an earlier run by digest) and /batch/{id}/files →
 *   put: PUT when a slot frees → POST /batch/{id}/complete (coalesced, holds no slot) │ multipart: parts, records, assemble.
 *
 * A resumed batch (resumed:true) is listed once: files complete with the same SHA-256 need no call, open
 * ones are named by their transfer id. The batch journal saves re-hashing unchanged files.
 * The storage rules (GET /api/storage, storage-rules.ts) are asked for at the start, beside the walk and
 * the hashing; files wait for them before their first entry or part spec, and storage that is not serving
 * transfers stops the batch before anything is sent. Beside a long hashing pass (> 256 MiB) a cheap call
 * also checks server and token, so a wrong token or an unreachable server fails fast there too.
 */
import { setMaxListeners } from "node:events";
import type {
  BatchFileAnswer,
  BatchFileEntry,
  CompletedFile,
  CreateBatchResponse,
} from "../../../functions/contract/batches.js";
import { MAX_BATCH_CALL_FILES, MIN_PART_SIZE, MiB } from "../../../functions/contract/limits.js";
import type { FileSummary, Priority } from "../../../functions/contract/schemas.js";
import type { StorageInfo } from "../../../functions/contract/storage.js";
import { Bandwidth, PRIORITY_WEIGHT } from "../bandwidth.js";
import { BufferPool } from "../buffer-pool.js";
import type { ClientConfig } from "../config.js";
import { CliError, EXIT } from "../errors.js";
import type { NewEvent } from "../events.js";
import { linkEvents as throttledLinkEvents } from "../link-events.js";
import { DEFAULT_CEILING } from "../planner.js";
import type { RetryPolicy } from "../retry.js";
import { BatchJournal } from "./batch-journal.js";
import { Coalescer } from "./coalescer.js";
import { type FileResult, FileTransfer, type JournalLike, type TransferOptions } from "./file-transfer.js";
import { httpTransport } from "./http-transport.js";
import { type LocalFiles, nodeFiles } from "./local-files.js";
import { type Manifest, type SendInput, walk } from "./manifest.js";
import { Scheduler } from "./scheduler.js";
import { rulesOf } from "./storage-rules.js";
import type { Transport } from "./transport.js";

export type { FileResult } from "./file-transfer.js";
export type { SendInput } from "./manifest.js";

/** Above this much to hash, a cheap call checks server and token while hashing runs. */
export const CHECK_ABOVE_BYTES = 256 * MiB;
/** A call's JSON body stays well under the coordinator's 256 KiB cap. */
const MAX_CALL_BYTES = 200 * 1024;
const PROGRESS_EVERY_MS = 250;
/**
 * Entry and completion calls in flight at once: one gathers the next call's files while the other is
 * answered, so a 10,000-file batch (20 calls of 500) keeps the coordinator busy without waiting on it.
 */
export const CALLS_IN_FLIGHT = 2;
/**
 * The init-ahead window: small files hashed and entered but not PUT yet, at most. Entries run this far
 * ahead of the PUT slots, so an entry call gathers up to MAX_BATCH_CALL_FILES files instead of the few a
 * PUT slot frees meanwhile: room for the calls in flight, the one gathering, and files queued for the
 * PUT slots. Their bodies are also bounded by --memory (each holds its lease; beyond it, the window is
 * smaller).
 */
export const INIT_AHEAD = 4 * MAX_BATCH_CALL_FILES;
/** Entry calls wait for more files while the PUT slots have this many times --transfers files queued. */
export const RUNWAY_SLOTS = 2;
/** An entry waits at most this long for a fuller call. */
export const ENTRY_WAIT_MS = 1_000;
/** A completion waits at most this long for a fuller call. */
export const COMPLETE_WAIT_MS = 2_000;
/** The first call waits at most this long for files still being hashed (once per batch). */
export const FIRST_CALL_GATHER_MS = 50;

/**
 * Resolves when no file has been hashed for a moment (two looks 2 ms apart: a file just hashed still
 * checks its stat before its entry is submitted), or after `maxMs`.
 */
function hashingSettles(s: Scheduler, maxMs: number): Promise<void> {
  const until = performance.now() + maxMs;
  let idle = 0;
  return new Promise((resolve) => {
    const look = () => {
      idle = s.inFlight("hash") === 0 ? idle + 1 : 0;
      if (idle >= 2 || performance.now() >= until) resolve();
      else setTimeout(look, 2);
    };
    look();
  });
}

export interface EngineOptions {
  concurrency: number;
  transfers: number;
  hashers: number;
  memoryBudget: number;
  adaptive: boolean;
  partSize: number;
  maxPartSize?: number | undefined;
  retry: RetryPolicy;
  /** Entry and completion calls in flight at once. */
  callsInFlight?: number;
  /** Small files hashed and entered ahead of their PUT, at most (default INIT_AHEAD). */
  initAhead?: number;
}

export interface BatchResult {
  batchId?: string | undefined;
  resumed: boolean;
  files: FileResult[];
  /** A batch-wide failure (no batch, token refused…): every file failed with it. */
  fatal?: CliError | undefined;
}

export interface BatchDeps {
  transport: Transport;
  files: LocalFiles;
  emit: (e: NewEvent) => void;
  stop: AbortSignal;
  abort: AbortSignal;
  journal?: (JournalLike & { batchId: string | undefined; flush(): void; remove(): void }) | undefined;
  /** The batch's priority (of the FILE arguments). */
  priority: Priority;
  /** GET /api/storage, already under way (send starts it beside the walk); else asked for here. */
  storage?: Promise<StorageInfo | undefined> | undefined;
  onScheduler?: (s: Scheduler) => void;
  onTransfers?: (t: FileTransfer[]) => void;
}

/** Failures of an entry call that no other call of the batch would escape either. */
const BATCH_WIDE: ReadonlySet<number> = new Set([EXIT.AUTH, EXIT.SERVER_UNREACHABLE, EXIT.NETWORK]);

/** Sends a walked manifest as one batch. Never rejects: failures are in the result. */
export async function sendBatch(manifest: Manifest, o: EngineOptions, deps: BatchDeps): Promise<BatchResult> {
  const { transport, emit } = deps;
  const halt = new AbortController();
  let fatal: CliError | undefined;
  const giveUp = (err: unknown) => {
    if (fatal) return;
    fatal =
      err instanceof CliError
        ? err
        : new CliError("UNEXPECTED", err instanceof Error ? err.message : String(err), EXIT.UNEXPECTED);
    halt.abort(fatal);
  };
  const stop = AbortSignal.any([deps.stop, halt.signal]);
  const abort = AbortSignal.any([deps.abort, halt.signal]);
  // Every waiting file listens to these: thousands of listeners are expected, not a leak.
  setMaxListeners(0, stop, abort, deps.stop, deps.abort);
  const linkEvents = throttledLinkEvents(emit);
  const scheduler = new Scheduler({
    concurrency: o.concurrency,
    transfers: o.transfers,
    hashers: o.hashers,
    memory: o.memoryBudget,
    ahead: Math.max(o.transfers, o.initAhead ?? INIT_AHEAD),
    partSize: {
      initial: o.partSize,
      min: MIN_PART_SIZE,
      max: Math.max(MIN_PART_SIZE, o.maxPartSize ?? DEFAULT_CEILING),
      adaptive: o.adaptive,
    },
    onDecision: linkEvents.push,
  });
  deps.onScheduler?.(scheduler);
  // The link watch (retry.ts) tells the link model when the link goes dark and comes back.
  const unheard = o.retry.link?.addListener(scheduler.link);
  const pool = new BufferPool(o.memoryBudget);
  const started = performance.now();
  // The storage rules: every file waits for them before its first entry or part spec.
  const rules = (deps.storage ?? transport.storage()).then(rulesOf);
  rules.catch((err: unknown) => {
    if (!deps.stop.aborted && !deps.abort.aborted) giveUp(err);
  });

  // ---- the batch: created (or found by digest) by the first call, which carries the first entries

  let batchId: string | undefined;
  let resumed = false;
  let created: Promise<void> | undefined;
  const listing = new Map<string, FileSummary>();
  const batchRequest = (files: BatchFileEntry[]) => ({
    name: manifest.name,
    digest: manifest.digest,
    fileCount: manifest.files.length,
    totalBytes: manifest.totalBytes,
    priority: deps.priority,
    ...(manifest.dirs.length && { dirs: manifest.dirs }),
    ...(files.length && { files }),
  });
  const onCreated = async (r: CreateBatchResponse) => {
    batchId = r.batchId;
    resumed = r.resumed;
    if (deps.journal) deps.journal.batchId = r.batchId;
    emit({
      type: "batch",
      phase: "start",
      batchId: r.batchId,
      name: manifest.name,
      files: manifest.files.length,
      bytes: manifest.totalBytes,
      skipped: manifest.skipped.length,
      dirs: manifest.dirs.length,
      resumed: r.resumed,
    });
    if (!r.resumed) return;
    // An earlier run of this batch: learn each path's transfer once, instead of asking file by file.
    try {
      let cursor: string | undefined;
      do {
        const page = await transport.listBatchFiles(r.batchId, cursor);
        for (const f of page.items) if (f.path !== undefined) listing.set(f.path, f);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    } catch (err) {
      if (abort.aborted) throw err;
      // Without the listing, every entry still resumes on the server (by path and content).
    }
  };
  const createBatch = async (files: BatchFileEntry[]): Promise<BatchFileAnswer[]> => {
    try {
      const r = await transport.createBatch(batchRequest(files));
      await onCreated(r);
      return r.files;
    } catch (err) {
      if (!deps.stop.aborted && !deps.abort.aborted) giveUp(err);
      throw err;
    }
  };

  /** An entry the listing answers without a call (complete, same content), or makes a resume of. */
  const fromListing = (e: BatchFileEntry): BatchFileAnswer | undefined => {
    const f = listing.get(e.path);
    if (!f || f.size !== e.size || f.sha256 !== e.sha256) return undefined;
    if (f.status === "complete")
      return { action: "done", path: e.path, transferId: f.id, deduplicated: false, file: f };
    if (f.status === "uploading" && e.resumeId === undefined) e.resumeId = f.id;
    return undefined;
  };

  const entries = new Coalescer<BatchFileEntry, BatchFileAnswer>(
    async (batch) => {
      let answers: BatchFileAnswer[];
      if (!created) {
        let answered: BatchFileAnswer[] = [];
        created = createBatch(batch).then((a) => {
          answered = a;
        });
        await created;
        answers = answered;
      } else {
        await created;
        const local = new Map<string, BatchFileAnswer>();
        for (const e of batch) {
          const a = fromListing(e);
          if (a) local.set(e.path, a);
        }
        const toSend = batch.filter((e) => !local.has(e.path));
        try {
          answers = toSend.length ? await transport.addFiles(batchId as string, toSend) : [];
        } catch (err) {
          if (err instanceof CliError && BATCH_WIDE.has(err.exitCode) && !deps.abort.aborted) giveUp(err);
          throw err;
        }
        answers = [...answers, ...local.values()];
      }
      const byPath = new Map(answers.map((a) => [a.path, a]));
      return batch.map((e) => {
        const a = byPath.get(e.path);
        if (!a) throw new CliError("BAD_ANSWER", `The server did not answer for ${e.path}`, EXIT.UNEXPECTED);
        return a;
      });
    },
    {
      maxItems: MAX_BATCH_CALL_FILES,
      maxWeight: MAX_CALL_BYTES,
      weigh: (e) => JSON.stringify(e).length + 1,
      maxInFlight: o.callsInFlight ?? CALLS_IN_FLIGHT,
      // The first call (POST /batch) carries every file whose hash is about to finish, not only the first.
      holdFirst: () => hashingSettles(scheduler, FIRST_CALL_GATHER_MS),
      // A call of fewer than MAX_BATCH_CALL_FILES leaves only when the PUT slots are about to run out of
      // files, or no file is being hashed or waiting to be (none will join it soon).
      ready: () =>
        scheduler.waiting("put") < RUNWAY_SLOTS * o.transfers ||
        (scheduler.inFlight("hash") === 0 &&
          scheduler.waiting("hash") === 0 &&
          scheduler.waiting("ahead") === 0 &&
          scheduler.waiting("memory") === 0),
      maxWaitMs: ENTRY_WAIT_MS,
    },
  );

  const completions = new Coalescer<string, CompletedFile>(
    async (ids) => {
      const answers = await transport.completeFiles(batchId as string, ids);
      const byId = new Map(answers.map((a) => [a.transferId, a]));
      return ids.map((id) => {
        const a = byId.get(id);
        if (!a) throw new CliError("BAD_ANSWER", `The server did not answer for ${id}`, EXIT.UNEXPECTED);
        return a;
      });
    },
    {
      maxItems: MAX_BATCH_CALL_FILES,
      maxInFlight: o.callsInFlight ?? CALLS_IN_FLIGHT,
      // A completion holds nothing, so it may wait for a fuller call, until the PUTs drain.
      ready: () => scheduler.inFlight("put") === 0 && scheduler.waiting("put") === 0,
      maxWaitMs: COMPLETE_WAIT_MS,
    },
  );
  scheduler.onChange(() => {
    entries.poke();
    completions.poke();
  });

  // ---- the files

  const topts: TransferOptions = {
    partSize: o.partSize,
    maxPartSize: o.maxPartSize,
    adaptive: o.adaptive,
    retry: o.retry,
    // Runners read and hash parts ahead of the slots, within --memory: enough for the highest limit.
    lookahead: Math.max(2, o.concurrency * 2),
    initParts: Math.max(4, Math.min(o.concurrency, 8) * 2),
  };
  const duplicates = new Map<string, Promise<void>>();
  const weight = (p: Priority) => PRIORITY_WEIGHT[p];
  const ordered = [...manifest.files].sort(
    (a, b) => weight(b.priority) - weight(a.priority) || a.size - b.size,
  );
  const transfers = ordered.map(
    (f) =>
      new FileTransfer(f, {
        transport,
        rules,
        files: deps.files,
        scheduler,
        pool,
        emit,
        init: (e) => entries.submit(e),
        complete: (id) => completions.submit(id),
        duplicates,
        journal: deps.journal,
        batchId: () => batchId ?? "",
        opts: topts,
        stop,
        abort,
        fatal: () => fatal,
      }),
  );
  deps.onTransfers?.(transfers);

  // Only beside a long hashing pass: a cheap call, so a wrong token does not wait for the hashes.
  const toHash = manifest.files.reduce((n, f) => n + (deps.journal?.lookup(f) ? 0 : f.size), 0);
  const check = toHash > CHECK_ABOVE_BYTES ? transport.check().catch(giveUp) : undefined;

  const progress = setInterval(() => {
    for (const t of transfers) {
      if (t.phase !== "sending") continue;
      const bytes = t.progressBytes;
      const s = speeds.get(t) ?? { bytes, at: performance.now(), bps: 0 };
      const now = performance.now();
      const dt = (now - s.at) / 1000;
      if (dt > 0) {
        const inst = Math.max(0, bytes - s.bytes) / dt;
        s.bps = s.bps === 0 ? inst : 0.7 * s.bps + 0.3 * inst;
      }
      s.bytes = bytes;
      s.at = now;
      speeds.set(t, s);
      t.speedBps = s.bps;
      emit({
        type: "progress",
        file: t.file.shown,
        transferId: t.transferId,
        bytesDone: bytes,
        size: t.file.size,
        speedBps: Math.round(s.bps),
        etaSeconds: s.bps > 0 ? (t.file.size - bytes) / s.bps : null,
        retries: t.retries,
        concurrency: scheduler.link.limit,
        partSize: t.partSize,
      });
    }
  }, PROGRESS_EVERY_MS);
  const speeds = new Map<FileTransfer, { bytes: number; at: number; bps: number }>();

  let results: FileResult[];
  try {
    if (transfers.length === 0) {
      // Only empty folders: the batch still records them.
      await createBatch([]).catch(() => {});
    }
    results = await Promise.all(transfers.map((t) => t.run()));
    await check;
  } finally {
    clearInterval(progress);
    unheard?.();
    linkEvents.flush();
  }

  if (fatal) {
    const f = fatal;
    emit({ type: "error", code: f.code, exitCode: f.exitCode, message: f.message });
  }
  const done = results.filter((r) => r.status === "done");
  if (deps.journal) {
    if (batchId && done.length === results.length && !fatal) deps.journal.remove();
    else deps.journal.flush();
  }
  if (batchId)
    emit({
      type: "batch",
      phase: "end",
      batchId,
      name: manifest.name,
      files: manifest.files.length,
      bytes: manifest.totalBytes,
      skipped: manifest.skipped.length,
      dirs: manifest.dirs.length,
      resumed,
      filesDone: done.length,
      filesFailed: results.filter((r) => r.status === "failed").length,
      filesInterrupted: results.filter((r) => r.status === "interrupted").length,
      bytesSent: results.reduce((n, r) => n + r.bytesSent, 0),
      seconds: (performance.now() - started) / 1000,
    });
  // Keep the original command-line order for the caller.
  const order = new Map(manifest.files.map((f, i) => [f.path, i]));
  results.sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
  return { batchId, resumed, files: results, fatal };
}

export interface SendOptions extends EngineOptions {
  inputs: SendInput[];
  exclude: string[];
  followSymlinks: boolean;
  /** Priority of the batch (the FILE arguments'). */
  priority: Priority;
  client: ClientConfig;
  limitRate: number | null;
  stallMs: number;
  emit: (e: NewEvent) => void;
  stop: AbortSignal;
  abort: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/** The command's engine call: walk, then send the manifest as one batch over HTTP. */
export async function send(opts: SendOptions): Promise<BatchResult & { manifest: Manifest }> {
  const bandwidth = new Bandwidth(opts.limitRate);
  const transport = httpTransport({
    client: opts.client,
    bandwidth,
    stallMs: opts.stallMs,
    abort: opts.abort,
    emit: opts.emit,
  });
  // The storage rules are on their way while the paths are walked.
  const storage = transport.storage();
  storage.catch(() => {});
  const manifest = await walk(opts.inputs, {
    exclude: opts.exclude,
    followSymlinks: opts.followSymlinks,
    onSkip: (s) => opts.emit({ type: "skip", file: s.file, reason: s.reason }),
  });
  for (const f of manifest.files) bandwidth.setWeight(f.shown, PRIORITY_WEIGHT[f.priority]);
  const journal = BatchJournal.open(opts.client.server, manifest.digest, opts.env ?? process.env);
  const r = await sendBatch(manifest, opts, {
    transport,
    files: nodeFiles,
    emit: opts.emit,
    stop: opts.stop,
    abort: opts.abort,
    journal,
    priority: opts.priority,
    storage,
  });
  return { ...r, manifest };
}
