/**
 * One file of a browser batch, from its hashing to its end, as the CLI's file transfer
 * (cli/engine/send/file-transfer.ts) runs it, with the browser's rule that the whole-file SHA-256 is
 * known before the entry goes out (so a re-pick anywhere finds its upload by content):
 *
 *   queued ─▶ hashing ─▶ sending ─▶ finishing ─▶ complete
 *     (any phase) ─▶ failed (the file alone; the coordinator is told why) | stopped (the run was paused,
 *     went offline or lost the link: the phase stays, the next run of the batch goes on from here)
 *
 * hashing    a "hash" slot: a small file (≤ the batch's maxSinglePutSize) is read whole, by one slice, and
 *            its SHA-256 (and MD5 in md5 mode) computed from those bytes, kept in memory (within the
 *            budget) for its PUT; a large one is hashed streaming by the content hasher (a worker).
 *            A SHA-256 computed once is kept for every later run of the file.
 * sending    the entry (coalesced with the batch's others) is answered done (stored: nothing to send),
 *            put (one PUT of the whole body, its URL renewed when spent) or multipart (parts.ts).
 * finishing  single: its completion (coalesced); multipart: assemble with the last records; storage
 *            not holding a PUT's object, or parts missing at assembly, sends them again (bounded).
 */
import { NetworkError } from "../../../cli/engine/classify.js";
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import { lossKind } from "../../../cli/engine/link-model.js";
import type { RetryPolicy } from "../../../cli/engine/retry.js";
import type { Lease, Scheduler } from "../../../cli/engine/send/scheduler.js";
import type { BatchFileAnswer, BatchFileEntry, CompletedFile } from "../../../functions/contract/batches.js";
import { DEFAULT_PART_SIZE } from "../../../functions/contract/limits.js";
import { partSizeFor } from "../../../functions/contract/part-rules.js";
import type { FileSummary, InitResponse, Priority } from "../../../functions/contract/schemas.js";
import type { StorageRules } from "../../../functions/contract/storage.js";
import { abortable } from "./abortable.js";
import { changedError, checkUnchanged, isChanged, readSlice } from "./file-read.js";
import { PartSender } from "./parts.js";
import { sendSingle } from "./single-put.js";
import type {
  ContentHasher,
  Coordinator,
  FilePhase,
  FileView,
  PartDigests,
  PickedFile,
  StoragePut,
} from "./types.js";

/** Parts missing at assembly: what is missing is sent again at most this often. */
const REPEATS = 1;

/** Assembly refused because storage does not hold what the records say: what is missing goes again. */
const LOST_CODES: ReadonlySet<string> = new Set(["PARTS_MISSING", "CHECKSUM_MISMATCH", "PART_NOT_STORED"]);

/** What a file's run needs from its batch's run. */
export interface FileContext {
  readonly coordinator: Coordinator;
  readonly storage: StoragePut;
  readonly hasher: ContentHasher;
  readonly digests: PartDigests;
  readonly retry: RetryPolicy;
  readonly scheduler: Scheduler;
  readonly rules: StorageRules;
  readonly maxPartSize: number;
  readonly maxSinglePutSize: number;
  readonly priority: Priority;
  /** Parts of one file read ahead of the slots (each within the memory budget). */
  readonly lookahead: number;
  /** How long a run waits at most for an earlier run's part-record calls (UploadEngineOptions). */
  readonly recordSettleMs: number;
  /** The run's: a pause, going offline or a cancel aborts it (PUTs in flight, hashing, waits). */
  readonly signal: AbortSignal;
  now(): number;
  /** The file's entry, coalesced with the batch's others into POST /batch/{id}/files. */
  entry(e: BatchFileEntry): Promise<BatchFileAnswer>;
  /** A single PUT's completion, coalesced into POST /batch/{id}/complete. */
  complete(transferId: string): Promise<CompletedFile>;
  /** Bytes went out to storage (a PUT's progress). */
  uploaded(bytes: number): void;
  /** Something the view shows changed; `phase`: a phase change (shown at once). */
  changed(phase?: boolean): void;
  /** The file's transfer is known (the resume store keeps it: a reload resumes that very upload). */
  identified(): void;
}

export type FileOutcome = "complete" | "failed" | "stopped";

