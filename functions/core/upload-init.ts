/**
 * Find-or-create init (POST /upload/init, and the multipart files of a batch): a stored copy of the content
 * completes at once (dedupe); else an unfinished upload of the same SHA-256 and size goes on (the client's
 * resumeId first, then any open one), answered with what storage holds: recorded parts, missing ranges,
 * parts stored but never recorded; else a new upload. The first parts asked for come back presigned.
 * Without a SHA-256 (content pending: the sender hashes the file while it sends it), nothing is looked up
 * by content: the client's resumeId goes on if it names an unfinished upload of this file (name or batch
 * path, size), else a new upload starts whose content POST /upload/{id}/content names later
 * (upload-content.ts). Nothing is written before the request is known to be valid.
 * Storage's rules (storage-rules.ts): in md5 mode every part asked for carries its MD5; a new upload on a
 * uniform-parts profile gets its one part size here (kept on the record, answered as partSize), and the
 * parts asked for must sit where it puts them; a resumed upload keeps its own, and parts asked for that do
 * not fit it are not presigned (the client plans again from the answer's partSize and missing ranges).
 * Every record made here says what storage checks its bytes against (storageCheck).
 */

import { partSizeFor } from "../contract/part-rules.js";
import type { InitResponse, PartSpec, Priority } from "../contract/schemas.js";
import { EMPTY_SHA256_HEX, hexToBase64 } from "./checksums.js";
import { AppError } from "./errors.js";
import { newTransferId } from "./ids.js";
import { checkNeighbours } from "./part-math.js";
import { CONTENT_PENDING, type TransferRecord } from "./ports.js";
import { checkUniform, requireMd5, uploadPartSize } from "./storage-rules.js";
import {
  missingOf,
  move,
  objectKeyFor,
  recordedInfo,
  sign,
  storageView,
  type TransferContext,
  toSummary,
} from "./transfer-context.js";

export interface InitInput {
  name: string;
  size: number;
  /** Absent: content pending (named later by POST /upload/{id}/content). */
  sha256?: string | undefined;
  priority: Priority;
  partSizeHint?: number | undefined;
  contentType?: string | undefined;
  /** An unfinished transfer of this content the client knows of (its journal). */
  resumeId?: string | undefined;
  /** The first parts to send: presigned in the answer. */
  parts?: readonly PartSpec[] | undefined;
  /** Files of a batch: the batch and the file's path in it. */
  batchId?: string | undefined;
  path?: string | undefined;
}

