/**
 * One file of a batch, as an explicit state machine. Every phase change goes through `enter`, checked
 * against TRANSITIONS; each phase has one handler that does its work and names the next phase:
 *
 *   queued ──▶ hashing ──▶ (waiting-duplicate ──▶) initialising ──▶ sending ──▶ finishing ──▶ done
 *                                                        │  ▲            │  ▲        │
 *                                                        │  └─ new URL ──┘  └─ again ┘ (not stored / parts missing)
 *                                                        └──▶ finishing or done (stored already, deduplicated)
 *   any phase ──▶ failed (the server is told why) | interrupted (stays resumable, nothing is called)
 *
 * hashing      the journal's SHA-256 if the file is unchanged, else one read: small files whole (kept in
 *              memory for their PUT), big ones streamed, hashing their first parts in the same pass.
 * waiting-     a file of the batch with the same SHA-256 and size went first: wait until it ends, then
 * duplicate    initialise (the coordinator dedupes it).
 * initialising the entry goes out with others (coalesced): done, put (presigned PutObject) or multipart.
 * sending      single: one PUT. multipart: runners read and hash parts ahead (within the memory budget),
 *              get their URLs ahead (the first from the init answer), and PUT when the scheduler grants a
 *              slot; part records ride on the next presign call or a bulk record call, never in a slot.
 * finishing    single: completion (coalesced); multipart: assemble with the last records.
 */
import { setMaxListeners } from "node:events";
import { basename } from "node:path";
import type { BatchFileAnswer, BatchFileEntry, CompletedFile } from "../../../functions/contract/batches.js";
import {
  MAX_INIT_PARTS,
  MAX_PARTS,
  MAX_PRESIGN_BATCH,
  MAX_RECORD_BATCH,
  MAX_SINGLE_PUT_SIZE,
} from "../../../functions/contract/limits.js";
import type {
  InitResponse,
  MissingRange,
  PartRecordSpec,
  PartSpec,
  PresignedPart,
  Priority,
  UnrecordedPart,
} from "../../../functions/contract/schemas.js";
import type { BufferPool } from "../buffer-pool.js";
import { CliError, EXIT } from "../errors.js";
import type { NewEvent } from "../events.js";
import { changedError, sha256Hex } from "../file-io.js";
import { PartPlanner, type PlannedPart, splitGap } from "../planner.js";
import { type RetryPolicy, withRetries } from "../retry.js";
import { Coalescer } from "./coalescer.js";
import type { LocalFiles, OpenFile } from "./local-files.js";
import type { ManifestFile } from "./manifest.js";
import type { Lease, Scheduler } from "./scheduler.js";
import type { ClientReport, Transport } from "./transport.js";

export type Phase =
  | "queued"
  | "hashing"
  | "waiting-duplicate"
  | "initialising"
  | "sending"
  | "finishing"
  | "done"
  | "failed"
  | "interrupted";

const ENDS: Phase[] = ["failed", "interrupted"];
export const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  queued: ["hashing", ...ENDS],
  hashing: ["waiting-duplicate", "initialising", ...ENDS],
  "waiting-duplicate": ["initialising", ...ENDS],
  initialising: ["sending", "finishing", "done", ...ENDS],
  sending: ["initialising", "finishing", ...ENDS],
  finishing: ["sending", "done", ...ENDS],
  done: [],
  failed: [],
  interrupted: [],
};

export interface TransferOptions {
  /** Files up to this size go as one PUT; larger ones as parts of about this size. */
  partSize: number;
  maxPartSize?: number | undefined;
  adaptive: boolean;
  retry: RetryPolicy;
  /** Parts of one file read ahead (held in memory, URLs fetched) beyond those in flight. */
  lookahead: number;
  /** Parts hashed in the hashing pass and presigned in the init answer. */
  initParts: number;
}

export interface JournalLike {
  lookup(f: ManifestFile): { sha256: string; transferId?: string } | undefined;
  record(f: ManifestFile, sha256: string, transferId?: string, urgent?: boolean): void;
}

/** What a file transfer needs from its batch. */
export interface TransferContext {
  transport: Transport;
  files: LocalFiles;
  scheduler: Scheduler;
  pool: BufferPool;
  emit: (e: NewEvent) => void;
  /** The file's entry, coalesced with others into POST /batch or /batch/{id}/files. */
  init(entry: BatchFileEntry): Promise<BatchFileAnswer>;
  /** Completion of a single PUT, coalesced into POST /batch/{id}/complete. */
  complete(transferId: string): Promise<CompletedFile>;
  /** sha256:size → settles when the first file of the batch with that content ends. */
  duplicates: Map<string, Promise<void>>;
  journal?: JournalLike | undefined;
  batchId(): string;
  opts: TransferOptions;
  /** Start nothing new (first Ctrl-C, or the batch failed). */
  stop: AbortSignal;
  /** Abort what is in flight too. */
  abort: AbortSignal;
  /** The batch-wide failure that stopped everything, if any (reported once by the batch). */
  fatal(): CliError | undefined;
}

