/**
 * The multipart part pipeline of one file in the browser, after the CLI's (cli/engine/send/part-runner.ts),
 * over the engine's ports: which parts to send (planned over the init answer's missing ranges by the
 * CLI's PartPlanner: adaptive sizes from the link model, or the upload's one size under the uniform
 * rule), runners that read a part by Blob.slice within the memory budget, hash it (SHA-256, and MD5 in
 * md5 mode), get its URL (specs coalesced into one presign call at a time, which also carries the part
 * records) and PUT it in a "part" slot with the shared retry policy; the records, carried on the next
 * presign call, flushed soon after by a presign call of records alone, or handed to the assemble call.
 *
 * Resume: parts storage holds that nobody recorded (a reload, a crash, a pause before the record went)
 * are taken as this file's when their SHA-256 matches its bytes there, without sending them again: a
 * part this page PUT itself is known by its record, any other is read back and hashed. The records are
 * kept across runs of the file (a pause, going offline) and reconciled with every init answer.
 */

import { isUrlExpired } from "../../../cli/engine/classify.js";
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import { lossKind } from "../../../cli/engine/link-model.js";
import { carve, PartPlanner, type PlannedPart } from "../../../cli/engine/planner.js";
import { withRetries } from "../../../cli/engine/retry.js";
import { MAX_PRESIGN_BATCH, MAX_RECORD_BATCH, MIN_PART_SIZE } from "../../../functions/contract/limits.js";
import type {
  FileSummary,
  MissingRange,
  PartRecordSpec,
  PartSpec,
  PresignedPart,
  UnrecordedPart,
} from "../../../functions/contract/schemas.js";
import { abortable } from "./abortable.js";
import { Batcher } from "./batcher.js";
import { readSlice } from "./file-read.js";
import type { FileContext, FileUpload } from "./file-upload.js";

/**
 * Records no presign call took go alone this soon (the CLI's figure): the dashboard's progress wants
 * them, and a reload may come at any moment (a part stored but not recorded is read back and hashed
 * after it, or, when a part before it was cut in flight, sent again).
 */
const RECORD_WITHIN_MS = 250;
/** A URL with less life than this left is renewed before its PUT starts (it may wait for a slot first). */
export const URL_MARGIN_MS = 60_000;

/** What the coordinator says of an upload's parts (an init answer, or GET missing). */
export interface PartsView {
  /** The upload's part size under the uniform rule (the init answer's); absent: keep the one planned. */
  partSize?: number;
  missing: readonly MissingRange[];
  parts: readonly { partNumber: number; offset: number; size: number; sha256: string }[];
  unrecorded: readonly UnrecordedPart[];
}

const unquote = (etag: string) => etag.replace(/^"+|"+$/g, "");

export class PartSender {
  /** Parts storage holds that the coordinator has not recorded yet. */
  private unsent: PartRecordSpec[] = [];
  /** Every part this page knows storage accepted for the upload, by number (adopted without reading). */
  private readonly known = new Map<number, PartRecordSpec>();
  /** Bumped by each plan: a call of an earlier run must not hand its records back. */
  private generation = 0;
  private queue: PlannedPart[] = [];
  private tail: { offset: number; next: number } | undefined;
  private planner: PartPlanner | undefined;
  private recordTimer: ReturnType<typeof setTimeout> | undefined;
  private recording: Promise<void> | undefined;
  /** The plan the record call on its way belongs to (one of an earlier run is not waited for). */
  private recordingGen = 0;

  constructor(private readonly f: FileUpload) {}

  /** The size the next part would get (the view's line), once planned. */
  get partSize(): number | undefined {
    return this.planner?.current;
  }

  get hasWork(): boolean {
    return this.queue.length > 0 || this.tail !== undefined;
  }

  /** Plans what to send from the coordinator's view: records reconciled, unrecorded parts adopted. */
  async plan(ctx: FileContext, view: PartsView): Promise<void> {
    this.generation++;
    this.stopTimer();
    this.unsent = [];
    const size = this.f.picked.size;
    const { rules } = ctx;
    if (!this.planner || view.partSize !== undefined) {
      const uniform = rules.uniformParts ? view.partSize : undefined;
      this.planner = new PartPlanner({
        fileSize: size,
        initial: view.partSize ?? ctx.maxPartSize,
        adaptive: uniform === undefined,
        ceiling: ctx.maxPartSize,
        suggest: () => ctx.scheduler.link.partSize,
        spread: ctx.scheduler.link.ceiling,
        uniform,
        limits: rules,
      });
    }
    for (const p of view.parts) this.known.delete(p.partNumber);
    let gaps: MissingRange[] = [...view.missing];
    const uniform = this.planner.uniform;
    for (const u of view.unrecorded) {
      if (u.offset + u.size > size) continue;
      if (
        uniform !== undefined &&
        (u.offset !== (u.partNumber - 1) * uniform || u.size !== Math.min(uniform, size - u.offset))
      )
        continue;
      if (!(await this.holds(ctx, u))) continue;
      const carved = carve(gaps, u, size, Math.max(rules.minPartSize, MIN_PART_SIZE));
      if (!carved) continue;
      gaps = carved;
      const record: PartRecordSpec = {
        partNumber: u.partNumber,
        offset: u.offset,
        size: u.size,
        sha256: u.sha256,
        etag: u.etag,
      };
      this.known.set(u.partNumber, record);
      this.unsent.push(record);
      this.f.held(u.size);
    }
    this.planGaps(gaps);
  }

