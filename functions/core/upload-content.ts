/**
 * Naming the content of an upload that started before its SHA-256 was known (the sender hashes a big
 * file while its first parts are already on their way): POST /upload/{id}/content, and an init with a
 * SHA-256 whose resumeId names such an upload. The decisions that need the content are taken here, as an
 * init with the SHA-256 would have taken them:
 *   stored already  → done: this transfer now points at the stored copy, as a dedupe at init would have
 *                     (its own upload released, its part records dropped: receivers use the copy's parts);
 *                     if the copy is this very file of the batch (an earlier run's), that transfer is the
 *                     answer and this one is given up
 *   open elsewhere  → switch: this transfer is given up (storage released, aborted, out of the batch's
 *                     listing) and the client goes on with the unfinished upload of that content, chosen
 *                     by resumeOpen's rules, sending only what its answer says is missing
 *   otherwise       → continue: the SHA-256 is recorded, so content lookups find it and it may be assembled
 * A transfer that holds another SHA-256 already (the file changed) is given up and its content starts
 * afresh, as a new init. Asking again (an answer lost on the way) answers the same.
 */
import type { InitResponse } from "../contract/schemas.js";
import { AppError } from "./errors.js";
import { CONTENT_PENDING, type StoredObjectRecord, type TransferRecord } from "./ports.js";
import { mustGet, type TransferContext } from "./transfer-context.js";
import { abandonTransfer, releaseStorage } from "./transfer-endings.js";
import { type InitInput, initAnswer, initTransfer, resumeOpen } from "./upload-init.js";

export type Named =
  | { action: "continue"; t: TransferRecord }
  | { action: "done"; t: TransferRecord; deduplicated: boolean }
  | { action: "switch"; init: InitResponse };

/** What an init of `t`'s file with this content would be given. */
const inputOf = (t: TransferRecord, sha256: string): InitInput => ({
  name: t.name,
  size: t.size,
  sha256,
  priority: t.priority,
  ...(t.contentType !== undefined && { contentType: t.contentType }),
  ...(t.batchId !== undefined && { batchId: t.batchId }),
  ...(t.path !== undefined && { path: t.path }),
});

export async function nameContent(ctx: TransferContext, id: string, sha256: string): Promise<Named> {
  const t = await mustGet(ctx, id);
  if (t.upload === "single")
    throw new AppError("INVALID_STATE", `Transfer ${id} is one single PUT: its SHA-256 came with it.`);
  if (t.status === "complete") {
    if (t.sha256 === sha256) return { action: "done", t, deduplicated: t.deduplicatedFrom !== undefined };
    throw new AppError("INVALID_STATE", `Transfer ${id} is complete with another SHA-256 (${t.sha256}).`);
  }
  if (t.status === "uploading" && t.sha256 === sha256) return { action: "continue", t };
  if (t.status === "aborted") {
    // Given up by an earlier call whose answer was lost: the same look elsewhere answers again.
    const again = await elsewhere(ctx, t, sha256);
    if (again) return again;
  }
  if (t.status !== "uploading")
    throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}; its content cannot be named now.`, {
      status: t.status,
    });
  if (t.sha256 !== CONTENT_PENDING) {
    // Another content than the one this upload holds (the file changed): it is given up, the file starts afresh.
    await abandonTransfer(ctx, t, `Replaced: the file's SHA-256 is now ${sha256}, not ${t.sha256}.`);
    const init = await initTransfer(ctx, inputOf(t, sha256));
    if (init.status !== "complete") return { action: "switch", init };
    return { action: "done", t: await mustGet(ctx, init.transferId), deduplicated: init.deduplicated };
  }
  const other = await elsewhere(ctx, t, sha256);
  if (other) return other;
  const named = await ctx.repo.nameContent(t.id, sha256, t.size, ctx.clock.now().toISOString());
  if (named) return { action: "continue", t: named };
  // Moved meanwhile (aborted, or named by a concurrent call): answer from what it is now.
  const now = await mustGet(ctx, id);
  if (now.status === "uploading" && now.sha256 === sha256) return { action: "continue", t: now };
  throw new AppError("INVALID_STATE", `Transfer ${id} is ${now.status}; its content cannot be named now.`);
}

