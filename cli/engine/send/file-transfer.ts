/**
 * One file of a batch, as an explicit state machine. Every phase change goes through `enter`, checked
 * against TRANSITIONS; each phase has one handler that does its work and names the next phase:
 *
 *   queued ──▶ hashing ──▶ (waiting-duplicate ──▶) initialising ──▶ sending ──▶ finishing ──▶ done
 *                                                        │  ▲            │  ▲        │
 *                                                        │  └─ new URL ──┘  └─ again ┘ (not stored / parts missing)
 *                                                        └──▶ finishing or done (stored already, deduplicated)
 *   multipart, content pending (its SHA-256 is computed beside the sending; once known it is named):
 *     sending | finishing ──▶ done               stored already: the parts in flight stop at once
 *     sending | finishing ──▶ initialising       switch: go on with an unfinished upload of that content
 *     sending | finishing ──▶ waiting-duplicate  a file of this batch with that content is under way
 *     waiting-duplicate   ──▶ done | initialising   its content named once the first one ended
 *   any phase ──▶ failed (the server is told why) | interrupted (stays resumable, nothing is called)
 *
 * hashing      the journal's SHA-256 if the file is unchanged, else: small files read whole (kept in
 *              memory for their PUT); big ones start their whole-file pass in a worker thread and wait only
 *              for their first parts' digests (content pending): the whole file's follows while it is sent.
 * waiting-     a file of the batch with the same SHA-256 and size went first: wait until it ends, then
 * duplicate    initialise, or name the content (the coordinator dedupes it either way).
 * initialising the entry goes out with others (coalesced): done, put (presigned PutObject) or multipart;
 *              without a SHA-256 while the content is pending. After a switch the answer is at hand.
 * sending      single: one PUT. multipart: runners read and hash parts ahead (within the memory budget),
 *              get their URLs ahead (the first from the init answer), and PUT when the scheduler grants a
 *              slot; part records ride on the next presign call or a bulk record call, never in a slot.
 *              Content pending: when the whole-file SHA-256 is known it is named (POST /upload/{id}/content)
 *              without pausing the parts; an answer other than continue stops them at once (see above).
 * finishing    single: completion (coalesced); multipart: the content named first, then assemble with the
 *              last records.
 *
 * Storage rules (storage-rules.ts, learnt at the start of the send): hashing waits for them (they say
 * whether each body's MD5 goes with its SHA-256, and how parts are cut); a small file's entry carries its
 * MD5 in md5 mode (read again on a resume, the journal keeps no MD5); under the uniform rule the entry
 * hints the upload's part size and the init answer's partSize is the one the parts keep.
 *
 * This file is the state machine that drives the phases; the phases and their transitions are in
 * file-phases.ts, the small-file body and its PUT in single-put.ts, the multipart part pipeline (parts
 * ahead, URLs ahead, records carried, unrecorded parts adopted on resume) in part-runner.ts.
 */
import { setMaxListeners } from "node:events";
import { basename } from "node:path";
import type { BatchFileAnswer, BatchFileEntry, CompletedFile } from "../../../functions/contract/batches.js";
import { MAX_SINGLE_PUT_SIZE } from "../../../functions/contract/limits.js";
import type { ContentResponse, InitResponse, Priority } from "../../../functions/contract/schemas.js";
import type { StorageRules } from "../../../functions/contract/storage.js";
import type { BufferPool } from "../buffer-pool.js";
import { CliError, EXIT } from "../errors.js";
import type { NewEvent } from "../events.js";
import { changedError, sha256Hex } from "../file-io.js";
import type { RetryPolicy } from "../retry.js";
import { HashPasses } from "./content-hash.js";
import { interrupted, PART_REPEATS, type Phase, TRANSITIONS } from "./file-phases.js";
import type { ContentHash, LocalFiles } from "./local-files.js";
import type { ManifestFile } from "./manifest.js";
import { PartRunner } from "./part-runner.js";
import type { Lease, Scheduler } from "./scheduler.js";
import { putWhole, WholeBody } from "./single-put.js";
import { md5Base64, S3_RULES } from "./storage-rules.js";
import type { ClientReport, Transport } from "./transport.js";

export { carve } from "../planner.js";
export { type Phase, TRANSITIONS } from "./file-phases.js";
export { SMALL_BODY } from "./single-put.js";

/**
 * The first parts of a file whose content is pending are hashed before its init: this many bytes at most
 * (about 20 ms of hashing), so its first bytes leave one round trip after it starts, whatever its size.
 * The URLs of the parts after them are fetched while these are PUT.
 */