export interface FileResult {
  file: string;
  path: string;
  status: "done" | "failed" | "interrupted";
  size: number;
  transferId?: string | undefined;
  sha256?: string | undefined;
  deduplicated: boolean;
  bytesSent: number;
  error?: CliError | undefined;
}

const PART_REPEATS = 3;
/** Whole-file buffers below this are allocated to size, not taken from the 8 MiB-rounded pool. */
export const SMALL_BODY = 1024 * 1024;
/** Records no presign call took go in bulk this soon (the dashboard's progress, and a crash, want them). */
const RECORD_WITHIN_MS = 250;
/** A URL with less life than this left is not started on (it may wait for a slot meanwhile). */
const URL_MARGIN_MS = 2_000;
const interrupted = () => new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);

interface PendingRecord {
  spec: PartRecordSpec;
  seconds: number;
  attempt: number;
}

export class FileTransfer {
  phase: Phase = "queued";
  /** Every phase entered, in order (for tests and --verbose). */
  readonly history: Phase[] = ["queued"];
  readonly weight: number;
  readonly kind: "single" | "multipart";
  sha256 = "";
  transferId = "";
  resumed = false;
  deduplicated = false;
  bytesSent = 0;
  /** Bytes storage holds (recorded, resumed or PUT this run). */
  bytesStored = 0;
  retries = 0;
  speedBps = 0;
  private lastError: string | undefined;
  private readonly inFlightWritten = new Map<number, number>();
  private readonly started = performance.now();
  private error: CliError | undefined;

  // single
  private body: Buffer | undefined;
  /** The body's buffer came from the pool (else an exact-size allocation, for a small file). */
  private bodyPooled = false;
  private bodyLease: Lease | undefined;
  /** Its place in the init-ahead window, from before hashing to the end of its PUT. */
  private aheadLease: Lease | undefined;
  private answer: BatchFileAnswer | undefined;
  private putRepeats = 0;

  // multipart
  private planner: PartPlanner | undefined;
  private firstParts: PartSpec[] = [];
  private queue: PlannedPart[] = [];
  private tail: { offset: number; next: number } | undefined;
  private readonly urls = new Map<number, PresignedPart>();
  private unsent: PendingRecord[] = [];
  private recording: Promise<void> | undefined;
  private handle: OpenFile | undefined;
  private presigner: Coalescer<PartSpec, PresignedPart> | undefined;
  private partFailure: unknown;
  private readonly local = new AbortController();
  private assembleRepeats = 0;

  private settledResolve: () => void = () => {};
  /** Settles when the file ends, however it ends. */
  readonly settled = new Promise<void>((r) => {
    this.settledResolve = r;
  });

  constructor(
    readonly file: ManifestFile,
    private readonly ctx: TransferContext,
  ) {
    this.weight = { high: 4, normal: 2, low: 1 }[file.priority];
    this.kind = file.size <= Math.min(ctx.opts.partSize, MAX_SINGLE_PUT_SIZE) ? "single" : "multipart";
  }

  get priority(): Priority {
    return this.file.priority;
  }

  /** Stored bytes plus what parts and PUTs in flight have written. */
  get progressBytes(): number {
    let b = this.bytesStored;
    for (const w of this.inFlightWritten.values()) b += w;
    return Math.min(b, this.file.size);
  }

  get partSize(): number {
    return this.planner?.current ?? this.ctx.opts.partSize;
  }

  private enter(next: Phase): void {
    if (!TRANSITIONS[this.phase].includes(next))
      throw new Error(`file transfer: no transition from ${this.phase} to ${next}`);
    this.phase = next;
    this.history.push(next);
  }

  private combined: AbortSignal | undefined;
  /** Aborts this file's calls and PUTs: on a hard stop, or when the file fails. */
  private get signal(): AbortSignal {
    if (!this.combined) {
      this.combined = AbortSignal.any([this.ctx.abort, this.local.signal]);
      setMaxListeners(0, this.combined);
    }
    return this.combined;
  }

  private checkStop(): void {
    const fatal = this.ctx.fatal();
    if (fatal) throw fatal;
    if (this.ctx.stop.aborted || this.ctx.abort.aborted) throw interrupted();
  }

