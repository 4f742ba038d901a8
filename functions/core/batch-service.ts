/**
 * Batches: one `sfts send` worth of files, found again by its manifest digest. Creating (or finding) a
 * batch, adding its files (batch-files.ts), completing single PUTs in bulk (batch-completion.ts),
 * cancelling, and reading. Batch status: open → complete (every file complete) or → aborted (cancelled).
 * Multipart files of a batch finish through the transfer service, which tells onTransferEnded.
 */
import type {
  AbortBatchResponse,
  AddBatchFilesResponse,
  BatchDetail,
  BatchSummary,
  CompleteBatchFilesResponse,
  CreateBatchResponse,
  ListBatchesResponse,
  ListBatchFilesResponse,
} from "../contract/batches.js";
import { MAX_PAGE_SIZE, MAX_SINGLE_PUT_SIZE } from "../contract/limits.js";
import type { Limits, Priority } from "../contract/schemas.js";
import { completeFiles } from "./batch-completion.js";
import {
  type BatchContext,
  type BatchServiceDeps,
  batchContext,
  batchFileSummary,
  CHECK_PARALLEL,
} from "./batch-context.js";
import { abortUnfinished, answerFiles } from "./batch-files.js";
import { type ParsedEntry, planEntries } from "./batch-plan.js";
import { AppError } from "./errors.js";
import { newTransferId } from "./ids.js";
import { mapLimit } from "./map-limit.js";
import type { BatchRecord, ListBatchesQuery, TransferRecord } from "./ports.js";

export interface CreateBatchInput {
  name: string;
  digest: string;
  fileCount: number;
  totalBytes: number;
  priority: Priority;
  dirs?: string[] | undefined;
  files?: ParsedEntry[] | undefined;
}

export function batchSummary(b: BatchRecord): BatchSummary {
  const s: BatchSummary = {
    id: b.id,
    name: b.name,
    status: b.status,
    digest: b.digest,
    priority: b.priority,
    fileCount: b.fileCount,
    totalBytes: b.totalBytes,
    filesComplete: Math.max(0, b.filesComplete),
    bytesComplete: Math.max(0, b.bytesComplete),
    filesFailed: Math.max(0, b.filesFailed),
    createdAt: b.createdAt,
    updatedAt: b.updatedAt,
  };
  if (b.completedAt !== undefined) s.completedAt = b.completedAt;
  return s;
}

/** Batch ids share the transfer ids' layout (time-sorted), with their own prefix. */
export const newBatchId = (nowMs: number): string => `bt_${newTransferId(nowMs).slice(3)}`;

export class BatchService {
  private readonly ctx: BatchContext;

  constructor(
    deps: BatchServiceDeps,
    private readonly limits: () => Limits,
  ) {
    this.ctx = batchContext(deps);
  }

  async create(input: CreateBatchInput): Promise<CreateBatchResponse> {
    const files = input.files ?? [];
    if (files.length > input.fileCount)
      throw new AppError(
        "INVALID_INPUT",
        `The batch declares ${input.fileCount} file(s) but this call carries ${files.length}.`,
      );
    const planned = planEntries(files, input.priority, this.ctx.profile);
    const now = this.ctx.clock.now();
    const at = now.toISOString();
    const fresh: BatchRecord = {
      id: newBatchId(now.getTime()),
      name: input.name,
      digest: input.digest,
      priority: input.priority,
      // A manifest of empty folders only has nothing to wait for.
      status: input.fileCount === 0 ? "complete" : "open",
      fileCount: input.fileCount,
      totalBytes: input.totalBytes,
      filesComplete: 0,
      bytesComplete: 0,
      filesFailed: 0,
      dirs: input.dirs ?? [],
      createdAt: at,
      updatedAt: at,
      ...(input.fileCount === 0 && { completedAt: at }),
    };
    const { batch, created } = await this.ctx.batches.createOrFindBatch(fresh);
    const answers = planned.length ? await answerFiles(this.ctx, batch, planned) : [];
    const after = answers.length ? ((await this.ctx.batches.getBatch(batch.id)) ?? batch) : batch;
    return {
      batchId: batch.id,
      resumed: !created,
      batch: batchSummary(after),
      limits: this.limits(),
      maxSinglePutSize: MAX_SINGLE_PUT_SIZE,
      files: answers,
    };
  }