export const PENDING_FIRST_PARTS_BYTES = 32 * 1024 * 1024;

/** Whole-file passes of one batch (keyed by its scheduler), at most its hashing slots at once. */
const passesOf = new WeakMap<Scheduler, HashPasses>();
const passes = (s: Scheduler): HashPasses => {
  let p = passesOf.get(s);
  if (!p) {
    p = new HashPasses(() => s.limit("hash"));
    passesOf.set(s, p);
  }
  return p;
};

/** What naming the content asks of a file being sent: anything but going on stops its parts at once. */
type Redirect =
  | { to: "done"; answer: Extract<ContentResponse, { action: "done" }> }
  | { to: "switch"; init: InitResponse }
  | { to: "wait"; first: Promise<void> }
  | { to: "fail"; error: unknown };

/** The reason parts in flight are cut with when the upload is redirected (not a failure of the link). */
const redirected = () => new Error("the upload was redirected once its content was known");

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
  /** sha256 is absent when an earlier run knew the file's transfer before its content. */
  lookup(f: ManifestFile): { sha256?: string; transferId?: string } | undefined;
  record(f: ManifestFile, sha256: string | undefined, transferId?: string, urgent?: boolean): void;
}

/** What a file transfer needs from its batch. */
export interface TransferContext {
  transport: Transport;
  /** The storage rules (GET /api/storage), asked for at the start of the send; S3's when not given. */
  rules?: Promise<StorageRules> | undefined;
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

/** What the sending paths (single-put.ts, part-runner.ts) need from their file's transfer. */
export interface SendHost {
  readonly file: ManifestFile;
  readonly ctx: TransferContext;
  /** The storage rules (known from the hashing phase on). */
  readonly rules: StorageRules;
  readonly priority: Priority;
  readonly transferId: string;
  /** Aborts the file's calls and PUTs: on a hard stop, or when the file fails. */
  readonly signal: AbortSignal;
  /** Bytes written by PUTs in flight, by part number (0 for a single PUT). */
  readonly inFlightWritten: Map<number, number>;
  /** Bytes went out. */
  sent(n: number): void;
  /** Bytes storage now holds. */
  stored(n: number): void;
  report(): ClientReport;
  onRetry(
    info: { attempt: number; delayMs: number; error: CliError },
    operation: string,
    partNumber?: number,
  ): void;
  /** A part failed: the file's other calls in flight stop too. */
  abortFile(err: unknown): void;
  /**
   * Whether the upload is being redirected (its content was named and the answer is not continue): a part
   * failing meanwhile (storage released the upload it was going to) is no failure of the file. Waits for
   * the naming call if one is on its way.
   */
  redirecting(): Promise<boolean>;
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

export class FileTransfer {
  phase: Phase = "queued";
  /** Every phase entered, in order (for tests and --verbose). */
  readonly history: Phase[] = ["queued"];
  readonly weight: number;
  readonly kind: "single" | "multipart";
  sha256 = "";
  /** md5 mode, single PUT: the whole body's MD5 (base64). */
  md5: string | undefined;
  transferId = "";
  /** The storage rules, from the hashing phase on. */
  private rules: StorageRules = S3_RULES;
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

  /** What single-put.ts and part-runner.ts see of this file. */
  private readonly host: SendHost;

  // single
  private readonly whole: WholeBody;
  /** Its place in the init-ahead window, from before hashing to the end of its PUT. */
  private aheadLease: Lease | undefined;
  private answer: BatchFileAnswer | undefined;
  private putRepeats = 0;

  // multipart
  private readonly parts: PartRunner;
  private readonly local = new AbortController();
  private assembleRepeats = 0;
  /** Content pending: the whole-file pass in its worker, and its place among the batch's passes. */
  private hashing: ContentHash | undefined;
  private readonly hashStop = new AbortController();
  private passRelease: (() => void) | undefined;
  /** The SHA-256 is known but the coordinator has not been told (or has not answered continue) yet. */
  private contentPending = false;
  /** Naming the content, under way beside the sending; `asking` while its call is on its way. */
  private naming: Promise<void> | undefined;
  private asking: Promise<unknown> | undefined;
  private redirect: Redirect | undefined;
  /** Cuts the parts in flight when the upload is redirected; renewed after. */
  private redirectCtl = new AbortController();
  /** An init answer at hand (a switch): the next initialising uses it instead of a call. */
  private prepared: BatchFileAnswer | undefined;

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
    const self = this;
    const host: SendHost = {
      file,
      ctx,
      get priority() {
        return self.priority;
      },
      get transferId() {
        return self.transferId;
      },
      get rules() {
        return self.rules;
      },
      get signal() {
        return self.signal;
      },
      inFlightWritten: this.inFlightWritten,
      sent: (n) => {
        this.bytesSent += n;
      },
      stored: (n) => {
        this.bytesStored += n;
      },
      report: () => this.report(),
      onRetry: (info, operation, partNumber) => this.onRetry(info, operation, partNumber),
      abortFile: (err) => this.local.abort(err),
      redirecting: async () => {
        await this.asking?.catch(() => {});
        return this.redirect !== undefined;
      },
    };
    this.host = host;
    this.whole = new WholeBody(host);
    this.parts = new PartRunner(host);
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
    return this.parts.planner?.current ?? this.ctx.opts.partSize;
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
      this.combined = AbortSignal.any([this.ctx.abort, this.local.signal, this.redirectCtl.signal]);
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
      this.hashStop.abort(interrupted());
      this.passRelease?.();
      this.parts.stopTimer();
      this.whole.release();
      this.releaseAhead();
      await this.parts.close();
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
  private known: { sha256?: string; transferId?: string } | undefined;

