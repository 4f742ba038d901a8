/**
 * The multipart part pipeline of one file: which parts to send (the first parts hashed with the file, the
 * missing ranges, the rest planned as it goes), runners that read and hash parts ahead (within the memory
 * budget), get their URLs ahead (the first from the init answer, the rest coalesced into presign calls) and
 * PUT when the scheduler grants a slot; and the part records, carried on the next presign call, sent in
 * bulk soon after, or handed to the assemble call. Resume: parts storage holds that nobody recorded are
 * read back and adopted instead of sent again (`carve`). A file whose upload is redirected once its content
 * is known (stored already, another upload of it) is stopped at once (`stop`) and planned afresh
 * (`restart`) from the next init answer.
 *
 * Storage rules (storage-rules.ts): in md5 mode each part's MD5 is computed from the buffer its SHA-256
 * is (the first parts' in the hashing pass) and goes in its spec; under the uniform rule the planner's
 * part size is the upload's (`fixSize`: the init answer's partSize), missing ranges are refilled with the
 * positional parts that cover them, and only positional unrecorded parts are adopted.
 */
import { MAX_INIT_PARTS, MAX_PRESIGN_BATCH, MAX_RECORD_BATCH } from "../../../functions/contract/limits.js";
import { partSizeFor } from "../../../functions/contract/part-rules.js";
import type {
  MissingRange,
  PartRecordSpec,
  PartSpec,
  PresignedPart,
  UnrecordedPart,
} from "../../../functions/contract/schemas.js";
import { CliError } from "../errors.js";
import { changedError, sha256Hex } from "../file-io.js";
import { lossKind } from "../link-model.js";
import { carve, PartPlanner, PartQueue, type PlannedPart } from "../planner.js";
import { withRetries } from "../retry.js";
import { Coalescer } from "./coalescer.js";
import type { SendHost } from "./file-transfer.js";
import type { OpenFile } from "./local-files.js";
import { presignedInOrder } from "./presigned.js";
import { md5Base64 } from "./storage-rules.js";

/** Records no presign call took go in bulk this soon (the dashboard's progress, and a crash, want them). */
const RECORD_WITHIN_MS = 250;
/** A URL with less life than this left is not started on (it may wait for a slot meanwhile). */
const URL_MARGIN_MS = 2_000;

export interface PendingRecord {
  spec: PartRecordSpec;
  seconds: number;
  attempt: number;
}

export class PartRunner {
  planner: PartPlanner | undefined;
  firstParts: PartSpec[] = [];
  /** Parts stored that the server has not recorded yet. */
  unsent: PendingRecord[] = [];
  /** The bulk record call on its way, if any. */
  recording: Promise<void> | undefined;
  private readonly queue = new PartQueue();
  private readonly urls = new Map<number, PresignedPart>();
  private handle: OpenFile | undefined;
  private presigner: Coalescer<PartSpec, PresignedPart> | undefined;
  private partFailure: unknown;
  private recordTimer: NodeJS.Timeout | undefined;
  /** Stopped by a redirect: runners end, and what they fail with is no failure of the file. */
  private stopped = false;
  /** Bumped by restart: a record call for the upload left behind must not hand its records back. */
  private generation = 0;

  constructor(private readonly host: SendHost) {}

  /** Stops the parts: runners take no new part, and those in flight (cut by the file's signal) end quietly. */
  stop(): void {
    this.stopped = true;
  }

  /** After a stop: forgets what was planned, presigned and left unrecorded for the upload left behind. */
  restart(): void {
    this.stopTimer();
    this.recordTimer = undefined;
    this.generation++;
    this.stopped = false;
    this.partFailure = undefined;
    this.queue.clear();
    this.urls.clear();
    this.unsent = [];
    this.presigner = undefined;
  }

  /** Anything left to send. */
  get hasWork(): boolean {
    return this.queue.hasWork;
  }