  /** Whether the file's bytes where `u` sits are the part storage holds (known from this page, or read). */
  private async holds(ctx: FileContext, u: UnrecordedPart): Promise<boolean> {
    const mine = this.known.get(u.partNumber);
    if (mine)
      return (
        mine.offset === u.offset &&
        mine.size === u.size &&
        mine.sha256 === u.sha256 &&
        unquote(mine.etag) === unquote(u.etag)
      );
    const lease = await ctx.scheduler.acquire({ bytes: u.size, priority: ctx.priority, signal: ctx.signal });
    try {
      const bytes = await readSlice(this.f.picked, u.offset, u.size);
      return (await ctx.digests.sha256(bytes)) === u.sha256;
    } finally {
      lease.release();
    }
  }

  private planGaps(gaps: readonly MissingRange[]): void {
    const size = this.f.picked.size;
    const planner = this.planner as PartPlanner;
    this.queue = [];
    this.tail = undefined;
    for (const gap of gaps) {
      if (gap.size === 0) continue;
      // A range that ends the file has no recorded part after it: it is planned as it goes.
      const endsFile = gap.offset + gap.size === size;
      if (endsFile && planner.uniform !== undefined) {
        // Positional: a range that starts inside a part is covered by that whole part.
        const first = Math.floor(gap.offset / planner.uniform) + 1;
        this.tail = { offset: (first - 1) * planner.uniform, next: first };
      } else if (endsFile) this.tail = { offset: gap.offset, next: gap.firstPart };
      else this.queue.push(...fillHole(planner, gap));
    }
  }

  private takePart(): PlannedPart | undefined {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (!this.tail) return undefined;
    const part = (this.planner as PartPlanner).next(this.tail.offset, this.tail.next);
    const end = part.offset + part.size;
    this.tail = end >= this.f.picked.size ? undefined : { offset: end, next: part.partNumber + 1 };
    return part;
  }