  private async onQueued(): Promise<void> {
    this.checkStop();
    this.known = this.ctx.journal?.lookup(this.file);
    if (this.kind === "single")
      this.aheadLease = await this.ctx.scheduler.acquire({
        slot: "ahead",
        priority: this.priority,
        signal: this.ctx.stop,
      });
    if (!this.known?.sha256) {
      if (this.kind === "single") await this.whole.hold();
      else this.passRelease = await passes(this.ctx.scheduler).acquire(this.ctx.stop);
      this.hashLease = await this.ctx.scheduler.acquire({
        slot: "hash",
        priority: this.priority,
        signal: this.ctx.stop,
      });
    }
    this.enter("hashing");
  }

  private releaseAhead(): void {
    this.aheadLease?.release();
    this.aheadLease = undefined;
  }

  // ---- hashing

  private async onHashing(): Promise<void> {
    try {
      this.checkStop();
      // Before the first entry or part spec: the rules say which digests and what part sizes.
      if (this.ctx.rules) this.rules = await this.ctx.rules;
      this.checkStop();
      const md5 = this.rules.partCheck === "md5";
      // A small file in md5 mode is read again on a resume: its entry needs the MD5 the journal lacks.
      const knownSha = this.kind === "single" && md5 ? undefined : this.known?.sha256;
      // Under the uniform rule an upload known from an earlier run has its size fixed already: its first
      // parts are not guessed (the init answer gives the size, and what is missing).
      const resuming = this.rules.uniformParts && this.known?.transferId !== undefined;
      if (this.kind === "multipart")
        this.parts.planFirstParts(
          knownSha || resuming ? 0 : this.ctx.opts.initParts,
          PENDING_FIRST_PARTS_BYTES,
        );
      if (knownSha) {
        // A resume: the first parts are likely stored already, so none are hashed for the init answer.
        this.sha256 = knownSha;
      } else if (this.kind === "single") {
        await this.whole.hold();
        const body = await this.whole.read();
        this.sha256 = sha256Hex(body);
        if (md5) this.md5 = md5Base64(body);
      } else {
        // The whole file is hashed beside its sending; only its first parts are waited for.
        const firstParts = this.parts.firstParts;
        this.hashing = this.ctx.files.hash(
          this.file.local,
          firstParts,
          (bytes) => this.ctx.emit({ type: "hash", file: this.file.shown, bytes, size: this.file.size }),
          AbortSignal.any([this.ctx.abort, this.hashStop.signal]),
          md5,
        );
        void this.hashing.sha256.then(
          () => this.passRelease?.(),
          () => this.passRelease?.(),
        );
        const digests = await this.hashing.parts;
        const md5s = md5 ? await this.hashing.partMd5s : [];
        firstParts.forEach((p, i) => {
          p.sha256 = digests[i] ?? "";
          const m = md5s[i];
          if (m !== undefined) p.md5 = m;
        });
        this.contentPending = true;
      }
    } finally {
      this.hashLease?.release();
      this.hashLease = undefined;
    }
    if (this.contentPending) {
      // Duplicates within the batch are found once the content is known (nameWhenHashed).
      this.checkStop();
      this.enter("initialising");
      return;
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

  /** The file must still be what the walk saw: same size, same mtime. */
  private async checkUnchanged(): Promise<void> {
    const now = await this.ctx.files.stat(this.file.local);
    if (now.size !== this.file.size || now.mtimeMs !== this.file.mtimeMs) throw changedError(this.file.shown);
  }

  // ---- waiting-duplicate

  private async onWaitingDuplicate(): Promise<void> {
    // The first one will most likely make this one a dedupe: its bytes need not wait in memory.
    this.whole.release();
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
    if (this.contentPending && this.transferId) {
      // Its upload started before the content was known: naming it now dedupes it (or it goes on).
      this.checkStop();
      const r = await this.askContent();
      if (r) return this.follow(r);
      this.enter("initialising"); // goes on: the init resumes it with what is missing
      return;
    }
    this.enter("initialising");
  }

  // ---- content pending: the whole-file SHA-256, named as soon as it is known

  /** Beside the sending: waits for the hash, then names it; anything but continue stops the parts. */
  private startNaming(): void {
    this.naming ??= this.nameWhenHashed().catch((error: unknown) => this.redirectTo({ to: "fail", error }));
  }

  private async nameWhenHashed(): Promise<void> {
    this.sha256 = await (this.hashing as ContentHash).sha256;
    await this.checkUnchanged();
    this.ctx.journal?.record(this.file, this.sha256, this.transferId);
    const key = `${this.sha256}:${this.file.size}`;
    const first = this.ctx.duplicates.get(key);
    if (first) {
      this.redirectTo({ to: "wait", first });
      return;
    }
    this.ctx.duplicates.set(key, this.settled);
    // Parts failing while the call is on its way wait for its answer (see SendHost.redirecting).
    this.asking = this.askContent().then((r) => {
      if (r) this.redirectTo(r);
    });
    await this.asking;
  }

  /** POST /upload/{id}/content: undefined when the upload goes on (the SHA-256 is recorded). */
  private async askContent(): Promise<Redirect | undefined> {
    const r = await this.ctx.transport.nameContent(this.transferId, this.sha256);
    if (r.action === "continue") {
      this.contentPending = false;
      return undefined;
    }
    this.contentPending = false;
    return r.action === "done" ? { to: "done", answer: r } : { to: "switch", init: r.init };
  }

  private redirectTo(r: Redirect): void {
    if (this.phase === "done" || this.phase === "failed" || this.phase === "interrupted") return;
    this.redirect = r;
    // The parts in flight stop at once: a stored file costs only what was on its way.
    this.parts.stop();
    this.redirectCtl.abort(redirected());
  }

  /** Takes the file where naming its content sent it (from sending, finishing or waiting-duplicate). */
  private async follow(r: Redirect): Promise<void> {
    if (r.to === "wait") await this.parts.recordNow();
    // What was planned and presigned was for the upload left behind (or waits): planned afresh later.
    this.parts.restart();
    this.redirectCtl = new AbortController();
    this.combined = undefined;
    switch (r.to) {
      case "fail":
        throw r.error;
      case "wait":
        this.duplicateOf = r.first;
        this.enter("waiting-duplicate");
        return;
      case "done": {
        const a = r.answer;
        if (a.file.sha256 !== this.sha256) throw this.integrity(a.file.sha256);
        this.transferId = a.transferId;
        this.ctx.journal?.record(this.file, this.sha256, a.transferId);
        this.deduplicated = a.deduplicated;
        this.resumed = !a.deduplicated;
        this.bytesStored = this.file.size;
        this.finish();
        return;
      }
      case "switch":
        this.transferId = r.init.transferId;
        this.ctx.journal?.record(this.file, this.sha256, r.init.transferId, true);
        this.prepared = {
          action: "multipart",
          path: this.file.path,
          transferId: r.init.transferId,
          init: r.init,
        };
        this.enter("initialising");
        return;
    }
  }

  /** Redirected while sending or finishing: follows it. Whether it did. */
  private async followRedirect(): Promise<boolean> {
    const r = this.redirect;
    if (!r) return false;
    this.redirect = undefined;
    await this.follow(r);
    return true;
  }

  // ---- initialising

  private entry(): BatchFileEntry {
    const e: BatchFileEntry = {
      path: this.file.path,
      size: this.file.size,
      // Left out while the content is pending: the coordinator starts the upload at once.
      ...(!this.contentPending && { sha256: this.sha256 }),
      priority: this.priority,
      upload: this.kind,
      ...(this.kind === "single" && this.md5 !== undefined && { md5: this.md5 }),
    };
    if (this.kind === "multipart") {
      // Under the uniform rule: the size the first parts were cut at, within the store's limits.
      e.partSizeHint = this.parts.planner?.uniform ?? this.ctx.opts.partSize;
      if (this.parts.firstParts.length) e.parts = this.parts.firstParts;
    }
    const resumeId = this.transferId || this.known?.transferId;
    if (resumeId) e.resumeId = resumeId;
    return e;
  }

  private async onInitialising(): Promise<void> {
    this.checkStop();
    const a = this.prepared ?? (await this.ctx.init(this.entry()));
    this.prepared = undefined;
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
    const known = this.contentPending ? undefined : this.sha256;
    if (this.kind === "multipart" || a.action !== "put")
      this.ctx.journal?.record(this.file, known, a.transferId, this.kind === "multipart");
    else this.ctx.journal?.record(this.file, known, a.transferId);
    switch (a.action) {
      case "done": {
        if (this.contentPending) await this.contentKnown();
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

  // ---- sending, single PUT (single-put.ts)

  private async onSendingSingle(): Promise<void> {
    this.checkStop();
    const a = this.answer;
    if (a?.action !== "put") throw new Error("single send without a PUT answer");
    if (!this.whole.body) {
      await this.whole.hold();
      if (sha256Hex(await this.whole.read()) !== this.sha256) throw changedError(this.file.shown);
    }
    if (Date.parse(a.put.expiresAt) <= Date.now() && this.putRepeats < PART_REPEATS) {
      // Spent while the file waited (a URL only needs to be valid when the PUT starts): a fresh answer.
      this.putRepeats++;
      this.enter("initialising");
      return;
    }
    const renew = await putWhole(this.host, a, this.whole.body as Buffer, this.putRepeats < PART_REPEATS);
    if (renew) {
      this.putRepeats++;
      this.enter("initialising");
      return;
    }
    this.whole.release();
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

  // ---- multipart: what to send (part-runner.ts plans it)

  private async setUpParts(init: InitResponse): Promise<void> {
    this.resumed = init.resumed;
    this.deduplicated = init.deduplicated;
    if (init.status === "complete") {
      if (this.contentPending) await this.contentKnown();
      if (init.file.sha256 !== this.sha256) throw this.integrity(init.file.sha256);
      this.bytesStored = this.file.size;
      this.emitStart();
      this.finish();
      return;
    }
    this.bytesStored = init.file.bytesDone;
    this.emitStart();
    // The uniform rule: the upload's one part size is the coordinator's (recorded at its creation).
    if (this.rules.uniformParts) this.parts.fixSize(init.partSize);
    this.parts.addUrls(init.presigned);
    let gaps = init.missing;
    if (init.unrecorded.length) gaps = await this.parts.adoptUnrecorded(init.unrecorded, gaps);
    this.parts.planGaps(gaps);
    if (this.contentPending) this.startNaming();
    this.enter(this.parts.hasWork ? "sending" : "finishing");
  }

  /** The whole-file SHA-256, waited for (an answer that needs it came before it). */
  private async contentKnown(): Promise<void> {
    this.sha256 = await (this.hashing as ContentHash).sha256;
    await this.checkUnchanged();
  }

  // ---- multipart: sending (part-runner.ts)

  private report(): ClientReport {
    return {
      retries: this.retries,
      speedBps: Math.round(this.speedBps),
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  private async onSendingParts(): Promise<void> {
    this.checkStop();
    await this.parts.send();
    if (await this.followRedirect()) return;
    if (this.ctx.stop.aborted || this.ctx.abort.aborted) {
      await this.parts.recordNow();
      throw this.ctx.fatal() ?? interrupted();
    }
    this.enter("finishing");
  }

  // ---- multipart: finishing

  private async onFinishingParts(): Promise<void> {
    this.checkStop();
    // Assembly needs the SHA-256 named (receivers check the whole file against it).
    await this.naming;
    if (await this.followRedirect()) return;
    this.checkStop();
    await this.checkUnchanged();
    await this.parts.recording;
    this.checkStop();
    const last = await this.parts.recordAllButLast();
    let summary: Awaited<ReturnType<Transport["assemble"]>>;
    try {
      summary = await this.ctx.transport.assemble(
        this.transferId,
        last.map((b) => b.spec),
        this.report(),
      );
    } catch (err) {
      this.parts.unsent.unshift(...last);
      if (err instanceof CliError && err.code === "PARTS_MISSING" && this.assembleRepeats < PART_REPEATS) {
        // Storage lost something after it was recorded: ask again what is missing and send it.
        this.assembleRepeats++;
        const m = await this.ctx.transport.missing(this.transferId);
        this.parts.unsent = [];
        this.bytesStored = m.bytesDone;
        let gaps = m.missing;
        if (m.unrecorded.length) gaps = await this.parts.adoptUnrecorded(m.unrecorded, gaps);
        this.parts.planGaps(gaps);
        this.enter("sending");
        return;
      }
      throw err;
    }
    this.parts.acknowledge(last);
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