  /**
   * The first parts, hashed before the init and presigned in its answer: `initParts`, within `maxBytes`.
   * Under the uniform rule they have the size the entry hints (the one the coordinator will fix).
   */
  planFirstParts(initParts: number, maxBytes = Number.POSITIVE_INFINITY): void {
    const { file, ctx, rules } = this.host;
    const planner = this.newPlanner(
      rules.uniformParts ? partSizeFor(file.size, ctx.opts.partSize, rules) : undefined,
    );
    this.firstParts = [];
    const count = Math.min(MAX_INIT_PARTS, initParts);
    for (let offset = 0, n = 1; offset < file.size && this.firstParts.length < count; n++) {
      const p = planner.next(offset, n);
      if (this.firstParts.length > 0 && offset + p.size > maxBytes) break;
      this.firstParts.push({ ...p, sha256: "" });
      offset = p.offset + p.size;
    }
  }

  private newPlanner(uniform: number | undefined): PartPlanner {
    const { file, ctx, rules } = this.host;
    this.planner = new PartPlanner({
      fileSize: file.size,
      initial: ctx.opts.partSize,
      adaptive: ctx.opts.adaptive,
      ...(ctx.opts.maxPartSize !== undefined && { ceiling: ctx.opts.maxPartSize }),
      suggest: () => ctx.scheduler.link.partSize,
      spread: ctx.scheduler.link.ceiling,
      uniform,
      limits: rules,
    });
    return this.planner;
  }

  /**
   * The uniform rule: the upload's part size as the coordinator fixed it (a resume keeps the recorded
   * one). First parts planned at another size are dropped (their URLs too): the missing ranges say again
   * what to send, at this size.
   */
  fixSize(partSize: number): void {
    if (this.planner?.uniform === partSize) return;
    this.newPlanner(partSize);
    for (const p of this.firstParts) this.urls.delete(p.partNumber);
    this.firstParts = [];
  }

  /** URLs that came with the init answer. */
  addUrls(presigned: readonly PresignedPart[]): void {
    for (const p of presigned) this.urls.set(p.partNumber, p);
  }

  private async openFile(): Promise<OpenFile> {
    this.handle ??= await this.host.ctx.files.open(this.host.file.local);
    return this.handle;
  }