  /**
   * Sends what is planned with `ctx.lookahead` runners. Resolves when every part is stored, or quietly
   * when the run is stopped (the records stay for the next run); rejects with the first part's failure.
   */
  async send(ctx: FileContext): Promise<void> {
    if (!this.hasWork) return;
    const local = new AbortController();
    const signal = AbortSignal.any([ctx.signal, local.signal]);
    const gen = this.generation;
    const presigner = new Batcher<PartSpec, PresignedPart>(
      async (specs) => {
        const done = this.unsent.splice(0, MAX_RECORD_BATCH);
        try {
          const r = await ctx.coordinator.presign(this.f.transferId as string, specs, done);
          const byNumber = new Map(r.parts.map((p) => [p.partNumber, p]));
          return specs.map((p) => {
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
          if (gen === this.generation) this.unsent.unshift(...done);
          throw err;
        }
      },
      { maxItems: MAX_PRESIGN_BATCH, maxInFlight: 1 },
    );
    let failure: { err: unknown } | undefined;
    const runner = async () => {
      for (;;) {
        if (failure || signal.aborted) return;
        const part = this.takePart();
        if (!part) return;
        try {
          await this.sendPart(ctx, part, presigner, signal);
        } catch (err) {
          if (ctx.signal.aborted || failure) return;
          failure = { err };
          // The file fails: its other parts in flight stop too.
          local.abort(err);
          return;
        }
      }
    };
    ctx.scheduler.activate(ctx.priority, true);
    try {
      await Promise.all(Array.from({ length: Math.max(1, ctx.lookahead) }, runner));
    } finally {
      ctx.scheduler.activate(ctx.priority, false);
      presigner.close(signal.reason ?? new Error("the parts are sent"));
    }
    // Stopped (pause, offline): what storage holds is recorded now, so a reload loses nothing.
    if (ctx.signal.aborted) this.kickRecords(ctx);
    if (failure) throw (failure as { err: unknown }).err;
  }

  private async sendPart(
    ctx: FileContext,
    part: PlannedPart,
    presigner: Batcher<PartSpec, PresignedPart>,
    signal: AbortSignal,
  ): Promise<void> {
    const sched = ctx.scheduler;
    const memory = await sched.acquire({ bytes: part.size, priority: ctx.priority, signal });
    try {
      const body = await readSlice(this.f.picked, part.offset, part.size);
      const sha256 = await ctx.digests.sha256(body);
      // md5 mode: the same bytes' MD5, signed as Content-MD5 (storage checks it).
      const md5 = ctx.rules.partCheck === "md5" ? await ctx.digests.md5(body) : undefined;
      const spec: PartSpec = { ...part, sha256, ...(md5 !== undefined && { md5 }) };
      let url: PresignedPart | undefined;
      const link = sched.link;
      const { etag } = await withRetries(
        async () => {
          if (!url || Date.parse(url.expiresAt) - Date.now() < URL_MARGIN_MS)
            url = await abortable(presigner.submit(spec), signal);
          const current = url;
          // A slot per attempt: a part waiting out its backoff holds none.
          const slot = await sched.acquire({ slot: "part", priority: ctx.priority, signal });
          let sent = 0;
          this.f.inFlight.set(part.partNumber, 0);
          const t0 = ctx.now();
          link.started();
          try {
            const r = await ctx.storage.put({
              url: current.url,
              headers: current.headers,
              body,
              signal,
              onProgress: (total) => {
                const delta = total - sent;
                if (delta <= 0) return;
                sent = total;
                link.progress(delta);
                ctx.uploaded(delta);
                this.f.inFlight.set(part.partNumber, Math.min(total, part.size));
                ctx.changed();
              },
            });
            link.succeeded(part.size, Math.max(0.001, (ctx.now() - t0) / 1000));
            return r;
          } catch (err) {
            if (isUrlExpired(err)) url = undefined;
            const kind = err instanceof CliError && !signal.aborted ? lossKind(err.code) : undefined;
            if (kind) link.failed(kind);
            else link.abandoned();
            throw err;
          } finally {
            this.f.inFlight.delete(part.partNumber);
            slot.release();
          }
        },
        { policy: ctx.retry, signal, onRetry: () => this.f.retried(ctx) },
      );
      const record: PartRecordSpec = { ...spec, etag };
      this.known.set(part.partNumber, record);
      this.unsent.push(record);
      this.f.stored(part.size);
      ctx.changed();
      this.recordSoon(ctx);
    } finally {
      memory.release();
    }
  }

  private recordSoon(ctx: FileContext): void {
    if (this.recordTimer) return;
    this.recordTimer = setTimeout(() => {
      this.recordTimer = undefined;
      this.kickRecords(ctx);
    }, RECORD_WITHIN_MS);
  }

  private stopTimer(): void {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = undefined;
  }

  /** Records go alone (a presign call of no parts) whenever no record call is on its way. */
  private kickRecords(ctx: FileContext): void {
    this.stopTimer();
    if (this.recording || this.unsent.length === 0 || !this.f.transferId) return;
    const gen = this.generation;
    const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
    this.recordingGen = gen;
    this.recording = ctx.coordinator
      .presign(this.f.transferId, [], batch)
      .then(
        () => {},
        () => {
          // Kept for the next presign or the assemble call, which surface a lasting failure.
          if (gen === this.generation) this.unsent.unshift(...batch);
        },
      )
      .finally(() => {
        this.recording = undefined;
      });
  }

  /** Every part is stored: the records beyond one call's worth go first, the rest with the assemble call. */
  async assemble(ctx: FileContext): Promise<FileSummary> {
    this.stopTimer();
    const gen = this.generation;
    if (this.recordingGen === gen) await abortable(this.recording ?? Promise.resolve(), ctx.signal);
    const id = this.f.transferId as string;
    while (this.unsent.length > MAX_RECORD_BATCH) {
      const batch = this.unsent.splice(0, MAX_RECORD_BATCH);
      try {
        await abortable(ctx.coordinator.presign(id, [], batch), ctx.signal);
      } catch (err) {
        if (gen === this.generation) this.unsent.unshift(...batch);
        throw err;
      }
    }
    const last = this.unsent.splice(0);
    try {
      return await abortable(ctx.coordinator.assemble(id, last), ctx.signal);
    } catch (err) {
      if (gen === this.generation) this.unsent.unshift(...last);
      throw err;
    }
  }
}

/**
 * The parts that refill a hole between recorded parts: the planner's, or, for a hole under S3's 5 MiB
 * that a store with smaller parts allows (the planner's split assumes S3's floor), one part of it all.
 */
function fillHole(planner: PartPlanner, gap: MissingRange): PlannedPart[] {
  try {
    return planner.fill(gap);
  } catch (err) {
    if (planner.uniform !== undefined || gap.lastPart < gap.firstPart) throw err;
    return [{ partNumber: gap.firstPart, offset: gap.offset, size: gap.size }];
  }
}
