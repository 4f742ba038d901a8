/**
 * The browser's upload engine: each drop or pick is one batch, sent with the same calls and contract
 * as `sfts send` (cli/engine/send/batch-sender.ts), every batch of the page sharing one Scheduler (the
 * CLI's: connection slots by priority weight, the link model's concurrency and part size, the memory
 * budget; page-scheduler.ts). Ports only (types.ts): the adapters are wired by browser.ts, the tests
 * use fakes.
 *
 * This class starts and stops runs and owns the phases between them. A batch's run (its digest, POST
 * /batch, every file's run, complete or failed) is batch-flow.ts; what the resume store keeps of it,
 * batch-memory.ts; the shared storage rules, storage-rules.ts; what the page sees, engine-snapshot.ts,
 * sent to subscribers by notifier.ts.
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
import type { Scheduler } from "../../../cli/engine/send/scheduler.js";
import type { Priority } from "../../../functions/contract/schemas.js";
import { type BatchHost, runBatch } from "./batch-flow.js";
import { remember, rememberNoMore } from "./batch-memory.js";
import { BatchRun } from "./batch-run.js";
import { engineSnapshot } from "./engine-snapshot.js";
import { Notifier } from "./notifier.js";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_PART_SIZE,
  DEFAULT_MEMORY,
  pageScheduler,
} from "./page-scheduler.js";
import { StorageRulesCache } from "./storage-rules.js";
import type {
  BatchPhase,
  EngineSnapshot,
  Selection,
  UnfinishedUpload,
  UploadEngineApi,
  UploadEngineOptions,
} from "./types.js";

export { DEFAULT_CONCURRENCY, DEFAULT_MAX_PART_SIZE, DEFAULT_MEMORY } from "./page-scheduler.js";

/** Subscribers hear of progress at most this often (batch phase changes at once). */
const NOTIFY_EVERY_MS = 100;
/** A batch stopped by a failing link tries again this soon even if no word of the link comes. */
const OFFLINE_RETRY_MS = 30_000;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class UploadEngine implements UploadEngineApi {
  private readonly batches = new Map<string, BatchRun>();
  private readonly notifier = new Notifier<EngineSnapshot>(() => this.snapshot(), NOTIFY_EVERY_MS);
  private readonly scheduler: Scheduler;
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly maxPartSize: number;
  private readonly storageRules: StorageRulesCache;
  private online = true;
  /** The link watch calls the link dark (retries wait for it). */
  private dark = false;
  private nextKey = 1;
  /** What a batch's run (batch-flow.ts) needs of the engine. */
  private readonly host: BatchHost;

  constructor(private readonly options: UploadEngineOptions) {
    this.now = options.now ?? (() => performance.now());
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.maxPartSize = options.maxPartSize ?? DEFAULT_MAX_PART_SIZE;
    this.storageRules = new StorageRulesCache(options.coordinator);
    this.scheduler = pageScheduler({
      concurrency: this.concurrency,
      maxPartSize: this.maxPartSize,
      memory: options.memory ?? DEFAULT_MEMORY,
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
    this.host = {
      options,
      scheduler: this.scheduler,
      concurrency: this.concurrency,
      maxPartSize: this.maxPartSize,
      now: this.now,
      storageRules: this.storageRules,
      setPhase: (b, phase) => this.setPhase(b, phase),
      notify: () => this.notify(),
      linkLost: (b, err) => this.linkLost(b, err),
    };
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
    rememberNoMore(b);
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
    return this.notifier.subscribe(listener);
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
    return engineSnapshot({
      batches: this.batches.values(),
      dark: this.dark,
      online: this.online,
      refused: this.storageRules.refused,
      link: this.scheduler.link,
    });
  }

  // ---- runs

  private notify(immediate = false): void {
    this.notifier.notify(immediate);
  }

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
    b.running = runBatch(this.host, b, ctl.signal)
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
    if (phase !== "cancelled") void remember(this.options.resume, b);
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
    void remember(this.options.resume, b);
    if (b.wake) clearTimeout(b.wake);
    b.wake = setTimeout(() => {
      b.wake = undefined;
      if (b.phase === "offline" && this.online) this.restart(b);
    }, OFFLINE_RETRY_MS);
  }
}