  /** Stops the record timer (the file has ended). */
  stopTimer(): void {
    if (this.recordTimer) clearTimeout(this.recordTimer);
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  planGaps(gaps: readonly MissingRange[]): void {
    // A new upload: the parts hashed with the file first (their URLs came with the answer), then the rest.
    this.queue.plan(this.planner as PartPlanner, this.host.file.size, gaps, this.firstParts);
  }

  /**
   * Parts storage holds that nobody recorded (a crash between PUT and record): each is read back at its
   * offset and, if its SHA-256 matches, recorded instead of sent again; its bytes leave the missing ranges.
   */
  async adoptUnrecorded(unrecorded: readonly UnrecordedPart[], gaps: readonly MissingRange[]) {
    const { file, ctx } = this.host;
    let out = [...gaps];
    const h = await this.openFile();
    const uniform = this.planner?.uniform;
    for (const u of unrecorded) {
      if (u.offset + u.size > file.size) continue;
      // Under the uniform rule only a part where it belongs, of the upload's size, can be assembled.
      if (
        uniform !== undefined &&
        (u.offset !== (u.partNumber - 1) * uniform || u.size !== Math.min(uniform, file.size - u.offset))
      )
        continue;
      const lease = await ctx.scheduler.acquire({
        bytes: u.size,
        priority: this.host.priority,
        signal: ctx.stop,
      });
      const buf = ctx.pool.acquire(u.size);
      let same = false;
      try {
        same = sha256Hex(await h.read(u.offset, u.size, buf)) === u.sha256;
      } finally {
        ctx.pool.release(buf);
        lease.release();
      }
      if (!same) continue;
      const carved = carve(out, u, file.size);
      if (!carved) continue;
      out = carved;
      this.unsent.push({
        spec: { partNumber: u.partNumber, offset: u.offset, size: u.size, sha256: u.sha256, etag: u.etag },
        seconds: 0,
        attempt: 0,
      });
      this.host.stored(u.size);
    }
    return out;
  }

  private takePart(): PlannedPart | undefined {
    return this.queue.take(this.planner as PartPlanner);
  }

  /** Sends what is left with `lookahead` runners; rejects with the first part's failure. */
  async send(): Promise<void> {
    const { ctx } = this.host;
    await this.openFile();
    this.partFailure = undefined;
    this.presigner ??= new Coalescer<PartSpec, PresignedPart>(
      async (parts) => {
        const gen = this.generation;
        const done = this.unsent.splice(0, MAX_RECORD_BATCH);
        try {
          const r = await ctx.transport.presign(
            this.host.transferId,
            parts,
            done.map((d) => d.spec),
            this.host.report(),
          );
          this.acknowledge(done);
          return presignedInOrder(parts, r.parts);
        } catch (err) {
          if (gen === this.generation) this.unsent.unshift(...done);
          throw err;
        }
      },
      { maxItems: MAX_PRESIGN_BATCH },
    );
    const runners = Math.max(1, ctx.opts.lookahead);
    ctx.scheduler.activate(this.host.priority, true);
    try {
      await Promise.all(Array.from({ length: runners }, () => this.partRunner()));
    } finally {
      ctx.scheduler.activate(this.host.priority, false);
    }
    await this.recording;
    if (this.partFailure !== undefined) throw this.partFailure;
  }

  private async partRunner(): Promise<void> {
    for (;;) {
      if (this.partFailure !== undefined || this.host.ctx.stop.aborted || this.stopped) return;
      const part = this.takePart();
      if (!part) return;
      try {
        await this.sendPart(part);
      } catch (err) {
        // Redirected (the content was named): what the parts of the upload left behind fail with is moot.
        if (this.stopped || (await this.host.redirecting())) return;
        if (this.host.ctx.stop.aborted && !(err instanceof CliError && err.code !== "INTERRUPTED")) return;
        if (this.partFailure === undefined) {
          this.partFailure = err;
          // The file fails: its other parts in flight stop too.
          this.host.abortFile(err);
        }
        return;
      }
    }
  }

  private async sendPart(part: PlannedPart): Promise<void> {
    const host = this.host;
    const { ctx } = host;
    const sched = ctx.scheduler;
    const memory = await sched.acquire({ bytes: part.size, priority: host.priority, signal: ctx.stop });
    const buf = ctx.pool.acquire(part.size);
    try {
      const h = await this.openFile();
      const body = await h.read(part.offset, part.size, buf);
      const sha256 = sha256Hex(body);
      // md5 mode only: the same buffer's MD5, signed as Content-MD5 (sha256 mode computes nothing more).
      const md5 = host.rules.partCheck === "md5" ? md5Base64(body) : undefined;
      const planned = this.firstParts.find((p) => p.partNumber === part.partNumber);
      if (
        planned &&
        planned.offset === part.offset &&
        planned.size === part.size &&
        planned.sha256 !== sha256
      )
        throw changedError(host.file.shown);
      const spec: PartSpec = { ...part, sha256, ...(md5 !== undefined && { md5 }) };
      let url: PresignedPart | undefined = this.urls.get(part.partNumber);
      this.urls.delete(part.partNumber);
      if (!url || Date.parse(url.expiresAt) - Date.now() < URL_MARGIN_MS || (url && !sameSpec(planned, spec)))
        url = await (this.presigner as Coalescer<PartSpec, PresignedPart>).submit(spec);
      const link = sched.link;
      let attempt = 0;
      let seconds = 0;
      const { etag } = await withRetries(
        async () => {
          attempt++;
          if (!url) url = await (this.presigner as Coalescer<PartSpec, PresignedPart>).submit(spec);
          const current = url;
          // A slot per attempt: a part waiting out its backoff holds none, and a lower limit (a drop,
          // throttling) takes effect at the next attempts, not only when parts end.
          const slot = await sched.acquire({ slot: "part", priority: host.priority, signal: ctx.stop });
          host.inFlightWritten.set(part.partNumber, 0);
          const t0 = performance.now();
          link.started();
          try {
            const r = await ctx.transport.put({
              url: current.url,
              headers: current.headers,
              body,
              flow: host.file.shown,
              signal: host.signal,
              onBytes: (n) => {
                host.sent(n);
                link.progress(n);
                host.inFlightWritten.set(
                  part.partNumber,
                  (host.inFlightWritten.get(part.partNumber) ?? 0) + n,
                );
              },
            });
            seconds = (performance.now() - t0) / 1000;
            link.succeeded(part.size, seconds);
            return r;
          } catch (err) {
            if (err instanceof CliError && err.code === "URL_EXPIRED") url = undefined;
            // What the failure says of the link (a reset, a stall, throttling…), or nothing (aborted).
            const kind = err instanceof CliError ? lossKind(err.code) : undefined;
            if (kind) link.failed(kind);
            else link.abandoned();
            throw err;
          } finally {
            host.inFlightWritten.delete(part.partNumber);
            slot.release();
          }
        },
        {
          policy: ctx.opts.retry,
          signal: host.signal,
          onRetry: (info) => host.onRetry(info, "PUT part", part.partNumber),
        },
      );
      host.stored(part.size);
      this.unsent.push({ spec: { ...spec, etag }, seconds, attempt });
      // Records ride on the next presign call, or the assemble call; within a second in bulk at the latest.
      this.recordSoon();
    } finally {
      ctx.pool.release(buf);
      memory.release();
    }
  }

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
    const gen = this.generation;
    const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
    this.recording = this.host.ctx.transport
      .recordParts(
        this.host.transferId,
        batch.map((b) => b.spec),
        this.host.report(),
      )
      .then(
        () => this.acknowledge(batch),
        () => {
          // Kept for the next presign or the assemble call, which surface a lasting failure.
          if (gen === this.generation) this.unsent.unshift(...batch);
        },
      )
      .finally(() => {
        this.recording = undefined;
      });
  }