  /** Runs the file to its end; never rejects. */
  async run(): Promise<FileResult> {
    try {
      for (;;) {
        switch (this.phase) {
          case "queued":
            await this.onQueued();
            break;
          case "hashing":
            await this.onHashing();
            break;
          case "waiting-duplicate":
            await this.onWaitingDuplicate();
            break;
          case "initialising":
            await this.onInitialising();
            break;
          case "sending":
            await (this.kind === "single" ? this.onSendingSingle() : this.onSendingParts());
            break;
          case "finishing":
            await (this.answer?.action === "put" ? this.onFinishingSingle() : this.onFinishingParts());
            break;
          default:
            return this.result();
        }
      }
    } catch (err) {
      await this.settle(err);
      return this.result();
    } finally {
      if (this.recordTimer) clearTimeout(this.recordTimer);
      this.releaseBody();
      this.releaseAhead();
      await this.handle?.close();
      this.handle = undefined;
      this.settledResolve();
    }
  }

  private result(): FileResult {
    return {
      file: this.file.shown,
      path: this.file.path,
      status: this.phase === "done" ? "done" : this.phase === "interrupted" ? "interrupted" : "failed",
      size: this.file.size,
      transferId: this.transferId || undefined,
      sha256: this.sha256 || undefined,
      deduplicated: this.deduplicated,
      bytesSent: this.bytesSent,
      error: this.error,
    };
  }

  // ---- queued: wait for a hashing slot (and, for a small file, the memory to hold it)

  private hashLease: Lease | undefined;
  private known: { sha256: string; transferId?: string } | undefined;

  private async onQueued(): Promise<void> {
    this.checkStop();
    this.known = this.ctx.journal?.lookup(this.file);
    if (this.kind === "single")
      this.aheadLease = await this.ctx.scheduler.acquire({
        slot: "ahead",
        priority: this.priority,
        signal: this.ctx.stop,
      });
    if (!this.known) {
      if (this.kind === "single") await this.holdBody();
      this.hashLease = await this.ctx.scheduler.acquire({
        slot: "hash",
        priority: this.priority,
        signal: this.ctx.stop,
      });
    }
    this.enter("hashing");
  }

  private async holdBody(): Promise<void> {
    if (this.bodyLease) return;
    this.bodyLease = await this.ctx.scheduler.acquire({
      bytes: this.file.size,
      priority: this.priority,
      signal: this.ctx.stop,
    });
  }

  /**
   * A buffer for the whole file: from the pool (capacities rounded up to 8 MiB, reused) for big ones, an
   * exact-size allocation below SMALL_BODY — thousands of small files must not each take an 8 MiB buffer.
   */
  private bodyBuffer(): Buffer {
    this.bodyPooled = this.file.size >= SMALL_BODY;
    return this.bodyPooled ? this.ctx.pool.acquire(this.file.size) : Buffer.allocUnsafe(this.file.size);
  }

  private releaseAhead(): void {
    this.aheadLease?.release();
    this.aheadLease = undefined;
  }

  private releaseBody(): void {
    if (this.body && this.bodyPooled) this.ctx.pool.release(this.body);
    this.body = undefined;
    this.bodyLease?.release();
    this.bodyLease = undefined;
  }

  // ---- hashing

  private async onHashing(): Promise<void> {
    try {
      this.checkStop();
      if (this.kind === "multipart") this.planFirstParts(this.known ? 0 : this.ctx.opts.initParts);
      if (this.known) {
        // A resume: the first parts are likely stored already, so none are hashed for the init answer.
        this.sha256 = this.known.sha256;
      } else if (this.kind === "single") {
        this.body = await this.ctx.files.readWhole(this.file.local, this.file.size, this.bodyBuffer());
        this.sha256 = sha256Hex(this.body);
      } else {
        const r = await this.ctx.files.hash(
          this.file.local,
          this.firstParts,
          (bytes) => this.ctx.emit({ type: "hash", file: this.file.shown, bytes, size: this.file.size }),
          this.ctx.abort,
        );
        this.sha256 = r.sha256;
        this.firstParts.forEach((p, i) => {
          p.sha256 = r.parts[i] ?? "";
        });
      }
    } finally {
      this.hashLease?.release();
      this.hashLease = undefined;
    }
    await this.checkUnchanged();
    this.ctx.journal?.record(this.file, this.sha256, this.known?.transferId);
    this.checkStop();
    const key = `${this.sha256}:${this.file.size}`;
    const first = this.ctx.duplicates.get(key);
    if (first) {
      this.duplicateOf = first;
      this.enter("waiting-duplicate");
    } else {
      this.ctx.duplicates.set(key, this.settled);
      this.enter("initialising");
    }
  }

  private duplicateOf: Promise<void> | undefined;

