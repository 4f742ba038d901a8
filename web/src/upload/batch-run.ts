/**
 * One batch of the engine (one drop or pick): its files' uploads, where its run stands (phase, the
 * server's batch id, the manifest digest), what moved (bytes PUT this session, retries, the speed
 * meter), and the handles of its current run (abort controller, the run's promise, timers). The engine
 * (engine.ts) drives it; `view()` is what the page sees of it. No I/O.
 */
import type { Priority } from "../../../functions/contract/schemas.js";
import { FileUpload } from "./file-upload.js";
import { SpeedMeter } from "./meter.js";
import type { BatchPhase, BatchView, Selection } from "./types.js";

export class BatchRun {
  phase: BatchPhase = "preparing";
  batchId: string | undefined;
  digest: string | undefined;
  maxSinglePutSize: number | undefined;
  error: string | undefined;
  uploadedBytes = 0;
  retries = 0;
  readonly files: FileUpload[];
  readonly meter: SpeedMeter;
  readonly startedAt = new Date().toISOString();
  ctl: AbortController | undefined;
  running: Promise<void> | undefined;
  /** Run again once the run in progress has unwound (a resume came before it had). */
  again = false;
  wake: ReturnType<typeof setTimeout> | undefined;
  rememberTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly key: string,
    readonly selection: Selection,
    readonly priority: Priority,
    now: () => number,
  ) {
    this.files = selection.files.map((f) => new FileUpload(f));
    for (const f of this.files)
      f.onRetry = () => {
        this.retries++;
      };
    this.meter = new SpeedMeter(now);
  }

  get totalBytes(): number {
    return this.selection.files.reduce((n, f) => n + f.size, 0);
  }

  get ended(): boolean {
    return this.phase === "complete" || this.phase === "cancelled" || this.phase === "failed";
  }

  /** What the view shows of it; `dark`: the link watch calls the link dark (a running batch waits). */
  view(dark: boolean): BatchView {
    const files = this.files.map((f) => f.view());
    const totalBytes = this.totalBytes;
    const doneBytes = files.reduce((n, f) => n + f.doneBytes, 0);
    const sentBytes = files.reduce((n, f) => n + f.sentBytes, 0);
    const speedBps = this.phase === "running" ? this.meter.bps() : 0;
    const phase: BatchPhase = this.phase === "running" && dark ? "offline" : this.phase;
    return {
      key: this.key,
      ...(this.batchId !== undefined && { batchId: this.batchId }),
      name: this.selection.name,
      priority: this.priority,
      phase,
      files,
      totalBytes,
      doneBytes,
      sentBytes,
      uploadedBytes: this.uploadedBytes,
      speedBps,
      etaSeconds: speedBps > 0 ? Math.max(0, totalBytes - sentBytes) / speedBps : null,
      retries: this.retries,
      ...(this.error !== undefined && { error: this.error }),
      problems: this.selection.problems,
    };
  }
}