/** The stored copy or the unfinished upload of this content that `t` gives way to, if any. */
async function elsewhere(
  ctx: TransferContext,
  t: TransferRecord,
  sha256: string,
): Promise<Named | undefined> {
  const stored = await ctx.repo.findStoredObject(sha256, t.size);
  if (stored && stored.transferId !== t.id) {
    const head = await ctx.store.headObject(stored.objectKey);
    if (head && head.size === t.size) {
      const origin = t.batchId === undefined ? undefined : await ctx.repo.getTransfer(stored.transferId);
      if (origin?.status === "complete" && origin.batchId === t.batchId && origin.path === t.path) {
        // This very file of the batch, stored by an earlier run: that transfer is the file's.
        await abandonTransfer(ctx, t, `Replaced by ${origin.id}: this file of the batch is stored already.`);
        return { action: "done", t: origin, deduplicated: false };
      }
      if (t.status === "uploading") return dedupeInto(ctx, t, sha256, stored);
    } else ctx.warn("dedupe entry points at a missing object; uploading again", { sha256 });
  }
  const open = await resumeOpen(ctx, inputOf(t, sha256), [], t.id);
  if (!open) return undefined;
  await abandonTransfer(ctx, t, `Replaced by ${open.t.id}, an unfinished upload of the same content.`);
  return { action: "switch", init: initAnswer(ctx, open.t, undefined, { resumed: true, ...open.view }) };
}

/**
 * The dedupe of an upload under way: complete at once, pointing at the stored copy (the records today's
 * init dedupe writes), then its own multipart upload is released and its part records dropped. The move
 * to complete comes first: no part can be recorded after it (records need uploading).
 */
async function dedupeInto(
  ctx: TransferContext,
  t: TransferRecord,
  sha256: string,
  stored: StoredObjectRecord,
): Promise<Named> {
  const now = ctx.clock.now().toISOString();
  const done = await ctx.repo.transition(
    t.id,
    ["uploading"],
    "complete",
    {
      sha256,
      objectKey: stored.objectKey,
      partsDone: 0,
      bytesDone: t.size,
      completedAt: now,
      deduplicatedFrom: stored.transferId,
      ...(stored.compositeChecksum !== undefined && { compositeChecksum: stored.compositeChecksum }),
    },
    now,
  );
  if (!done) return nameContent(ctx, t.id, sha256);
  await releaseStorage(ctx, t);
  await ctx.repo.dropParts(t.id);
  await ctx.addStats(
    {
      status: { uploading: -1, complete: 1 },
      bytesStored: t.size,
      bytesDeduplicated: t.size,
      dedupeHits: 1,
    },
    { completed: 1 },
  );
  await ctx.note(
    t,
    "deduplicated",
    `The same content is stored (${stored.transferId}); the upload stopped and points at it.`,
  );
  await ctx.ended(done, "complete");
  return { action: "done", t: done, deduplicated: true };
}

/**
 * Init, where a SHA-256 comes with a resumeId naming an upload of this file whose content is pending (the
 * sender knew the transfer, not yet its hash): the content is named first, then the answer is the init's.
 */
export async function initNamed(ctx: TransferContext, input: InitInput): Promise<InitResponse> {
  if (input.sha256 === undefined || input.resumeId === undefined) return initTransfer(ctx, input);
  const mine = await ctx.repo.getTransfer(input.resumeId);
  const same =
    mine !== undefined &&
    mine.status === "uploading" &&
    mine.sha256 === CONTENT_PENDING &&
    mine.size === input.size &&
    (input.batchId === undefined
      ? mine.batchId === undefined && mine.name === input.name
      : mine.batchId === input.batchId && mine.path === input.path);
  if (!same) return initTransfer(ctx, input);
  ctx.recorder.validate(input.size, input.parts ?? []);
  const named = await nameContent(ctx, mine.id, input.sha256);
  if (named.action === "switch") return named.init;
  if (named.action === "done")
    return initAnswer(ctx, named.t, input.partSizeHint, { deduplicated: named.deduplicated });
  // Named: the init resumes it by its resumeId.
  return initTransfer(ctx, input);
}