  private planFirstParts(initParts: number): void {
    this.planner = new PartPlanner({
      fileSize: this.file.size,
      initial: this.ctx.opts.partSize,
      adaptive: this.ctx.opts.adaptive,
      ...(this.ctx.opts.maxPartSize !== undefined && { ceiling: this.ctx.opts.maxPartSize }),
    });
    const count = Math.min(MAX_INIT_PARTS, initParts);
    this.firstParts = [];
    for (let offset = 0, n = 1; offset < this.file.size && this.firstParts.length < count; n++) {
      const p = this.planner.next(offset, n);
      this.firstParts.push({ ...p, sha256: "" });
      offset = p.offset + p.size;
    }
  }

  private async openFile(): Promise<OpenFile> {
    this.handle ??= await this.ctx.files.open(this.file.local);
    return this.handle;
  }

  /** The file must still be what the walk saw: same size, same mtime. */
  private async checkUnchanged(): Promise<void> {
    const now = await this.ctx.files.stat(this.file.local);
    if (now.size !== this.file.size || now.mtimeMs !== this.file.mtimeMs) throw changedError(this.file.shown);
  }

  // ---- waiting-duplicate

  private async onWaitingDuplicate(): Promise<void> {
    // The first one will most likely make this one a dedupe: its bytes need not wait in memory.
    this.releaseBody();
    this.releaseAhead();
    const stop = this.ctx.stop;
    await new Promise<void>((resolve, reject) => {
      const onStop = () => reject(this.ctx.fatal() ?? interrupted());
      if (stop.aborted) return onStop();
      stop.addEventListener("abort", onStop, { once: true });
      void this.duplicateOf?.then(() => {
        stop.removeEventListener("abort", onStop);
        resolve();
      });
    });
    this.enter("initialising");
  }

  // ---- initialising

  private entry(): BatchFileEntry {
    const e: BatchFileEntry = {
      path: this.file.path,
      size: this.file.size,
      sha256: this.sha256,
      priority: this.priority,
      upload: this.kind,
    };
    if (this.kind === "multipart") {
      e.partSizeHint = this.ctx.opts.partSize;
      if (this.firstParts.length) e.parts = this.firstParts;
    }
    const resumeId = this.transferId || this.known?.transferId;
    if (resumeId) e.resumeId = resumeId;
    return e;
  }

  private async onInitialising(): Promise<void> {
    this.checkStop();
    const a = await this.ctx.init(this.entry());
    if (
      (a.action === "put" && this.kind === "multipart") ||
      (a.action === "multipart" && this.kind === "single")
    )
      throw new CliError(
        "BAD_ANSWER",
        `The server answered ${a.action} for a ${this.kind} upload of ${this.file.shown}`,
        EXIT.UNEXPECTED,
      );
    this.answer = a;
    this.transferId = a.transferId;
    if (this.kind === "multipart" || a.action !== "put")
      this.ctx.journal?.record(this.file, this.sha256, a.transferId, this.kind === "multipart");
    else this.ctx.journal?.record(this.file, this.sha256, a.transferId);
    switch (a.action) {
      case "done": {
        if (a.file.sha256 !== this.sha256) throw this.integrity(a.file.sha256);
        this.deduplicated = a.deduplicated;
        this.resumed = !a.deduplicated;
        this.bytesStored = this.file.size;
        this.emitStart();
        this.finish();
        return;
      }
      case "put": {
        this.checkStop();
        if (this.putRepeats === 0) {
          this.resumed = a.stored;
          if (a.stored) this.bytesStored = this.file.size;
          this.emitStart();
        }
        this.enter(a.stored ? "finishing" : "sending");
        return;
      }
      case "multipart": {
        this.checkStop();
        await this.setUpParts(a.init);
        return;
      }
    }
  }

  private emitStart(): void {
    this.ctx.emit({
      type: "start",
      file: this.file.shown,
      path: this.file.path,
      batchId: this.ctx.batchId(),
      name: basename(this.file.path),
      size: this.file.size,
      sha256: this.sha256,
      transferId: this.transferId,
      priority: this.priority,
      resumed: this.resumed,
      bytesDone: this.bytesStored,
    });
  }

  private integrity(got: string): CliError {
    return new CliError(
      "INTEGRITY",
      `The server recorded SHA-256 ${got}, not ${this.sha256}`,
      EXIT.INTEGRITY,
    );
  }

  // ---- sending, single PUT

