/**
 * The browser's upload engine: each drop or pick is one batch, sent with the same calls and contract
 * as `sfts send` (cli/engine/send/batch-sender.ts), every batch of the page sharing one Scheduler (the
 * CLI's: connection slots by priority weight, the link model's concurrency and part size, the memory
 * budget). Ports only (types.ts): the adapters are wired by browser.ts, the tests use fakes.
 *
 * A batch's run: its manifest digest (SHA-256 of manifestText) → the storage rules (GET /api/storage,
 * once per engine; storage not serving transfers refuses every batch with the probe's sentence) →
 * POST /batch (a new batch, or the one of an earlier run found by its digest) → remembered in the
 * resume store → every file's run (file-upload.ts), entries and completions coalesced into bulk calls →
 * complete (forgotten by the resume store) or failed (some files failed: the rest are done; it stays
 * remembered, so picking the files again resumes it).
 *
 * Batch phases (types.ts BatchPhase):
 *   preparing ─▶ running ─▶ complete | failed
 *   running ⇄ paused     pause() stops the run (PUTs in flight aborted, hashing stopped); resume() runs
 *                        the batch again from POST /batch: the same path as a resume after a reload, but
 *                        SHA-256s and part records already known are kept in memory
 *   running ⇄ offline    setOnline(false) stops the run, setOnline(true) runs it again by itself; a run
 *                        stopped by a failing link (the coordinator unreachable) waits for the link watch's
 *                        "back", the browser's online event, or a while; while the link watch calls the
 *                        link dark, a running batch shows offline (its retries wait for the link)
 *   any ─▶ cancelled     cancel(): stopped, DELETE /batch/{id}, forgotten
 */
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import { Scheduler } from "../../../cli/engine/send/scheduler.js";
import type { BatchFileAnswer, CompletedFile } from "../../../functions/contract/batches.js";
import { MAX_BATCH_CALL_FILES, MIN_PART_SIZE, MiB } from "../../../functions/contract/limits.js";
import { manifestText } from "../../../functions/contract/manifest.js";
import type { Priority } from "../../../functions/contract/schemas.js";
import type { StorageInfo } from "../../../functions/contract/storage.js";
import { abortable } from "./abortable.js";
import { BatchRun } from "./batch-run.js";
import { Batcher } from "./batcher.js";
import { type FileContext, isLinkError } from "./file-upload.js";
import type {
  BatchPhase,
  EngineSnapshot,
  Selection,
  UnfinishedUpload,
  UploadEngineApi,
  UploadEngineOptions,
} from "./types.js";

