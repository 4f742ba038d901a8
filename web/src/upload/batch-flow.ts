/**
 * One run of one batch (batch-run.ts), as `sfts send` runs it (cli/engine/send/batch-sender.ts): its
 * manifest digest (SHA-256 of manifestText) → the storage rules (storage-rules.ts: once per engine;
 * storage not serving transfers refuses the batch with the probe's sentence) → POST /batch (a new batch,
 * or the one of an earlier run found by its digest) → remembered in the resume store (batch-memory.ts)
 * → every file's run (file-upload.ts), entries and completions coalesced into bulk calls (batch-calls.ts)
 * → complete (forgotten by the resume store) or failed (some files failed: the rest are done; it stays
 * remembered, so picking the files again resumes it).
 *
 * A run stopped (pause, offline, cancel: its signal aborted) returns quietly: the engine has set the
 * phase. A failing link hands the batch to the engine's `linkLost` (it waits offline for the link).
 * The engine (engine.ts) starts runs and owns the phases between them; this module is the run itself.
 */
import type { Scheduler } from "../../../cli/engine/send/scheduler.js";
import { manifestText } from "../../../functions/contract/manifest.js";
import { abortable } from "./abortable.js";
import { batchCalls } from "./batch-calls.js";
import { recall, remember, rememberNoMore, rememberSoon } from "./batch-memory.js";
import type { BatchRun } from "./batch-run.js";
import { type FileContext, isLinkError } from "./file-upload.js";
import type { StorageRulesCache } from "./storage-rules.js";
import type { BatchPhase, UploadEngineOptions } from "./types.js";

/** What a batch's run needs of the engine that runs it. */
export interface BatchHost {
  readonly options: UploadEngineOptions;
  /** The scheduler every batch of the page shares. */
  readonly scheduler: Scheduler;
  readonly concurrency: number;
  readonly maxPartSize: number;
  now(): number;
  /** The storage rules (asked once per engine). */
  readonly storageRules: StorageRulesCache;
  /** Sets the batch's phase (the view hears of it at once). */
  setPhase(b: BatchRun, phase: BatchPhase): void;
  /** Progress moved (the view hears of it soon). */
  notify(): void;
  /** The link (or the server) is gone: the batch waits offline for it. */
  linkLost(b: BatchRun, err: unknown): void;
}

/** A run waits this long at most for an earlier run's part-record calls (UploadEngineOptions). */
const RECORD_SETTLE_MS = 10_000;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs the batch until it ends or `signal` stops it; never rejects for a failure of its own. */
export async function runBatch(host: BatchHost, b: BatchRun, signal: AbortSignal): Promise<void> {
  const { coordinator, digests, resume } = host.options;
  const sel = b.selection;
  try {
    if (!b.digest) {
      const text = manifestText(sel.files, sel.dirs);
      b.digest = await digests.sha256(new TextEncoder().encode(text));
    }
    const info = await host.storageRules.get();
    if (signal.aborted) return;
    const refused = host.storageRules.found(info);
    if (refused !== undefined) {
      b.error = refused;
      host.setPhase(b, "failed");
      return;
    }
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
    await recall(resume, b);
    if (signal.aborted) return;
    await remember(resume, b);
    if (signal.aborted) return;
    b.error = undefined;
    host.setPhase(b, "running");
    b.meter.mark();
    const calls = batchCalls(coordinator, created.batchId);
    const onAbort = () => calls.close(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const ctx: FileContext = {
      coordinator,
      storage: host.options.storage,
      hasher: host.options.hasher,
      digests,
      retry: host.options.retry,
      scheduler: host.scheduler,
      rules: info.rules,
      maxPartSize: host.maxPartSize,
      maxSinglePutSize: created.maxSinglePutSize,
      priority: b.priority,
      lookahead: Math.max(2, host.concurrency * 2),
      recordSettleMs: host.options.recordSettleMs ?? RECORD_SETTLE_MS,
      signal,
      now: host.now,
      entry: (e) => abortable(calls.entries.submit(e), signal),
      complete: (id) => abortable(calls.completions.submit(id), signal),
      uploaded: (n) => {
        b.uploadedBytes += n;
        b.meter.add(n);
        host.notify();
      },
      changed: () => host.notify(),
      identified: () => rememberSoon(resume, b),
    };
    let outcomes: string[];
    try {
      outcomes = await Promise.all(
        b.files.map((f) =>
          f.run(ctx).then((o) => {
            // The link (or the server) is gone: the whole run waits for it, not file by file.
            if (f.linkError && !signal.aborted) host.linkLost(b, f.linkError);
            return o;
          }),
        ),
      );
    } finally {
      signal.removeEventListener("abort", onAbort);
      calls.close(new Error("the run ended"));
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
      host.setPhase(b, "failed");
      await remember(resume, b);
      return;
    }
    rememberNoMore(b);
    host.setPhase(b, "complete");
    await resume.remove(b.digest).catch(() => {});
  } catch (err) {
    if (signal.aborted) return;
    if (isLinkError(err)) {
      host.linkLost(b, err);
      return;
    }
    b.error = message(err);
    host.setPhase(b, "failed");
  }
}