/** A failure that says the link (or the server) is gone, not that the file is wrong: the batch waits. */
export function isLinkError(err: unknown): boolean {
  if (!(err instanceof CliError)) return false;
  if (err instanceof NetworkError) return true;
  if (["NETWORK", "SERVER_UNREACHABLE", "LINK_DOWN"].includes(err.code)) return true;
  const kind = lossKind(err.code);
  return kind === "reset" || kind === "timeout" || kind === "stall";
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class FileUpload {
  phase: FilePhase = "queued";
  doneBytes = 0;
  hashedBytes = 0;
  retries = 0;
  skippedBytes = 0;
  transferId: string | undefined;
  sha256: string | undefined;
  private md5: string | undefined;
  error: string | undefined;
  /** The failure's own sentence (`error` names the file too). */
  cause: string | undefined;
  summary: FileSummary | undefined;
  /** The failure that stopped the last run without failing the file (the link, the server). */
  linkError: CliError | undefined;
  /** Bytes of PUTs in flight, by part number (0 for a single PUT). */
  readonly inFlight = new Map<number, number>();
  /** Bytes this page PUT that storage accepted (what a resume finds is not counted as skipped). */
  private storedThisSession = 0;
  private body: Uint8Array | undefined;
  private bodyLease: Lease | undefined;
  private readonly parts = new PartSender(this);
  /** The batch's retry count goes up with this file's. */
  onRetry: () => void = () => {};

  constructor(readonly picked: PickedFile) {}

  get path(): string {
    return this.picked.path;
  }

  get partSize(): number | undefined {
    return this.parts.partSize;
  }

  get ended(): boolean {
    return this.phase === "complete" || this.phase === "failed" || this.phase === "cancelled";
  }

  view(): FileView {
    let flying = 0;
    for (const n of this.inFlight.values()) flying += n;
    return {
      path: this.picked.path,
      size: this.picked.size,
      phase: this.phase,
      doneBytes: this.doneBytes,
      sentBytes: Math.min(this.picked.size, this.doneBytes + flying),
      hashedBytes: this.hashedBytes,
      ...(this.transferId !== undefined && { transferId: this.transferId }),
      ...(this.sha256 !== undefined && { sha256: this.sha256 }),
      retries: this.retries,
      skippedBytes: this.skippedBytes,
      ...(this.error !== undefined && { error: this.error }),
    };
  }

  // ---- what parts.ts reports

  /** A PUT of this page stored these bytes. */
  stored(bytes: number): void {
    this.doneBytes = Math.min(this.picked.size, this.doneBytes + bytes);
    this.storedThisSession += bytes;
  }

  /** Storage held these bytes already (taken on a resume). */
  held(bytes: number): void {
    this.doneBytes = Math.min(this.picked.size, this.doneBytes + bytes);
  }

  retried(ctx: FileContext): void {
    this.retries++;
    this.onRetry();
    ctx.changed();
  }

  enter(phase: FilePhase, ctx: FileContext): void {
    if (this.phase === phase) return;
    this.phase = phase;
    ctx.changed(true);
  }

  /** The user cancelled the batch: a file not ended ends so. */
  cancel(): void {
    if (!this.ended) this.phase = "cancelled";
    this.inFlight.clear();
  }

  /** Runs the file until it ends or the run stops; never rejects. */
  async run(ctx: FileContext): Promise<FileOutcome> {
    if (this.phase === "complete") return "complete";
    if (this.phase === "failed" || this.phase === "cancelled") return "failed";
    this.linkError = undefined;
    try {
      await this.hash(ctx);
      this.enter("sending", ctx);
      // A stopped run's record calls land first: the entry's answer then says what they recorded.
      await this.parts.settled(ctx);
      const a = await ctx.entry(this.entry(ctx));
      await this.follow(a, ctx);
      return "complete";
    } catch (err) {
      return this.settle(err, ctx);
    } finally {
      this.inFlight.clear();
      this.releaseBody();
    }
  }

  private isSingle(ctx: FileContext): boolean {
    return this.picked.size <= ctx.maxSinglePutSize;
  }

  // ---- hashing

  private async hash(ctx: FileContext): Promise<void> {
    if (this.sha256 !== undefined) return;
    const slot = await ctx.scheduler.acquire({ slot: "hash", priority: ctx.priority, signal: ctx.signal });
    try {
      this.enter("hashing", ctx);
      checkUnchanged(this.picked);
      if (this.isSingle(ctx)) {
        const body = await this.readBody(ctx);
        this.sha256 = await ctx.digests.sha256(body);
        if (ctx.rules.partCheck === "md5") this.md5 = await ctx.digests.md5(body);
        this.hashedBytes = this.picked.size;
      } else {
        let sha: string;
        try {
          sha = await ctx.hasher.sha256(
            this.picked.file,
            (n) => {
              this.hashedBytes = n;
              ctx.changed();
            },
            ctx.signal,
          );
        } catch (err) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          if (err instanceof CliError) throw err;
          throw changedError(this.picked.path, message(err));
        }
        checkUnchanged(this.picked);
        this.sha256 = sha;
        this.hashedBytes = this.picked.size;
      }
      ctx.changed();
    } finally {
      slot.release();
    }
  }

  /** The whole body of a small file, held within the memory budget until its PUT ends. */
  async readBody(ctx: FileContext): Promise<Uint8Array> {
    if (this.body) return this.body;
    this.bodyLease ??= await ctx.scheduler.acquire({
      bytes: this.picked.size,
      priority: ctx.priority,
      signal: ctx.signal,
    });
    const body = await readSlice(this.picked, 0, this.picked.size);
    // Read again for a later run (the bytes were let go): they must be the bytes that were hashed.
    if (this.sha256 !== undefined && (await ctx.digests.sha256(body)) !== this.sha256)
      throw changedError(this.picked.path);
    this.body = body;
    return body;
  }

  releaseBody(): void {
    this.body = undefined;
    this.bodyLease?.release();
    this.bodyLease = undefined;
  }

  // ---- the entry and its answer

  entry(ctx: FileContext): BatchFileEntry {
    const single = this.isSingle(ctx);
    return {
      path: this.picked.path,
      size: this.picked.size,
      sha256: this.sha256 as string,
      priority: ctx.priority,
      upload: single ? "single" : "multipart",
      ...(single && this.md5 !== undefined && { md5: this.md5 }),
      ...(!single && {
        partSizeHint: partSizeFor(this.picked.size, Math.min(DEFAULT_PART_SIZE, ctx.maxPartSize), ctx.rules),
      }),
      ...(this.transferId !== undefined && { resumeId: this.transferId }),
    };
  }

  async follow(a: BatchFileAnswer, ctx: FileContext): Promise<void> {
    if (this.transferId !== a.transferId) {
      this.transferId = a.transferId;
      ctx.identified();
    }
    switch (a.action) {
      case "done":
        this.checkSha(a.file.sha256);
        return this.complete(a.file, ctx);
      case "put":
        return sendSingle(this, a, ctx);
      case "multipart":
        return this.sendParts(a.init, ctx);
    }
  }

  private checkSha(got: string): void {
    if (got !== this.sha256)
      throw new CliError(
        "INTEGRITY",
        `The server recorded SHA-256 ${got}, not ${this.sha256}`,
        EXIT.INTEGRITY,
      );
  }

  complete(summary: FileSummary | undefined, ctx: FileContext): void {
    this.skippedBytes = Math.max(this.skippedBytes, this.picked.size - this.storedThisSession);
    this.doneBytes = this.picked.size;
    this.summary = summary;
    this.releaseBody();
    this.enter("complete", ctx);
  }

  // ---- multipart

  private async sendParts(init: InitResponse, ctx: FileContext): Promise<void> {
    if (init.status === "complete") {
      this.checkSha(init.file.sha256);
      return this.complete(init.file, ctx);
    }
    this.doneBytes = init.file.bytesDone;
    await this.parts.plan(ctx, init);
    this.skippedBytes = Math.max(this.skippedBytes, this.doneBytes - this.storedThisSession);
    ctx.changed();
    for (let repeats = 0; ; repeats++) {
      this.enter("sending", ctx);
      await this.parts.send(ctx);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      this.enter("finishing", ctx);
      let summary: FileSummary;
      try {
        summary = await this.parts.assemble(ctx);
      } catch (err) {
        const lost = err instanceof CliError && LOST_CODES.has(err.code);
        if (lost && repeats < REPEATS) {
          // Storage lost something (recorded or about to be) or holds other bytes: ask again what is
          // missing, and send it.
          await this.parts.settled(ctx);
          const m = await abortable(ctx.coordinator.missing(this.transferId as string), ctx.signal);
          this.doneBytes = m.bytesDone;
          await this.parts.plan(ctx, m);
          continue;
        }
        throw err;
      }
      this.checkSha(summary.sha256);
      return this.complete(summary, ctx);
    }
  }

  // ---- ends

  private async settle(err: unknown, ctx: FileContext): Promise<FileOutcome> {
    if (ctx.signal.aborted) return "stopped";
    if (isLinkError(err)) {
      this.linkError = err as CliError;
      return "stopped";
    }
    this.cause = message(err);
    this.error = isChanged(err) ? this.cause : `${this.picked.path}: ${this.cause}`;
    this.enter("failed", ctx);
    if (this.transferId && !(err instanceof CliError && err.exitCode === EXIT.AUTH))
      await ctx.coordinator
        .fail(
          this.transferId,
          `${err instanceof CliError ? err.code : "UNEXPECTED"}: ${message(err)}`.slice(0, 500),
        )
        .catch(() => {});
    return "failed";
  }
}
