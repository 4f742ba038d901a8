/**
 * POST /batch/{id}/complete: the files whose PUT storage accepted. Storage, not the caller, is trusted:
 * each single object is HEADed (16 at a time) and must hold the recorded size and SHA-256; then, in bulk
 * transactions, one conditional transition uploading → complete and the dedupe entry (put-if-absent) per
 * file, and for the whole call one stats update and one batch-counter update, counting only transitions
 * that happened.
 * A file storage does not hold answers PART_NOT_STORED and stays uploading (the sender PUTs it again).
 * Multipart files named here are assembled by the transfer service (which counts them into the batch).
 */
import type { CompletedFile } from "../contract/batches.js";
import { type BatchContext, CHECK_PARALLEL, storageHoldsObject } from "./batch-context.js";
import { addStatus } from "./batch-files.js";
import { AppError } from "./errors.js";
import { mapLimit } from "./map-limit.js";
import type { BatchCounts, BatchRecord, StatsDelta, TransferRecord } from "./ports.js";

/** Multipart files one call assembles at once (each is a ListParts and a CompleteMultipartUpload). */
const ASSEMBLE_PARALLEL = 4;

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
  const answers = new Map<string, CompletedFile>();
  const singles: TransferRecord[] = [];
  const multipart: TransferRecord[] = [];
  for (const id of unique) {
    const t = found.get(id) as TransferRecord;
    if (t.status === "complete") answers.set(id, { transferId: id, status: "complete" });
    else if (t.upload !== "single") multipart.push(t);
    else if (t.status !== "uploading")
      answers.set(id, {
        transferId: id,
        status: t.status,
        error: { code: "INVALID_STATE", message: `Transfer ${id} is ${t.status}; it cannot complete.` },
      });
    else singles.push(t);
  }

  const [held] = await Promise.all([
    mapLimit(singles, CHECK_PARALLEL, (t) => storageHoldsObject(ctx, t)),
    mapLimit(multipart, ASSEMBLE_PARALLEL, async (t) => {
      answers.set(t.id, await assembleMultipart(ctx, t));
    }),
  ]);
  const ready = singles.filter((_, i) => held[i]);
  for (const t of singles.filter((_, i) => !held[i]))
    answers.set(t.id, {
      transferId: t.id,
      status: "uploading",
      error: {
        code: "PART_NOT_STORED",
        message: `Storage holds no object of ${t.size} bytes with this file's SHA-256; PUT it again.`,
      },
    });

  const now = ctx.clock.now();
  const moved = await ctx.batches.completeTransfers(ready, now.toISOString());
  let bytes = 0;
  for (const t of ready.filter((t) => moved.has(t.id))) {
    answers.set(t.id, { transferId: t.id, status: "complete" });
    bytes += t.size;
    stats.uploadMillis = (stats.uploadMillis ?? 0) + Math.max(1, now.getTime() - Date.parse(t.createdAt));
  }
  // Moved by another call meanwhile (a parallel complete, a cancel): say where each is now.
  const raced = ready.filter((t) => !moved.has(t.id));
  for (const t of raced.length ? await ctx.batches.getTransfers(raced.map((t) => t.id)) : [])
    answers.set(t.id, { transferId: t.id, status: t.status });
  const completed = moved.size;
  if (completed) {
    addStatus(stats, "uploading", -completed);
    addStatus(stats, "complete", completed);
    stats.bytesStored = bytes;
    stats.bytesReceived = bytes;
    stats.uploadedBytes = bytes;
  }
  const counts: BatchCounts = { filesComplete: completed, bytesComplete: bytes };
  const after = await ctx.bookkeep(batch.id, stats, counts, completed ? { completed, bytes } : {});
  return { files: ids.map((id) => answers.get(id) as CompletedFile), batch: after };
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