  private async onSendingSingle(): Promise<void> {
    this.checkStop();
    const a = this.answer;
    if (a?.action !== "put") throw new Error("single send without a PUT answer");
    if (!this.body) {
      await this.holdBody();
      this.body = await this.ctx.files.readWhole(this.file.local, this.file.size, this.bodyBuffer());
      if (sha256Hex(this.body) !== this.sha256) throw changedError(this.file.shown);
    }
    if (Date.parse(a.put.expiresAt) <= Date.now() && this.putRepeats < PART_REPEATS) {
      // Spent while the file waited (a URL only needs to be valid when the PUT starts): a fresh answer.
      this.putRepeats++;
      this.enter("initialising");
      return;
    }
    const slot = await this.ctx.scheduler.acquire({
      slot: "put",
      priority: this.priority,
      signal: this.ctx.stop,
    });
    let renew = false;
    try {
      await withRetries(
        async () => {
          this.inFlightWritten.set(0, 0);
          try {
            return await this.ctx.transport.put({
              url: a.put.url,
              headers: a.put.headers,
              body: this.body as Buffer,
              flow: this.file.shown,
              signal: this.signal,
              onBytes: (n) => {
                this.bytesSent += n;
                this.inFlightWritten.set(0, (this.inFlightWritten.get(0) ?? 0) + n);
              },
            });
          } catch (err) {
            if (err instanceof CliError && err.code === "URL_EXPIRED") {
              renew = true;
              this.onRetry({ attempt: 1, delayMs: 0, error: err }, "PUT file");
              throw new CliError(err.code, err.message, err.exitCode, false);
            }
            throw err;
          } finally {
            this.inFlightWritten.delete(0);
          }
        },
        {
          policy: this.ctx.opts.retry,
          signal: this.signal,
          onRetry: (info) => this.onRetry(info, "PUT file"),
        },
      );
    } catch (err) {
      if (!renew || this.putRepeats >= PART_REPEATS) throw err;
    } finally {
      slot.release();
    }
    if (renew) {
      this.putRepeats++;
      this.enter("initialising");
      return;
    }
    this.releaseBody();
    this.releaseAhead();
    this.bytesStored = this.file.size;
    await this.checkUnchanged();
    this.enter("finishing");
  }

  private onRetry(
    info: { attempt: number; delayMs: number; error: CliError },
    operation: string,
    partNumber?: number,
  ) {
    this.retries++;
    this.lastError = `${info.error.code}: ${info.error.message}`.slice(0, 500);
    this.ctx.emit({
      type: "retry",
      file: this.file.shown,
      transferId: this.transferId,
      ...(partNumber !== undefined && { partNumber }),
      operation,
      attempt: info.attempt,
      delayMs: info.delayMs,
      reason: info.error.message,
      code: info.error.code,
    });
  }

  // ---- finishing, single PUT

  private async onFinishingSingle(): Promise<void> {
    // A completion holds no slot: the window takes the next file while this one waits for its call.
    this.releaseAhead();
    this.checkStop();
    const r = await this.ctx.complete(this.transferId);
    if (r.status === "complete") {
      this.bytesStored = this.file.size;
      this.finish();
      return;
    }
    if (r.error?.code === "PART_NOT_STORED" && this.putRepeats < PART_REPEATS) {
      // Storage holds no such object (an earlier run's PUT never landed): send it again.
      this.putRepeats++;
      this.bytesStored = 0;
      this.enter("sending");
      return;
    }
    throw new CliError(
      r.error?.code ?? "NOT_COMPLETE",
      r.error?.message ?? `The server left ${this.file.shown} ${r.status}`,
      EXIT.REJECTED,
    );
  }

  // ---- multipart: what to send

  private async setUpParts(init: InitResponse): Promise<void> {
    this.resumed = init.resumed;
    this.deduplicated = init.deduplicated;
    if (init.status === "complete") {
      if (init.file.sha256 !== this.sha256) throw this.integrity(init.file.sha256);
      this.bytesStored = this.file.size;
      this.emitStart();
      this.finish();
      return;
    }
    this.bytesStored = init.file.bytesDone;
    this.emitStart();
    for (const p of init.presigned) this.urls.set(p.partNumber, p);
    let gaps = init.missing;
    if (init.unrecorded.length) gaps = await this.adoptUnrecorded(init.unrecorded, gaps);
    this.planGaps(gaps);
    this.enter(this.queue.length || this.tail ? "sending" : "finishing");
  }

  private planGaps(gaps: readonly MissingRange[]): void {
    const planner = this.planner as PartPlanner;
    this.queue = [];
    this.tail = undefined;
    for (const gap of gaps) {
      if (gap.size === 0) continue;
      const endsFile = gap.offset + gap.size === this.file.size && gap.lastPart === MAX_PARTS;
      if (endsFile && gap.offset === 0 && gap.firstPart === 1 && this.firstParts.length) {
        // A new upload: the parts hashed with the file first (their URLs came with the answer), then the rest.
        this.queue.push(
          ...this.firstParts.map(({ partNumber, offset, size }) => ({ partNumber, offset, size })),
        );
        const last = this.firstParts[this.firstParts.length - 1] as PartSpec;
        const end = last.offset + last.size;
        if (end < this.file.size) this.tail = { offset: end, next: last.partNumber + 1 };
      } else if (endsFile) this.tail = { offset: gap.offset, next: gap.firstPart };
      else this.queue.push(...splitGap(gap, this.file.size, planner.current));
    }
  }