export async function initTransfer(ctx: TransferContext, input: InitInput): Promise<InitResponse> {
  const wanted = input.parts ?? [];
  // Refuse before writing anything: a rejected request leaves storage and the table as they were.
  if (input.size > ctx.profile.limits.maxObjectSize)
    throw new AppError(
      "INVALID_INPUT",
      `This storage (${ctx.profile.label}) holds objects of at most ${ctx.profile.limits.maxObjectSize} bytes; the file has ${input.size}.`,
    );
  requireMd5(ctx.profile, wanted);
  ctx.recorder.validate(input.size, wanted);
  if (input.size === 0 && input.sha256 !== EMPTY_SHA256_HEX)
    throw new AppError(
      "INVALID_INPUT",
      input.sha256 === undefined
        ? "An empty file's SHA-256 (e3b0c442…b855) must be given; only files sent in parts may name it later."
        : "An empty file's SHA-256 is e3b0c442…b855; the one given differs.",
    );
  const sha256 = input.sha256 ?? CONTENT_PENDING;
  const now = ctx.clock.now().toISOString();
  const id = newTransferId(ctx.clock.now().getTime());
  const base = {
    id,
    name: input.name,
    size: input.size,
    sha256,
    priority: input.priority,
    createdAt: now,
    updatedAt: now,
    storageCheck: ctx.storageCheck(),
    ...(input.contentType !== undefined && { contentType: input.contentType }),
    ...(input.batchId !== undefined && { batchId: input.batchId }),
    ...(input.path !== undefined && { path: input.path }),
  };
  const answer = (
    t: TransferRecord,
    extra: Partial<
      Pick<InitResponse, "deduplicated" | "resumed" | "missing" | "parts" | "unrecorded" | "presigned">
    >,
  ): InitResponse => initAnswer(ctx, t, input.partSizeHint, extra);

  const existing =
    sha256 === CONTENT_PENDING ? undefined : await ctx.repo.findStoredObject(sha256, input.size);
  if (existing) {
    const head = await ctx.store.headObject(existing.objectKey);
    if (head && head.size === input.size) {
      const t: TransferRecord = {
        ...base,
        status: "complete",
        objectKey: existing.objectKey,
        partsDone: 0,
        bytesDone: input.size,
        completedAt: now,
        deduplicatedFrom: existing.transferId,
        ...(existing.compositeChecksum !== undefined && { compositeChecksum: existing.compositeChecksum }),
      };
      await ctx.repo.createTransfer(t);
      await ctx.addStats(
        {
          status: { complete: 1 },
          priority: { [input.priority]: 1 },
          bytesStored: input.size,
          bytesDeduplicated: input.size,
          dedupeHits: 1,
        },
        { completed: 1 },
      );
      await ctx.note(
        t,
        "deduplicated",
        `The same content is stored (${existing.transferId}); nothing to send.`,
      );
      await ctx.ended(t, "complete");
      return answer(t, { deduplicated: true });
    }
    ctx.warn("dedupe entry points at a missing object; uploading again", { sha256 });
  }

  const objectKey = objectKeyFor(id);
  if (input.size === 0) {
    // S3 multipart needs at least one part; an empty file is one plain PUT.
    await ctx.store.putEmptyObject(objectKey, { sha256Base64: hexToBase64(EMPTY_SHA256_HEX) });
    const t: TransferRecord = {
      ...base,
      status: "complete",
      objectKey,
      partsDone: 0,
      bytesDone: 0,
      completedAt: now,
    };
    await ctx.repo.createTransfer(t);
    await ctx.repo.putStoredObject({
      sha256: t.sha256,
      size: 0,
      objectKey,
      transferId: id,
      createdAt: now,
    });
    await ctx.addStats({ status: { complete: 1 }, priority: { [input.priority]: 1 } }, { completed: 1 });
    await ctx.ended(t, "complete");
    return answer(t, {});
  }

  const resumed = await resumeOpen(ctx, input, wanted);
  if (resumed) return answer(resumed.t, { resumed: true, ...resumed.view });

  const partSize = uploadPartSize(ctx.profile, input.size, input.partSizeHint);
  checkUniform({ size: input.size, partSize }, wanted);
  const uploadId = await ctx.store.createMultipartUpload(objectKey, input.contentType);
  const t: TransferRecord = {
    ...base,
    status: "uploading",
    objectKey,
    uploadId,
    partsDone: 0,
    bytesDone: 0,
    ...(partSize !== undefined && { partSize }),
    ...(input.batchId !== undefined && { upload: "multipart" as const }),
  };
  try {
    await ctx.repo.createTransfer(t);
  } catch (err) {
    await ctx.store.abortMultipartUpload(objectKey, uploadId).catch(() => {});
    throw err;
  }
  await ctx.addStats({ status: { uploading: 1 }, priority: { [input.priority]: 1 } });
  const pending = sha256 === CONTENT_PENDING ? "; its SHA-256 follows (hashed while it is sent)" : "";
  await ctx.note(
    t,
    "created",
    `Transfer started: ${input.size} bytes, ${input.priority} priority${pending}.`,
  );
  return answer(t, { missing: missingOf(ctx, t, []), presigned: await sign(ctx, t, wanted) });
}

/** An init answer for `t`: nothing resumed, missing or presigned unless `extra` says so. */
export function initAnswer(
  ctx: TransferContext,
  t: TransferRecord,
  partSizeHint: number | undefined,
  extra: Partial<
    Pick<InitResponse, "deduplicated" | "resumed" | "missing" | "parts" | "unrecorded" | "presigned">
  >,
): InitResponse {
  return {
    transferId: t.id,
    status: t.status,
    deduplicated: false,
    partSize: t.partSize ?? partSizeFor(t.size, partSizeHint, ctx.profile.limits),
    limits: ctx.limits(),
    file: toSummary(t),
    resumed: false,
    missing: [],
    parts: [],
    unrecorded: [],
    presigned: [],
    ...extra,
  };
}

