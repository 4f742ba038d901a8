/**
 * Which parts of one file's multipart upload go next, after the CLI's (cli/engine/send/part-runner.ts):
 * planned over the coordinator's missing ranges by the CLI's PartPlanner (adaptive sizes from the link
 * model, or the upload's one size under the uniform rule). A hole between recorded parts is filled at
 * once; the range that ends the file is planned part by part as it goes (each part sized by the link
 * model of that moment).
 *
 * Adoption (resume): parts storage holds that nobody recorded (a reload, a crash, a pause before the
 * record went) are taken as this file's when their SHA-256 matches its bytes there, without sending them
 * again: a part this page PUT itself is known by its record (part-records.ts), any other is read back
 * (by Blob.slice, within the memory budget) and hashed. Adopted parts are carved out of the missing
 * ranges and wait to be recorded.
 */
import { carve, PartPlanner, PartQueue, type PlannedPart } from "../../../cli/engine/planner.js";
import { MIN_PART_SIZE } from "../../../functions/contract/limits.js";
import type { MissingRange, PartRecordSpec, UnrecordedPart } from "../../../functions/contract/schemas.js";
import { readSlice } from "./file-read.js";
import type { FileContext, FileUpload } from "./file-upload.js";
import type { PartRecords } from "./part-records.js";

/** What the coordinator says of an upload's parts (an init answer, or GET missing). */
export interface PartsView {
  /** The upload's part size under the uniform rule (the init answer's); absent: keep the one planned. */
  partSize?: number;
  missing: readonly MissingRange[];
  parts: readonly { partNumber: number; offset: number; size: number; sha256: string }[];
  unrecorded: readonly UnrecordedPart[];
}

const unquote = (etag: string) => etag.replace(/^"+|"+$/g, "");

export class PartPlan {
  private readonly queue = new PartQueue();
  private planner: PartPlanner | undefined;

  constructor(
    private readonly f: FileUpload,
    private readonly records: PartRecords,
  ) {}

  /** The size the next part would get (the view's line), once planned. */
  get partSize(): number | undefined {
    return this.planner?.current;
  }

  get hasWork(): boolean {
    return this.queue.hasWork;
  }

  /** Plans what to send from the coordinator's view: records reconciled, unrecorded parts adopted. */
  async plan(ctx: FileContext, view: PartsView): Promise<void> {
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
    for (const p of view.parts) this.records.recorded(p.partNumber);
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
      this.records.add(record);
      this.f.held(u.size);
    }
    this.queue.plan(this.planner, size, gaps);
  }

  /** Whether the file's bytes where `u` sits are the part storage holds (known from this page, or read). */
  private async holds(ctx: FileContext, u: UnrecordedPart): Promise<boolean> {
    const mine = this.records.mine(u.partNumber);
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

  /** The next part to send, if any is left. */
  take(): PlannedPart | undefined {
    return this.planner ? this.queue.take(this.planner) : undefined;
  }
}
