/**
 * How transfers end: complete (after CompleteMultipartUpload, or when storage turns out to have completed
 * the upload before a crash), failed (the sender gave up, or storage lost the upload) and aborted (storage
 * released). Each transition is conditional, moves the counters of the status it really left, writes one
 * timeline event and tells onTransferEnded once.
 */
import type { FileSummary, TransferStatus } from "../contract/schemas.js";
import { compositeSha256 } from "./checksums.js";
import { AppError } from "./errors.js";
import type { PartRecord, TransferRecord } from "./ports.js";
import { markGone, move, mustGet, type TransferContext, toSummary } from "./transfer-context.js";

export async function abortTransfer(
  ctx: TransferContext,
  id: string,
): Promise<{ transferId: string; status: TransferStatus }> {
  const t = await mustGet(ctx, id);
  if (t.status === "aborted") return { transferId: id, status: "aborted" };
  if (t.status === "complete")
    throw new AppError("INVALID_STATE", `Transfer ${id} is complete; there is no upload to abort.`);
  await releaseStorage(ctx, t);
  const r = await move(ctx, t, ["uploading", "assembling", "failed"], "aborted", {});
  if (r) {
    await ctx.addStats({ status: { [r.left]: -1, aborted: 1 } });
    await ctx.note(t, "aborted", "Aborted; storage released the parts it held.");
    await ctx.ended(r.moved, "aborted");
  }
  return { transferId: id, status: r?.moved.status ?? (await mustGet(ctx, id)).status };
}

/**
 * The sender gave up: the transfer is failed with its reason (its upload stays in storage: an init with
 * its resumeId goes on with it), or with `abort` also released in storage and aborted.
 */
export async function failTransfer(
  ctx: TransferContext,
  id: string,
  input: { reason: string; abort?: boolean | undefined },
): Promise<{ transferId: string; status: TransferStatus }> {
  const t = await mustGet(ctx, id);
  if (input.abort) {
    if (t.status === "aborted") return { transferId: id, status: "aborted" };
    if (t.status === "complete")
      throw new AppError("INVALID_STATE", `Transfer ${id} is complete; there is nothing to give up.`);
    await releaseStorage(ctx, t);
    const r = await move(ctx, t, ["uploading", "assembling", "failed"], "aborted", {
      lastError: input.reason,
    });
    if (r) {
      await ctx.addStats({ status: { [r.left]: -1, aborted: 1 } }, r.left === "failed" ? {} : { failed: 1 });
      await ctx.note(t, "aborted", `The sender gave up and aborted: ${input.reason}`);
      await ctx.ended(r.moved, "aborted");
    }
    return { transferId: id, status: r?.moved.status ?? (await mustGet(ctx, id)).status };
  }
  if (t.status === "failed" || t.status === "aborted") return { transferId: id, status: t.status };
  if (t.status === "complete")
    throw new AppError("INVALID_STATE", `Transfer ${id} is complete; there is nothing to give up.`);
  const r = await move(ctx, t, ["uploading", "assembling"], "failed", { lastError: input.reason });
  if (r) {
    await ctx.addStats({ status: { [r.left]: -1, failed: 1 } }, { failed: 1 });
    await ctx.note(t, "failed", `The sender gave up: ${input.reason}`, { code: "SENDER_GAVE_UP" });
    await ctx.ended(r.moved, "failed");
  }
  return { transferId: id, status: r?.moved.status ?? (await mustGet(ctx, id)).status };
}

/**
 * An upload replaced by another of the same file or content (upload-content.ts): storage released, aborted
 * with the reason, and out of its batch's listing, so it never shows as a live upload beside the one
 * that goes on.
 */
export async function abandonTransfer(
  ctx: TransferContext,
  t: TransferRecord,
  reason: string,
): Promise<void> {
  if (t.status === "complete") return;
  if (t.status !== "aborted") {
    await releaseStorage(ctx, t);
    const r = await move(ctx, t, ["uploading", "assembling", "failed"], "aborted", { lastError: reason });
    if (r) {
      await ctx.addStats({ status: { [r.left]: -1, aborted: 1 } });
      await ctx.note(t, "aborted", reason);
      await ctx.ended(r.moved, "aborted");
    }
  }
  if (t.batchId !== undefined) await ctx.repo.detachFromBatch(t.id, ctx.clock.now().toISOString());
}

/** Lets storage drop what it holds for an unfinished transfer (its multipart upload, or a single PUT). */
export async function releaseStorage(ctx: TransferContext, t: TransferRecord): Promise<void> {
  const gone = (err: unknown) => {
    if (!(err instanceof AppError && err.code === "UPLOAD_GONE")) throw err;
  };
  if (t.uploadId) await ctx.store.abortMultipartUpload(t.objectKey, t.uploadId).catch(gone);
  else if (t.upload === "single") await ctx.store.deleteObject(t.objectKey).catch(gone);
}

/** After a crash between CompleteMultipartUpload and the record update, the object exists: finish the record. */
export async function finishIfAlreadyStored(
  ctx: TransferContext,
  t: TransferRecord,
  parts: PartRecord[],
  err: unknown,
): Promise<FileSummary> {
  if (!(err instanceof AppError && err.code === "UPLOAD_GONE")) throw err;
  const head = await ctx.store.headObject(t.objectKey);
  if (head && head.size === t.size) return markComplete(ctx, t, compositeSha256(parts.map((p) => p.sha256)));
  await markGone(ctx, t, "assembling");
  throw new AppError("UPLOAD_GONE", `Storage no longer has the upload of ${t.id}; start a new transfer.`);
}

export async function markComplete(
  ctx: TransferContext,
  t: TransferRecord,
  compositeChecksum: string,
): Promise<FileSummary> {
  const nowDate = ctx.clock.now();
  const now = nowDate.toISOString();
  const done = await ctx.repo.transition(
    t.id,
    ["assembling"],
    "complete",
    { completedAt: now, compositeChecksum },
    now,
  );
  if (!done) {
    const again = await mustGet(ctx, t.id);
    if (again.status === "complete") return toSummary(again);
    throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${again.status}.`);
  }
  await ctx.repo.putStoredObject({
    sha256: t.sha256,
    size: t.size,
    objectKey: t.objectKey,
    transferId: t.id,
    compositeChecksum,
    createdAt: now,
  });
  // Coalesced in process with the move to assembling just before: usually one shard write, or none.
  await ctx.addStats(
    {
      status: { assembling: -1, complete: 1 },
      bytesStored: t.size,
      uploadedBytes: t.size,
      uploadMillis: Math.max(1, nowDate.getTime() - Date.parse(t.createdAt)),
    },
    { completed: 1 },
  );
  await ctx.note(t, "assembled", `Assembled and complete; composite checksum ${compositeChecksum}.`);
  await ctx.ended(done, "complete");
  return toSummary(done);
}