  /** Before stopping: whatever storage holds that the server has not heard of yet (best effort). */
  async recordNow(): Promise<void> {
    await this.recording;
    while (this.unsent.length) {
      const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
      try {
        await this.host.ctx.transport.recordParts(
          this.host.transferId,
          batch.map((b) => b.spec),
          this.host.report(),
        );
        this.acknowledge(batch);
      } catch {
        return;
      }
    }
  }

  /** Before assembling: records beyond what one assemble call carries go in bulk; the rest is returned. */
  async recordAllButLast(): Promise<PendingRecord[]> {
    while (this.unsent.length > MAX_RECORD_BATCH) {
      const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
      await this.host.ctx.transport.recordParts(
        this.host.transferId,
        batch.map((b) => b.spec),
        this.host.report(),
      );
      this.acknowledge(batch);
    }
    return this.unsent.splice(0);
  }

  /** The server has recorded these parts: they are reported as sent. */
  acknowledge(records: PendingRecord[]): void {
    const { ctx, file } = this.host;
    for (const r of records)
      if (r.attempt > 0)
        ctx.emit({
          type: "part",
          file: file.shown,
          transferId: this.host.transferId,
          partNumber: r.spec.partNumber,
          offset: r.spec.offset,
          size: r.spec.size,
          sha256: r.spec.sha256,
          seconds: r.seconds,
          attempt: r.attempt,
        });
  }
}

const sameSpec = (a: PartSpec | undefined, b: PartSpec) =>
  a !== undefined && a.offset === b.offset && a.size === b.size && a.sha256 === b.sha256 && a.md5 === b.md5;