  async addFiles(id: string, files: ParsedEntry[]): Promise<AddBatchFilesResponse> {
    const batch = await this.mustGet(id);
    const planned = planEntries(files, batch.priority, this.ctx.profile);
    if (batch.status === "aborted")
      throw new AppError("INVALID_STATE", `Batch ${id} was cancelled; send the files as a new batch.`, {
        status: batch.status,
      });
    return { files: await answerFiles(this.ctx, batch, planned) };
  }

  async complete(id: string, transferIds: readonly string[]): Promise<CompleteBatchFilesResponse> {
    const batch = await this.mustGet(id);
    const r = await completeFiles(this.ctx, batch, transferIds);
    const after = r.batch ?? (await this.mustGet(id));
    return { files: r.files, batch: batchSummary(after) };
  }

  /** Cancel: every unfinished file is aborted (storage releases what it holds for it), then the batch. */
  async abort(id: string): Promise<AbortBatchResponse> {
    const batch = await this.mustGet(id);
    if (batch.status === "complete")
      throw new AppError("INVALID_STATE", `Batch ${id} is complete; there is nothing to cancel.`, {
        status: batch.status,
      });
    const now = this.ctx.clock.now().toISOString();
    let aborted = 0;
    // A cancel cut short is finished by the next one: an aborted batch is swept again.
    for (let cursor: string | undefined, first = true; first || cursor; first = false) {
      const page = await this.ctx.batches.listBatchFiles(id, { limit: MAX_PAGE_SIZE, cursor });
      cursor = page.cursor;
      const open = page.items.filter((t) => ["uploading", "assembling", "failed"].includes(t.status));
      const moved = await mapLimit(open, CHECK_PARALLEL, (t) => abortUnfinished(this.ctx, t.id));
      aborted += moved.filter(Boolean).length;
    }
    const after =
      (await this.ctx.batches.setBatchStatus(id, ["open"], "aborted", now)) ?? (await this.mustGet(id));
    return { batch: batchSummary(after), aborted };
  }

  async get(id: string): Promise<BatchDetail> {
    const b = await this.mustGet(id);
    return { ...batchSummary(b), dirs: b.dirs ?? [] };
  }

  async list(q: ListBatchesQuery): Promise<ListBatchesResponse> {
    const page = await this.ctx.batches.listBatches(q);
    return { items: page.items.map(batchSummary), nextCursor: page.cursor ?? null };
  }

  async listFiles(
    id: string,
    q: { limit: number; cursor?: string | undefined },
  ): Promise<ListBatchFilesResponse> {
    await this.mustGet(id);
    const page = await this.ctx.batches.listBatchFiles(id, q);
    return { items: page.items.map(batchFileSummary), nextCursor: page.cursor ?? null };
  }

  /**
   * The transfer service's hook: a multipart file of a batch ended (assembled, or given up on). Counted
   * into its batch; advisory like stats, so a failure here is reported, not passed on. Aborts are not
   * counted: a cancel or a superseded transfer is not a failed file.
   */
  async onTransferEnded(t: TransferRecord, status: "complete" | "failed" | "aborted"): Promise<void> {
    if (t.batchId === undefined || status === "aborted") return;
    const counts = status === "complete" ? { filesComplete: 1, bytesComplete: t.size } : { filesFailed: 1 };
    try {
      await this.ctx.batches.addToBatch(t.batchId, counts, this.ctx.clock.now().toISOString());
    } catch (err) {
      this.ctx.warn("batch counter update failed", {
        batchId: t.batchId,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private async mustGet(id: string): Promise<BatchRecord> {
    const b = await this.ctx.batches.getBatch(id);
    if (!b) throw new AppError("NOT_FOUND", `No batch ${id}.`);
    return b;
  }
}
