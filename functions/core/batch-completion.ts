/**
 * POST /batch/{id}/complete: the files whose PUT storage accepted. Storage, not the caller, is trusted:
 * each single object is HEADed (16 at a time) and must hold the recorded size and SHA-256; then one
 * conditional transition uploading → complete and the dedupe entry (put-if-absent) per file, and for the
 * whole call one stats update and one batch-counter update, counting only transitions that happened.
 * A file storage does not hold answers PART_NOT_STORED and stays uploading (the sender PUTs it again).
 * Multipart files named here are assembled by the transfer service (which counts them into the batch).
 */
import type { CompletedFile } from "../contract/batches.js";
import { type BatchContext, CHECK_PARALLEL, storageHoldsObject } from "./batch-context.js";
import { addStatus } from "./batch-files.js";
import { AppError } from "./errors.js";
import { mapLimit } from "./map-limit.js";
import type { BatchCounts, BatchRecord, StatsDelta, TransferRecord } from "./ports.js";

export async function completeFiles(
  ctx: BatchContext,
  batch: BatchRecord,
  ids: readonly string[],
): Promise<{ files: CompletedFile[]; batch: BatchRecord | undefined }> {
  const unique = [...new Set(ids)];
  const found = new Map((await ctx.batches.getTransfers(unique)).map((t) => [t.id, t]));
  // Every id is checked before anything is written: a refused call changes nothing.
  for (const id of unique) {
    const t = found.get(id);
    if (!t || t.batchId !== batch.id)
      throw new AppError("NOT_FOUND", `Batch ${batch.id} has no file ${id}.`, { transferId: id });
  }

  const stats: StatsDelta = {};
  const counts: BatchCounts = {};
  let completed = 0;
  let bytes = 0;
  const outcome = await mapLimit(unique, CHECK_PARALLEL, async (id): Promise<CompletedFile> => {
    const t = found.get(id) as TransferRecord;
    if (t.status === "complete") return { transferId: id, status: "complete" };
    if (t.upload !== "single") return assembleMultipart(ctx, t);
    if (t.status !== "uploading")
      return {
        transferId: id,
        status: t.status,
        error: { code: "INVALID_STATE", message: `Transfer ${id} is ${t.status}; it cannot complete.` },
      };
    if (!(await storageHoldsObject(ctx, t)))
      return {
        transferId: id,
        status: "uploading",
        error: {
          code: "PART_NOT_STORED",
          message: `Storage holds no object of ${t.size} bytes with this file's SHA-256; PUT it again.`,
        },
      };
    const now = ctx.clock.now();
    const done = await ctx.repo.transition(
      id,
      ["uploading"],
      "complete",
      { completedAt: now.toISOString() },
      now.toISOString(),
    );
    if (!done) {
      // Another call moved it first (a parallel complete, a cancel): say where it is now.
      const again = (await ctx.batches.getTransfers([id]))[0];
      return { transferId: id, status: again?.status ?? t.status };
    }
    await ctx.repo.putStoredObject({
      sha256: t.sha256,
      size: t.size,
      objectKey: t.objectKey,
      transferId: id,
      createdAt: now.toISOString(),
    });
    addStatus(stats, "uploading", -1);
    addStatus(stats, "complete", 1);
    stats.bytesStored = (stats.bytesStored ?? 0) + t.size;
    stats.bytesReceived = (stats.bytesReceived ?? 0) + t.size;
    stats.uploadedBytes = (stats.uploadedBytes ?? 0) + t.size;
    stats.uploadMillis = (stats.uploadMillis ?? 0) + Math.max(1, now.getTime() - Date.parse(t.createdAt));
    completed++;
    bytes += t.size;
    return { transferId: id, status: "complete" };
  });
  counts.filesComplete = completed;
  counts.bytesComplete = bytes;
  const after = await ctx.bookkeep(batch.id, stats, counts, completed ? { completed, bytes } : {});
  const byId = new Map(outcome.map((o) => [o.transferId, o]));
  return { files: ids.map((id) => byId.get(id) as CompletedFile), batch: after };
}

/** A multipart file: the transfer service assembles it; its refusal is this file's answer, not the call's. */
async function assembleMultipart(ctx: BatchContext, t: TransferRecord): Promise<CompletedFile> {
  try {
    const f = await ctx.transfers.assemble(t.id);
    return { transferId: t.id, status: f.status };
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    const again = (await ctx.batches.getTransfers([t.id]))[0];
    return {
      transferId: t.id,
      status: again?.status ?? t.status,
      error: { code: err.code, message: err.message },
    };
  }
}