/** Browsers open 6 connections per origin over HTTP/1.1. */
export const DEFAULT_CONCURRENCY = 6;
export const DEFAULT_MEMORY = 96 * MiB;
export const DEFAULT_MAX_PART_SIZE = 16 * MiB;
/** Files hashed at once (a small file read whole, or a large one's streaming pass in the worker). */
const HASHERS = 2;
/** Subscribers hear of progress at most this often (batch phase changes at once). */
const NOTIFY_EVERY_MS = 100;
/** Entries and completions wait this long for others to join their call (at most MAX_WAIT_MS). */
const QUIET_MS = 20;
const MAX_WAIT_MS = 250;
/** Transfer ids learnt from entry answers reach the resume store this soon (a reload may come any time). */
const REMEMBER_WITHIN_MS = 200;
/** A batch stopped by a failing link tries again this soon even if no word of the link comes. */
const OFFLINE_RETRY_MS = 30_000;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class UploadEngine implements UploadEngineApi {
  private readonly batches = new Map<string, BatchRun>();
  private readonly listeners = new Set<(s: EngineSnapshot) => void>();
  private readonly scheduler: Scheduler;
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly maxPartSize: number;
  private storageInfo: Promise<StorageInfo> | undefined;
  private refused: string | undefined;
  private online = true;
  /** The link watch calls the link dark (retries wait for it). */
  private dark = false;
  private nextKey = 1;
  private notifyTimer: ReturnType<typeof setTimeout> | undefined;
  private lastNotify = 0;

  constructor(private readonly options: UploadEngineOptions) {
    this.now = options.now ?? (() => performance.now());
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.maxPartSize = options.maxPartSize ?? DEFAULT_MAX_PART_SIZE;
    const memory = options.memory ?? DEFAULT_MEMORY;
    this.scheduler = new Scheduler({
      concurrency: this.concurrency,
      transfers: this.concurrency,
      hashers: HASHERS,
      memory,
      initialConcurrency: this.concurrency,
      partSize: {
        initial: Math.min(8 * MiB, this.maxPartSize),
        min: Math.min(MIN_PART_SIZE, this.maxPartSize),
        max: this.maxPartSize,
        adaptive: true,
      },
      now: this.now,
      onDecision: () => this.notify(),
    });
    const link = options.retry.link;
    if (link && typeof link.addListener === "function") {
      link.addListener(this.scheduler.link);
      link.addListener({
        outage: () => {
          this.dark = true;
          this.notify(true);
        },
        back: () => {
          this.dark = false;
          this.wakeOffline();
          this.notify(true);
        },
      });
    }
  }

  /** The scheduler every batch shares (tests look at its peaks). */
  get sharedScheduler(): Scheduler {
    return this.scheduler;
  }

  // ---- the public face

  add(selection: Selection, priority: Priority): string {
    const key = `b${this.nextKey++}`;
    const b = new BatchRun(key, selection, priority, this.now);
    this.batches.set(key, b);
    if (!this.online) b.phase = "offline";
    else this.start(b);
    this.notify(true);
    return key;
  }

  pause(key: string): void {
    const b = this.batches.get(key);
    if (!b || (b.phase !== "running" && b.phase !== "preparing" && b.phase !== "offline")) return;
    this.stop(b, "paused");
  }

  resume(key: string): void {
    const b = this.batches.get(key);
    if (!b || (b.phase !== "paused" && b.phase !== "offline")) return;
    if (!this.online) {
      b.phase = "offline";
      this.notify(true);
      return;
    }
    this.restart(b);
  }

  async cancel(key: string): Promise<void> {
    const b = this.batches.get(key);
    if (!b || b.phase === "complete" || b.phase === "cancelled") return;
    this.stop(b, "cancelled");
    if (b.rememberTimer) clearTimeout(b.rememberTimer);
    b.rememberTimer = undefined;
    await b.running;
    for (const f of b.files) f.cancel();
    if (b.batchId) await this.options.coordinator.cancelBatch(b.batchId).catch(() => {});
    if (b.digest) await this.options.resume.remove(b.digest).catch(() => {});
    this.notify(true);
  }

  dismiss(key: string): void {
    const b = this.batches.get(key);
    if (!b?.ended) return;
    this.batches.delete(key);
    this.notify(true);
  }

  subscribe(listener: (s: EngineSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  setOnline(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    if (!online) {
      for (const b of this.batches.values())
        if (b.phase === "running" || b.phase === "preparing") this.stop(b, "offline");
    } else this.wakeOffline();
    this.notify(true);
  }

  async unfinished(): Promise<UnfinishedUpload[]> {
    const here = new Set<string>();
    for (const b of this.batches.values()) if (b.digest && b.phase !== "cancelled") here.add(b.digest);
    return (await this.options.resume.list()).filter((u) => !here.has(u.digest));
  }

  async discard(digest: string): Promise<void> {
    const u = (await this.options.resume.list()).find((x) => x.digest === digest);
    if (u) {
      try {
        await this.options.coordinator.cancelBatch(u.batchId);
      } catch (err) {
        // Gone already (cancelled elsewhere, or expired): forgetting it is all that is left.
        const gone =
          err instanceof CliError &&
          (err.code === "NOT_FOUND" || err.code === "INVALID_STATE" || err.exitCode === EXIT.NOT_FOUND);
        if (!gone) throw err;
      }
    }
    await this.options.resume.remove(digest);
  }

  snapshot(): EngineSnapshot {
    const batches = [...this.batches.values()].map((b) => b.view(this.dark));
    const counted = batches.filter((b) => b.phase !== "cancelled");
    const totalBytes = counted.reduce((n, b) => n + b.totalBytes, 0);
    const sentBytes = counted.reduce((n, b) => n + b.sentBytes, 0);
    const speedBps = counted.reduce((n, b) => n + b.speedBps, 0);
    let partSize = this.scheduler.link.partSize;
    for (const b of this.batches.values())
      for (const f of b.files) if (f.phase === "sending" && f.partSize !== undefined) partSize = f.partSize;
    return {
      batches,
      ...(this.refused !== undefined && { refused: this.refused }),
      online: this.online,
      totals: {
        totalBytes,
        sentBytes,
        speedBps,
        etaSeconds: speedBps > 0 ? Math.max(0, totalBytes - sentBytes) / speedBps : null,
      },
      link: { concurrency: this.scheduler.link.limit, partSize },
    };
  }

  // ---- notifications

  private notify(immediate = false): void {
    if (immediate) {
      this.emit();
      return;
    }
    if (this.notifyTimer) return;
    const wait = Math.max(0, this.lastNotify + NOTIFY_EVERY_MS - Date.now());
    this.notifyTimer = setTimeout(() => this.emit(), wait);
  }

  private emit(): void {
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    this.notifyTimer = undefined;
    this.lastNotify = Date.now();
    if (this.listeners.size === 0) return;
    const s = this.snapshot();
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (err) {
        // A view's failure is the view's: the uploads go on (this runs inside their flow).
        console.error("upload engine: a subscriber failed", err);
      }
    }
  }

  // ---- runs

  private setPhase(b: BatchRun, phase: BatchPhase): void {
    b.phase = phase;
    this.notify(true);
  }

  private start(b: BatchRun): void {
    if (b.wake) clearTimeout(b.wake);
    b.wake = undefined;
    if (b.running) {
      b.again = true;
      return;
    }
    const ctl = new AbortController();
    b.ctl = ctl;
    b.running = this.runBatch(b, ctl.signal)
      .catch(() => {})
      .finally(() => {
        b.running = undefined;
        if (b.again) {
          b.again = false;
          if (b.phase === "running" || b.phase === "preparing") this.start(b);
        }
        this.notify(true);
      });
  }

  private restart(b: BatchRun): void {
    b.error = undefined;
    this.setPhase(b, b.batchId ? "running" : "preparing");
    this.start(b);
  }

  private stop(b: BatchRun, phase: BatchPhase): void {
    b.again = false;
    if (b.wake) clearTimeout(b.wake);
    b.wake = undefined;
    b.ctl?.abort(new CliError("INTERRUPTED", `The upload was ${phase}`, EXIT.INTERRUPTED));
    this.setPhase(b, phase);
    if (phase !== "cancelled") void this.remember(b);
  }

  /** Batches waiting for the link: they run again (the browser is online, the link is back). */
  private wakeOffline(): void {
    if (!this.online) return;
    for (const b of this.batches.values()) if (b.phase === "offline") this.restart(b);
  }

  /** A run stopped by a failing link: offline until the link is back (or a while has passed). */
  private linkLost(b: BatchRun, err: unknown): void {
    if (b.ctl?.signal.aborted) return;
    b.ctl?.abort(err);
    b.error = message(err);
    this.setPhase(b, "offline");
    void this.remember(b);
    if (b.wake) clearTimeout(b.wake);
    b.wake = setTimeout(() => {
      b.wake = undefined;
      if (b.phase === "offline" && this.online) this.restart(b);
    }, OFFLINE_RETRY_MS);
  }

  private rules(): Promise<StorageInfo> {
    if (!this.storageInfo) {
      const asked = this.options.coordinator.storage();
      this.storageInfo = asked;
      asked.catch(() => {
        if (this.storageInfo === asked) this.storageInfo = undefined;
      });
    }
    return this.storageInfo;
  }

  /** Transfer ids learnt: remembered soon, in one write for the files answered together. */
  private rememberSoon(b: BatchRun): void {
    if (b.rememberTimer) return;
    b.rememberTimer = setTimeout(() => {
      b.rememberTimer = undefined;
      if (b.phase !== "cancelled" && b.phase !== "complete") void this.remember(b);
    }, REMEMBER_WITHIN_MS);
  }

  private async remember(b: BatchRun): Promise<void> {
    if (!b.digest || !b.batchId) return;
    const files = b.selection.files;
    await this.options.resume
      .put({
        digest: b.digest,
        batchId: b.batchId,
        name: b.selection.name,
        fileCount: files.length,
        totalBytes: b.totalBytes,
        kind: files.some((f) => f.path.includes("/")) ? "folder" : "files",
        files: b.files.map((f) => ({
          path: f.path,
          size: f.picked.size,
          ...(f.transferId !== undefined && { transferId: f.transferId }),
        })),
        startedAt: b.startedAt,
        updatedAt: new Date().toISOString(),
      })
      .catch(() => {});
  }

  private async runBatch(b: BatchRun, signal: AbortSignal): Promise<void> {
    const { coordinator, digests, resume } = this.options;
    const sel = b.selection;
    try {
      if (!b.digest) {
        const text = manifestText(sel.files, sel.dirs);
        b.digest = await digests.sha256(new TextEncoder().encode(text));
      }
      const info = await this.rules();
      if (signal.aborted) return;
      if (!info.serving) {
        // Asked again for the next batch: storage may be fixed meanwhile (the page need not reload).
        this.storageInfo = undefined;
        this.refused = info.probe.message;
        b.error = info.probe.message;
        this.setPhase(b, "failed");
        return;
      }
      this.refused = undefined;
      const created = await coordinator.createBatch({
        name: sel.name,
        digest: b.digest,
        fileCount: sel.files.length,
        totalBytes: b.totalBytes,
        priority: b.priority,
        ...(sel.dirs.length > 0 && { dirs: sel.dirs }),
      });
      b.batchId = created.batchId;
      b.maxSinglePutSize = created.maxSinglePutSize;
      if (signal.aborted) return;
      // Picked again after a reload: each file's entry names the transfer this browser remembers, so
      // the coordinator goes on with that very upload (as the CLI's journal, or its batch listing, does).
      const known = (await resume.list().catch(() => [])).find((u) => u.digest === b.digest);
      for (const f of b.files) {
        if (f.transferId !== undefined) continue;
        const was = known?.files.find((x) => x.path === f.path && x.size === f.picked.size);
        if (was?.transferId !== undefined) f.transferId = was.transferId;
      }
      if (signal.aborted) return;
      await this.remember(b);
      if (signal.aborted) return;
      b.error = undefined;
      this.setPhase(b, "running");
      b.meter.mark();
      const batchId = created.batchId;
      const entries = new Batcher<Parameters<FileContext["entry"]>[0], BatchFileAnswer>(
        async (es) => {
          const answers = await coordinator.addFiles(batchId, es);
          const byPath = new Map(answers.map((a) => [a.path, a]));
          return es.map((e) => {
            const a = byPath.get(e.path);
            if (!a)
              throw new CliError("BAD_ANSWER", `The server did not answer for ${e.path}`, EXIT.UNEXPECTED);
            return a;
          });
        },
        { maxItems: MAX_BATCH_CALL_FILES, quietMs: QUIET_MS, maxWaitMs: MAX_WAIT_MS },
      );
      const completions = new Batcher<string, CompletedFile>(
        async (ids) => {
          const answers = await coordinator.completeFiles(batchId, ids);
          const byId = new Map(answers.map((a) => [a.transferId, a]));
          return ids.map((id) => {
            const a = byId.get(id);
            if (!a) throw new CliError("BAD_ANSWER", `The server did not answer for ${id}`, EXIT.UNEXPECTED);
            return a;
          });
        },
        { maxItems: MAX_BATCH_CALL_FILES, quietMs: QUIET_MS, maxWaitMs: MAX_WAIT_MS },
      );
      const onAbort = () => {
        entries.close(signal.reason);
        completions.close(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const ctx: FileContext = {
        coordinator,
        storage: this.options.storage,
        hasher: this.options.hasher,
        digests,
        retry: this.options.retry,
        scheduler: this.scheduler,
        rules: info.rules,
        maxPartSize: this.maxPartSize,
        maxSinglePutSize: created.maxSinglePutSize,
        priority: b.priority,
        lookahead: Math.max(2, this.concurrency * 2),
        signal,
        now: this.now,
        entry: (e) => abortable(entries.submit(e), signal),
        complete: (id) => abortable(completions.submit(id), signal),
        uploaded: (n) => {
          b.uploadedBytes += n;
          b.meter.add(n);
          this.notify();
        },
        changed: () => this.notify(),
        identified: () => this.rememberSoon(b),
      };
      let outcomes: string[];
      try {
        outcomes = await Promise.all(
          b.files.map((f) =>
            f.run(ctx).then((o) => {
              // The link (or the server) is gone: the whole run waits for it, not file by file.
              if (f.linkError && !signal.aborted) this.linkLost(b, f.linkError);
              return o;
            }),
          ),
        );
      } finally {
        signal.removeEventListener("abort", onAbort);
        entries.close(new Error("the run ended"));
        completions.close(new Error("the run ended"));
      }
      if (signal.aborted) return;
      const failed = outcomes.filter((o) => o === "failed").length;
      if (failed > 0) {
        // Every file failed the same way (a refused token, say): that sentence is the batch's.
        const causes = new Set(b.files.map((f) => f.cause).filter((x) => x !== undefined));
        b.error =
          failed < b.files.length
            ? `${failed} of ${b.files.length} files failed; the others are stored`
            : causes.size === 1
              ? [...causes][0]
              : `All ${failed} files failed`;
        this.setPhase(b, "failed");
        await this.remember(b);
        return;
      }
      if (b.rememberTimer) clearTimeout(b.rememberTimer);
      b.rememberTimer = undefined;
      this.setPhase(b, "complete");
      await resume.remove(b.digest).catch(() => {});
    } catch (err) {
      if (signal.aborted) return;
      if (isLinkError(err)) {
        this.linkLost(b, err);
        return;
      }
      b.error = message(err);
      this.setPhase(b, "failed");
    }
  }
}