  /**
   * Parts storage holds that nobody recorded (a crash between PUT and record): each is read back at its
   * offset and, if its SHA-256 matches, recorded instead of sent again; its bytes leave the missing ranges.
   */
  private async adoptUnrecorded(unrecorded: readonly UnrecordedPart[], gaps: readonly MissingRange[]) {
    let out = [...gaps];
    const h = await this.openFile();
    for (const u of unrecorded) {
      if (u.offset + u.size > this.file.size) continue;
      const lease = await this.ctx.scheduler.acquire({
        bytes: u.size,
        priority: this.priority,
        signal: this.ctx.stop,
      });
      const buf = this.ctx.pool.acquire(u.size);
      let same = false;
      try {
        same = sha256Hex(await h.read(u.offset, u.size, buf)) === u.sha256;
      } finally {
        this.ctx.pool.release(buf);
        lease.release();
      }
      if (!same) continue;
      const carved = carve(out, u, this.file.size);
      if (!carved) continue;
      out = carved;
      this.unsent.push({
        spec: { partNumber: u.partNumber, offset: u.offset, size: u.size, sha256: u.sha256, etag: u.etag },
        seconds: 0,
        attempt: 0,
      });
      this.bytesStored += u.size;
    }
    return out;
  }

  private takePart(): PlannedPart | undefined {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (!this.tail) return undefined;
    const part = (this.planner as PartPlanner).next(this.tail.offset, this.tail.next);
    const end = part.offset + part.size;
    this.tail = end >= this.file.size ? undefined : { offset: end, next: part.partNumber + 1 };
    return part;
  }

  // ---- multipart: sending

