/**
 * The multipart part pipeline of one file in the browser, after the CLI's (cli/engine/send/part-runner.ts),
 * over the engine's ports. What to send is planned by part-plan.ts (missing ranges, adoption of parts
 * storage holds unrecorded); the records of what storage accepted are kept by part-records.ts. This
 * module is the PUT loop: `ctx.lookahead` runners that read a part by Blob.slice within the memory budget,
 * hash it (SHA-256, and MD5 in md5 mode), get its URL (specs coalesced into one presign call at a time,
 * which also carries the part records; a URL near its expiry, or refused as expired, is renewed) and PUT
 * it in a "part" slot with the shared retry policy, telling the link model how it went.
 *
 * Records and plan are kept across runs of the file (a pause, going offline) and reconciled with every
 * init answer; a run stopped records what storage holds at once, so a reload loses nothing.
 */

import { isUrlExpired } from "../../../cli/engine/classify.js";
import { CliError } from "../../../cli/engine/errors.js";
import { lossKind } from "../../../cli/engine/link-model.js";
import type { PlannedPart } from "../../../cli/engine/planner.js";
import { withRetries } from "../../../cli/engine/retry.js";
import { presignedInOrder } from "../../../cli/engine/send/presigned.js";
import { MAX_PRESIGN_BATCH } from "../../../functions/contract/limits.js";
import type {
  FileSummary,
  PartRecordSpec,
  PartSpec,
  PresignedPart,
} from "../../../functions/contract/schemas.js";
import { abortable } from "./abortable.js";
import { Batcher } from "./batcher.js";
import { readSlice } from "./file-read.js";
import type { FileContext, FileUpload } from "./file-upload.js";
import { PartPlan, type PartsView } from "./part-plan.js";
import { PartRecords } from "./part-records.js";

export type { PartsView } from "./part-plan.js";

/** A URL with less life than this left is renewed before its PUT starts (it may wait for a slot first). */
export const URL_MARGIN_MS = 60_000;

export class PartSender {
  private readonly records: PartRecords;
  private readonly planned: PartPlan;

  constructor(private readonly f: FileUpload) {
    this.records = new PartRecords(() => f.transferId);
    this.planned = new PartPlan(f, this.records);
  }

  /** The size the next part would get (the view's line), once planned. */
  get partSize(): number | undefined {
    return this.planned.partSize;
  }

  get hasWork(): boolean {
    return this.planned.hasWork;
  }

  /**
   * Every call carrying this file's records (an earlier run's too) has settled, so the coordinator's next
   * view of the upload includes them (part-records.ts).
   */
  settled(ctx: FileContext): Promise<void> {
    return abortable(this.records.settled(ctx.recordSettleMs), ctx.signal);
  }

  /** Plans what to send from the coordinator's view: records reconciled, unrecorded parts adopted. */
  async plan(ctx: FileContext, view: PartsView): Promise<void> {
    this.records.newPlan();
    await this.planned.plan(ctx, view);
  }

  /**
   * Sends what is planned with `ctx.lookahead` runners. Resolves when every part is stored, or quietly
   * when the run is stopped (the records stay for the next run); rejects with the first part's failure.
   */
  async send(ctx: FileContext): Promise<void> {
    if (!this.hasWork) return;
    const local = new AbortController();
    const signal = AbortSignal.any([ctx.signal, local.signal]);
    const gen = this.records.gen;
    const presigner = new Batcher<PartSpec, PresignedPart>(
      async (specs) => {
        const done = this.records.take(false, gen);
        try {
          const r = await this.records.carry(
            ctx.coordinator.presign(this.f.transferId as string, specs, done.records),
          );
          return presignedInOrder(specs, r.parts);
        } catch (err) {
          this.records.giveBack(done);
          throw err;
        }
      },
      { maxItems: MAX_PRESIGN_BATCH, maxInFlight: 1 },
    );
    let failure: { err: unknown } | undefined;
    const runner = async () => {
      for (;;) {
        if (failure || signal.aborted) return;
        const part = this.planned.take();
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
    if (ctx.signal.aborted) this.records.kick(ctx.coordinator);
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
      this.records.add(record);
      this.f.stored(part.size);
      ctx.changed();
      this.records.soon(ctx.coordinator);
    } finally {
      memory.release();
    }
  }

  /** Every part is stored: the records beyond one call's worth go first, the rest with the assemble call. */
  assemble(ctx: FileContext): Promise<FileSummary> {
    return this.records.assemble(ctx.coordinator, ctx.signal);
  }
}