/**
 * The unfinished upload of this content to go on with, if any: the client's resumeId, else the open
 * uploads of this SHA-256 and size. A file of a batch takes only its own (same batch and path) or one
 * of no batch (which joins the batch); others may take any, their own kind first. A transfer its sender
 * gave up on (failed, not aborted) keeps its upload in storage and is resumable by its resumeId only: it
 * goes back to uploading. Content pending: only the resumeId, and only the same file (same batch and
 * path; without a batch, same name and no batch). `exclude`: a transfer never to take (the one whose
 * content is being named).
 */
export async function resumeOpen(
  ctx: TransferContext,
  input: InitInput,
  wanted: readonly PartSpec[],
  exclude?: string,
): Promise<
  | { t: TransferRecord; view: Pick<InitResponse, "missing" | "parts" | "unrecorded" | "presigned"> }
  | undefined
> {
  const pending = input.sha256 === undefined;
  const fits = (t: TransferRecord) =>
    t.id !== exclude &&
    (t.status === "uploading" || (t.status === "failed" && t.id === input.resumeId)) &&
    (pending || t.sha256 === input.sha256) &&
    t.size === input.size &&
    t.uploadId !== undefined &&
    t.upload !== "single";
  const score = (t: TransferRecord) => {
    if (pending)
      return input.batchId === undefined
        ? t.batchId === undefined && t.name === input.name
          ? 2
          : 0
        : t.batchId === input.batchId && t.path === input.path
          ? 2
          : 0;
    if (input.batchId === undefined) return t.batchId === undefined ? 2 : 1;
    if (t.batchId === input.batchId && t.path === input.path) return 2;
    return t.batchId === undefined ? 1 : 0;
  };
  const candidates: TransferRecord[] = [];
  if (input.resumeId) {
    const mine = await ctx.repo.getTransfer(input.resumeId);
    if (mine && fits(mine) && score(mine) > 0) candidates.push(mine);
  }
  const open = pending
    ? []
    : (await ctx.repo.findOpenTransfers(input.sha256 as string, input.size)).filter(
        (t) => fits(t) && score(t) > 0 && t.id !== input.resumeId,
      );
  // Stable sort: newest first (the index order) within a score.
  candidates.push(...open.sort((a, b) => score(b) - score(a)));
  for (let t of candidates) {
    if (input.batchId !== undefined && input.path !== undefined && t.batchId === undefined) {
      const adopted = await ctx.repo.adoptIntoBatch(
        t.id,
        input.batchId,
        input.path,
        ctx.clock.now().toISOString(),
      );
      if (!adopted) continue;
      t = adopted;
    }
    const view = await storageView(ctx, t);
    if (!view) continue; // storage lost the upload: it failed; look further or start afresh
    if (t.status === "failed") {
      const revived = await move(ctx, t, ["failed"], "uploading", {});
      if (!revived) continue;
      await ctx.addStats({ status: { failed: -1, uploading: 1 } });
      await ctx.note(t, "created", `Resumed after it failed (${t.lastError ?? "no reason given"}).`);
      t = revived.moved;
    }
    const fresh = view.changed ? ((await ctx.repo.getTransfer(t.id)) ?? t) : t;
    // Parts asked for that collide with recorded ones are not presigned: the client sends the missing ones.
    const free = wanted.filter((p) => {
      if (view.parts.some((r) => r.partNumber === p.partNumber)) return false;
      try {
        checkNeighbours(p, view.parts, ctx.profile.limits);
        checkUniform(fresh, [p]);
        return true;
      } catch {
        return false;
      }
    });
    return {
      t: fresh,
      view: {
        missing: missingOf(ctx, fresh, view.parts),
        parts: recordedInfo(view.parts),
        unrecorded: view.unrecorded,
        presigned: await sign(ctx, fresh, free),
      },
    };
  }
  return undefined;
}