  private report(): ClientReport {
    return {
      retries: this.retries,
      speedBps: Math.round(this.speedBps),
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  private async onSendingParts(): Promise<void> {
    this.checkStop();
    await this.openFile();
    this.partFailure = undefined;
    this.presigner ??= new Coalescer<PartSpec, PresignedPart>(
      async (parts) => {
        const done = this.unsent.splice(0, MAX_RECORD_BATCH);
        try {
          const r = await this.ctx.transport.presign(
            this.transferId,
            parts,
            done.map((d) => d.spec),
            this.report(),
          );
          this.acknowledge(done);
          const byNumber = new Map(r.parts.map((p) => [p.partNumber, p]));
          return parts.map((p) => {
            const url = byNumber.get(p.partNumber);
            if (!url)
              throw new CliError(
                "BAD_ANSWER",
                `The server presigned no URL for part ${p.partNumber}`,
                EXIT.UNEXPECTED,
              );
            return url;
          });
        } catch (err) {
          this.unsent.unshift(...done);
          throw err;
        }
      },
      { maxItems: MAX_PRESIGN_BATCH },
    );
    const runners = Math.max(1, this.ctx.opts.lookahead);
    this.ctx.scheduler.activate(this.priority, true);
    try {
      await Promise.all(Array.from({ length: runners }, () => this.partRunner()));
    } finally {
      this.ctx.scheduler.activate(this.priority, false);
    }
    await this.recording;
    if (this.partFailure !== undefined) throw this.partFailure;
    if (this.ctx.stop.aborted || this.ctx.abort.aborted) {
      await this.recordNow();
      throw this.ctx.fatal() ?? interrupted();
    }
    this.enter("finishing");
  }

  private async partRunner(): Promise<void> {
    for (;;) {
      if (this.partFailure !== undefined || this.ctx.stop.aborted) return;
      const part = this.takePart();
      if (!part) return;
      try {
        await this.sendPart(part);
      } catch (err) {
        if (this.ctx.stop.aborted && !(err instanceof CliError && err.code !== "INTERRUPTED")) return;
        if (this.partFailure === undefined) {
          this.partFailure = err;
          // The file fails: its other parts in flight stop too.
          this.local.abort(err);
        }
        return;
      }
    }
  }

  private async sendPart(part: PlannedPart): Promise<void> {
    const sched = this.ctx.scheduler;
    const memory = await sched.acquire({ bytes: part.size, priority: this.priority, signal: this.ctx.stop });
    const buf = this.ctx.pool.acquire(part.size);
    try {
      const h = await this.openFile();
      const body = await h.read(part.offset, part.size, buf);
      const sha256 = sha256Hex(body);
      const planned = this.firstParts.find((p) => p.partNumber === part.partNumber);
      if (
        planned &&
        planned.offset === part.offset &&
        planned.size === part.size &&
        planned.sha256 !== sha256
      )
        throw changedError(this.file.shown);
      const spec: PartSpec = { ...part, sha256 };
      let url: PresignedPart | undefined = this.urls.get(part.partNumber);
      this.urls.delete(part.partNumber);
      if (!url || Date.parse(url.expiresAt) - Date.now() < URL_MARGIN_MS || (url && !sameSpec(planned, spec)))
        url = await (this.presigner as Coalescer<PartSpec, PresignedPart>).submit(spec);
      const slot = await sched.acquire({ slot: "part", priority: this.priority, signal: this.ctx.stop });
      let attempt = 0;
      let seconds = 0;
      let etag: string;
      try {
        ({ etag } = await withRetries(
          async () => {
            attempt++;
            if (!url) url = await (this.presigner as Coalescer<PartSpec, PresignedPart>).submit(spec);
            const current = url;
            this.inFlightWritten.set(part.partNumber, 0);
            const t0 = performance.now();
            try {
              const r = await this.ctx.transport.put({
                url: current.url,
                headers: current.headers,
                body,
                flow: this.file.shown,
                signal: this.signal,
                onBytes: (n) => {
                  this.bytesSent += n;
                  this.inFlightWritten.set(
                    part.partNumber,
                    (this.inFlightWritten.get(part.partNumber) ?? 0) + n,
                  );
                },
              });
              seconds = (performance.now() - t0) / 1000;
              return r;
            } catch (err) {
              if (err instanceof CliError && err.code === "URL_EXPIRED") url = undefined;
              else if (err instanceof CliError) {
                this.planner?.onFailure();
                sched.onPartFailure();
              }
              throw err;
            } finally {
              this.inFlightWritten.delete(part.partNumber);
            }
          },
          {
            policy: this.ctx.opts.retry,
            signal: this.signal,
            onRetry: (info) => this.onRetry(info, "PUT part", part.partNumber),
          },
        ));
      } finally {
        slot.release();
      }
      this.planner?.onSuccess(part.size, seconds);
      sched.onPartSuccess(part.size);
      this.bytesStored += part.size;
      this.unsent.push({ spec: { ...spec, etag }, seconds, attempt });
      // Records ride on the next presign call, or the assemble call; within a second in bulk at the latest.
      this.recordSoon();
    } finally {
      this.ctx.pool.release(buf);
      memory.release();
    }
  }

  private recordTimer: NodeJS.Timeout | undefined;
  private recordSoon(): void {
    if (this.recordTimer) return;
    this.recordTimer = setTimeout(() => {
      this.recordTimer = undefined;
      this.kickRecords();
    }, RECORD_WITHIN_MS);
    this.recordTimer.unref?.();
  }

  /** Records go in bulk whenever no record call is on its way (presign calls also carry them). */
  private kickRecords(): void {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = undefined;
    if (this.recording || this.unsent.length === 0) return;
    const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
    this.recording = this.ctx.transport
      .recordParts(
        this.transferId,
        batch.map((b) => b.spec),
        this.report(),
      )
      .then(
        () => this.acknowledge(batch),
        () => {
          // Kept for the next presign or the assemble call, which surface a lasting failure.
          this.unsent.unshift(...batch);
        },
      )
      .finally(() => {
        this.recording = undefined;
      });
  }

  /** Before stopping: whatever storage holds that the server has not heard of yet (best effort). */
  private async recordNow(): Promise<void> {
    await this.recording;
    while (this.unsent.length) {
      const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
      try {
        await this.ctx.transport.recordParts(
          this.transferId,
          batch.map((b) => b.spec),
          this.report(),
        );
        this.acknowledge(batch);
      } catch {
        return;
      }
    }
  }

  /** The server has recorded these parts: they are reported as sent. */
  private acknowledge(records: PendingRecord[]): void {
    for (const r of records)
      if (r.attempt > 0)
        this.ctx.emit({
          type: "part",
          file: this.file.shown,
          transferId: this.transferId,
          partNumber: r.spec.partNumber,
          offset: r.spec.offset,
          size: r.spec.size,
          sha256: r.spec.sha256,
          seconds: r.seconds,
          attempt: r.attempt,
        });
  }

  // ---- multipart: finishing

  private async onFinishingParts(): Promise<void> {
    this.checkStop();
    await this.checkUnchanged();
    await this.recording;
    this.checkStop();
    while (this.unsent.length > MAX_RECORD_BATCH) {
      const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
      await this.ctx.transport.recordParts(
        this.transferId,
        batch.map((b) => b.spec),
        this.report(),
      );
      this.acknowledge(batch);
    }
    const last = this.unsent.splice(0);
    let summary: Awaited<ReturnType<Transport["assemble"]>>;
    try {
      summary = await this.ctx.transport.assemble(
        this.transferId,
        last.map((b) => b.spec),
        this.report(),
      );
    } catch (err) {
      this.unsent.unshift(...last);
      if (err instanceof CliError && err.code === "PARTS_MISSING" && this.assembleRepeats < PART_REPEATS) {
        // Storage lost something after it was recorded: ask again what is missing and send it.
        this.assembleRepeats++;
        const m = await this.ctx.transport.missing(this.transferId);
        this.unsent = [];
        this.bytesStored = m.bytesDone;
        let gaps = m.missing;
        if (m.unrecorded.length) gaps = await this.adoptUnrecorded(m.unrecorded, gaps);
        this.planGaps(gaps);
        this.enter("sending");
        return;
      }
      throw err;
    }
    this.acknowledge(last);
    if (summary.sha256 !== this.sha256) throw this.integrity(summary.sha256);
    this.bytesStored = this.file.size;
    this.finish();
  }

  // ---- ends

  private finish(): void {
    this.enter("done");
    const seconds = (performance.now() - this.started) / 1000;
    this.ctx.emit({
      type: "done",
      file: this.file.shown,
      path: this.file.path,
      batchId: this.ctx.batchId(),
      transferId: this.transferId,
      sha256: this.sha256,
      size: this.file.size,
      seconds,
      deduplicated: this.deduplicated,
      resumed: this.resumed,
      bytesSent: this.bytesSent,
      retries: this.retries,
    });
  }

  private async settle(err: unknown): Promise<void> {
    const fatal = this.ctx.fatal();
    const stopped = this.ctx.stop.aborted || this.ctx.abort.aborted;
    let e: CliError;
    if (err instanceof CliError) e = err;
    else if (fatal) e = fatal;
    else if (stopped) e = interrupted();
    else e = new CliError("UNEXPECTED", err instanceof Error ? err.message : String(err), EXIT.UNEXPECTED);
    // Stopped by the user: what was cut off (an interrupt, or a retryable failure of a cut call) resumes.
    if (!fatal && (e.exitCode === EXIT.INTERRUPTED || (stopped && e.retryable))) {
      this.error = e.exitCode === EXIT.INTERRUPTED ? e : interrupted();
      this.enter("interrupted");
      return;
    }
    this.error = e;
    this.enter("failed");
    // A batch-wide failure is reported once, by the batch.
    if (fatal && e === fatal) return;
    this.ctx.emit({
      type: "error",
      file: this.file.shown,
      ...(this.transferId && { transferId: this.transferId }),
      code: e.code,
      exitCode: e.exitCode,
      message: e.message,
    });
    if (this.transferId && e.exitCode !== EXIT.AUTH && e.exitCode !== EXIT.SERVER_UNREACHABLE)
      await this.ctx.transport.fail(this.transferId, `${e.code}: ${e.message}`).catch(() => {});
  }
}

const sameSpec = (a: PartSpec | undefined, b: PartSpec) =>
  a !== undefined && a.offset === b.offset && a.size === b.size && a.sha256 === b.sha256;

/**
 * The missing ranges without the bytes of `part` (held by storage). Undefined when the part does not sit
 * inside one range, or when cutting it out would leave a hole no legal part can fill (under 5 MiB and not
 * at the end of the file): then it is simply sent again.
 */
export function carve(
  gaps: readonly MissingRange[],
  part: { partNumber: number; offset: number; size: number },
  fileSize: number,
): MissingRange[] | undefined {
  const i = gaps.findIndex(
    (g) =>
      part.offset >= g.offset &&
      part.offset + part.size <= g.offset + g.size &&
      part.partNumber >= g.firstPart &&
      part.partNumber <= g.lastPart,
  );
  if (i < 0) return undefined;
  const g = gaps[i] as MissingRange;
  const before: MissingRange = {
    offset: g.offset,
    size: part.offset - g.offset,
    firstPart: g.firstPart,
    lastPart: part.partNumber - 1,
  };
  const afterOffset = part.offset + part.size;
  const after: MissingRange = {
    offset: afterOffset,
    size: g.offset + g.size - afterOffset,
    firstPart: part.partNumber + 1,
    lastPart: g.lastPart,
  };
  const fillable = (r: MissingRange) =>
    r.size === 0 ||
    (r.lastPart >= r.firstPart && (r.offset + r.size === fileSize || r.size >= 5 * 1024 * 1024));
  if (!fillable(before) || !fillable(after)) return undefined;
  return [...gaps.slice(0, i), ...[before, after].filter((r) => r.size > 0), ...gaps.slice(i + 1)];
}
