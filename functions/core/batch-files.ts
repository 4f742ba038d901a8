/**
 * Answers one call's file entries (POST /batch with files, POST /batch/{id}/files) in bulk: one
 * BatchGetItem for the resume candidates, one for the dedupe entries, HEADs where storage must be asked,
 * the new records in transactions of 100, one stats update, one batch-counter update, and a presigned
 * PutObject per file to send. Per small file: one item written here (its record), two more when
 * it completes (the transition and the dedupe entry): three in all.
 */
import type { BatchFileAnswer } from "../contract/batches.js";
import type { InitResponse } from "../contract/schemas.js";
import type { BatchContext } from "./batch-context.js";
import { batchFileSummary, CHECK_PARALLEL, objectKeyFor, storageHoldsObject } from "./batch-context.js";
import { type Decided, decide, type PlannedEntry } from "./batch-plan.js";
import { EMPTY_SHA256_HEX, hexToBase64 } from "./checksums.js";
import { AppError } from "./errors.js";
import { derivedTransferId, newTransferId } from "./ids.js";
import { mapLimit } from "./map-limit.js";
import {
  type BatchCounts,
  type BatchRecord,
  CONTENT_PENDING,
  type StatsDelta,
  storedObjectKey,
  type TransferRecord,
} from "./ports.js";

/**
 * Aborts an unfinished transfer through the transfer service (storage releases its multipart upload or
 * its single PUT's object; counters and timeline as for DELETE /upload/{id}). Whether it moved; a file
 * that completed meanwhile is left as it is.
 */
export async function abortUnfinished(ctx: BatchContext, id: string): Promise<boolean> {
  try {
    return (await ctx.transfers.abort(id)).status === "aborted";
  } catch (err) {
    if (err instanceof AppError && err.code === "INVALID_STATE") return false;
    throw err;
  }
}

/** Multipart inits one call runs at once (each is a CreateMultipartUpload or a ListParts). */
const INIT_PARALLEL = 8;

type Pending = { entry: PlannedEntry; decided: Decided };

type Planned =
  | { kind: "done"; t: TransferRecord; deduplicated: boolean }
  | { kind: "put"; t: TransferRecord; stored: boolean; reopen: boolean }
  | { kind: "multipart"; resumeId: string | undefined };

/**
 * The id of a new record of this batch's file: derived from the batch, the path, the content, and the
 * transfer it replaces, so the same entry sent again (its answer was lost) meets the record it made.
 */
export const entryTransferId = (batchId: string, e: PlannedEntry, supersedes?: string): string =>
  derivedTransferId([batchId, e.path, String(e.size), e.sha256, supersedes ?? ""]);

export function addStatus(delta: StatsDelta, status: TransferRecord["status"], n: number): void {
  delta.status = { ...delta.status, [status]: (delta.status?.[status] ?? 0) + n };
}

export async function answerFiles(
  ctx: BatchContext,
  batch: BatchRecord,
  entries: readonly PlannedEntry[],
): Promise<BatchFileAnswer[]> {
  const nowDate = ctx.clock.now();
  const now = nowDate.toISOString();
  const resumeIds = entries.flatMap((e) => (e.resumeId ? [e.resumeId] : []));
  const lookups = entries.filter((e) => e.kind !== "multipart");
  const [candidates, stored] = await Promise.all([
    resumeIds.length ? ctx.batches.getTransfers(resumeIds) : Promise.resolve([]),
    lookups.length ? ctx.batches.findStoredObjects(lookups) : Promise.resolve(new Map()),
  ]);
  const storedFor = (e: PlannedEntry) =>
    e.kind === "multipart" ? undefined : stored.get(storedObjectKey(e.sha256, e.size));
  // Without a resumeId, a stored object that is this very file of this batch (a resume without the
  // sender's journal) is its own resume candidate, so the path does not get a second record.
  const origins = entries.flatMap((e) => {
    const s = storedFor(e);
    return !e.resumeId && s ? [s.transferId] : [];
  });
  const found = [...candidates, ...(origins.length ? await ctx.batches.getTransfers(origins) : [])];
  const byId = new Map(found.map((t) => [t.id, t]));
  const pending: Pending[] = entries.map((entry) => {
    const s = storedFor(entry);
    const candidate = byId.get(entry.resumeId ?? s?.transferId ?? "");
    const own = entry.resumeId || (candidate?.batchId === batch.id && candidate.path === entry.path);
    return { entry, decided: decide(entry, batch.id, own ? candidate : undefined, s) };
  });
  await supersedeStalePending(ctx, batch.id, pending);

  // Storage is asked where the table is not enough: does the dedupe entry's object still exist, does an
  // earlier run's PUT hold the file's bytes?
  const held = await mapLimit(pending, CHECK_PARALLEL, async ({ decided: { decision: d } }) => {
    if (d.action === "dedupe") {
      const head = await ctx.store.headObject(d.stored.objectKey);
      return head !== undefined && head.size === d.stored.size;
    }
    if (d.action === "put-resumed") return storageHoldsObject(ctx, d.transfer);
    return false;
  });

  const stats: StatsDelta = {};
  const counts: BatchCounts = {};
  const records: TransferRecord[] = [];
  const completedNow: TransferRecord[] = [];
  let emptyOrigin: TransferRecord | undefined;
  // Records pointing at stored content (dedupe hits); their ids are never replaced (they are complete).
  const dedupes = new Set<string>();
  const base = (e: PlannedEntry): Omit<TransferRecord, "status" | "objectKey" | "id"> => ({
    name: e.name,
    size: e.size,
    sha256: e.sha256,
    priority: e.priority,
    partsDone: 0,
    bytesDone: 0,
    createdAt: now,
    updatedAt: now,
    batchId: batch.id,
    path: e.path,
    storageCheck: ctx.storageCheck(),
    ...(e.contentType !== undefined && { contentType: e.contentType }),
  });
  const create = (t: TransferRecord) => {
    records.push(t);
    return t;
  };

  // Decide each entry's record (still nothing written).
  const planned = pending.map(({ entry: e, decided }, i): Planned => {
    let d = decided.decision;
    if (d.action === "dedupe" && !held[i]) {
      ctx.warn("dedupe entry points at a missing object; uploading again", { sha256: e.sha256 });
      d = e.kind === "empty" ? { action: "empty" } : { action: "put-new" };
    }
    const id = entryTransferId(batch.id, e, decided.supersedes?.id);
    switch (d.action) {
      case "done-resumed":
        return { kind: "done" as const, t: d.transfer, deduplicated: false };
      case "put-resumed":
        return { kind: "put" as const, t: d.transfer, stored: held[i] === true, reopen: d.reopen };
      case "multipart":
        return { kind: "multipart" as const, resumeId: d.resumeId };
      case "dedupe": {
        const t = create({
          ...base(e),
          id,
          status: "complete",
          objectKey: d.stored.objectKey,
          bytesDone: e.size,
          completedAt: now,
          deduplicatedFrom: d.stored.transferId,
          ...(d.stored.compositeChecksum !== undefined && { compositeChecksum: d.stored.compositeChecksum }),
        });
        dedupes.add(id);
        return { kind: "done" as const, t, deduplicated: true };
      }
      case "empty": {
        // Every empty file of the call shares one empty object: the first stores it, the others point at it.
        const origin = emptyOrigin;
        const t = create({
          ...base(e),
          id,
          status: "complete",
          objectKey: origin?.objectKey ?? objectKeyFor(id),
          completedAt: now,
          ...(origin ? { deduplicatedFrom: origin.id } : { upload: "single" as const }),
        });
        emptyOrigin ??= t;
        return { kind: "done" as const, t, deduplicated: origin !== undefined };
      }
      default: // put-new
        return {
          kind: "put" as const,
          t: create({ ...base(e), id, status: "uploading", objectKey: objectKeyFor(id), upload: "single" }),
          stored: false,
          reopen: false,
        };
    }
  });

  // Writes: superseded transfers first (so a path never lists two live transfers), then the new records.
  await supersede(ctx, pending, counts, now);
  if (emptyOrigin)
    await ctx.store.putEmptyObject(emptyOrigin.objectKey, { sha256Base64: hexToBase64(EMPTY_SHA256_HEX) });
  const written = await writeRecords(ctx, batch.id, pending, planned, records, now);
  for (const t of written) {
    addStatus(stats, t.status, 1);
    stats.priority = { ...stats.priority, [t.priority]: (stats.priority?.[t.priority] ?? 0) + 1 };
    if (t.status === "complete") completedNow.push(t);
    if (dedupes.has(t.id)) {
      stats.bytesStored = (stats.bytesStored ?? 0) + t.size;
      stats.bytesDeduplicated = (stats.bytesDeduplicated ?? 0) + t.size;
      stats.dedupeHits = (stats.dedupeHits ?? 0) + 1;
    }
  }
  if (emptyOrigin)
    await ctx.repo.putStoredObject({
      sha256: EMPTY_SHA256_HEX,
      size: 0,
      objectKey: emptyOrigin.objectKey,
      transferId: emptyOrigin.id,
      createdAt: now,
    });
  for (const p of planned) {
    if (p.kind !== "put" || !p.reopen) continue;
    // A single PUT the sender gave up on (failed) goes on: back to uploading.
    if (await ctx.repo.transition(p.t.id, ["failed"], "uploading", {}, now)) {
      addStatus(stats, "failed", -1);
      addStatus(stats, "uploading", 1);
      counts.filesFailed = (counts.filesFailed ?? 0) - 1;
    }
  }

  const inits = await mapLimit(planned, INIT_PARALLEL, async (p, i) => {
    if (p.kind !== "multipart") return undefined;
    const e = pending[i]?.entry as PlannedEntry;
    return ctx.transfers.init(multipartInput(batch, e, p.resumeId));
  });

  for (const t of completedNow) {
    counts.filesComplete = (counts.filesComplete ?? 0) + 1;
    counts.bytesComplete = (counts.bytesComplete ?? 0) + t.size;
  }
  await ctx.bookkeep(batch.id, stats, counts, completedNow.length ? { completed: completedNow.length } : {});

  const expiresIn = ctx.config.presignExpiresSeconds;
  const expiresAt = new Date(nowDate.getTime() + expiresIn * 1000).toISOString();
  return Promise.all(
    planned.map(async (p, i): Promise<BatchFileAnswer> => {
      const path = pending[i]?.entry.path as string;
      if (p.kind === "done")
        return {
          action: "done",
          path,
          transferId: p.t.id,
          deduplicated: p.deduplicated,
          file: batchFileSummary(p.t),
        };
      if (p.kind === "multipart") {
        const init = inits[i] as InitResponse;
        return { action: "multipart", path, transferId: init.transferId, init };
      }
      const md5 = pending[i]?.entry.md5;
      const req = await ctx.store.presignPutObject(
        p.t.objectKey,
        {
          size: p.t.size,
          sha256Base64: hexToBase64(p.t.sha256),
          ...(md5 !== undefined && { md5Base64: md5 }),
          contentType: p.t.contentType,
        },
        expiresIn,
      );
      return {
        action: "put",
        path,
        transferId: p.t.id,
        stored: p.stored,
        put: { method: "PUT", url: req.url, headers: req.headers, expiresAt },
      };
    }),
  );
}

/**
 * Writes the new records. One whose id exists already was written by the same entry in an earlier call
 * whose answer was lost: that record is the entry's resume candidate (decided as for a resumeId: complete
 * → done, uploading → put again, failed → reopened, aborted → replaced by a record with a fresh id).
 * `planned` is updated in place; the records really written are returned.
 */
async function writeRecords(
  ctx: BatchContext,
  batchId: string,
  pending: readonly Pending[],
  planned: Planned[],
  records: readonly TransferRecord[],
  now: string,
): Promise<TransferRecord[]> {
  const taken = records.length ? await ctx.batches.createTransfers(records) : new Set<string>();
  const written = records.filter((t) => !taken.has(t.id));
  if (taken.size === 0) return written;
  const existing = new Map((await ctx.batches.getTransfers([...taken])).map((t) => [t.id, t]));
  const fresh: TransferRecord[] = [];
  const replaced: Pending[] = [];
  await mapLimit(planned, CHECK_PARALLEL, async (p, i) => {
    if (p.kind === "multipart" || !taken.has(p.t.id)) return;
    const entry = pending[i]?.entry as PlannedEntry;
    const ex = existing.get(p.t.id);
    const again = ex ? decide(entry, batchId, ex, undefined) : { decision: { action: "put-new" as const } };
    const d = again.decision;
    if (d.action === "done-resumed") {
      planned[i] = { kind: "done", t: d.transfer, deduplicated: d.transfer.deduplicatedFrom !== undefined };
    } else if (d.action === "put-resumed") {
      planned[i] = {
        kind: "put",
        t: d.transfer,
        stored: await storageHoldsObject(ctx, d.transfer),
        reopen: d.reopen,
      };
    } else {
      // Aborted (or gone meanwhile): a new record with a random id replaces it.
      const id = newTransferId(Date.parse(now));
      const own = p.t.objectKey === objectKeyFor(p.t.id);
      const t = { ...p.t, id, ...(own && { objectKey: objectKeyFor(id) }) };
      fresh.push(t);
      planned[i] = { ...p, t };
      if (again.supersedes) replaced.push({ entry, decided: again });
    }
  });
  if (fresh.length) {
    await supersede(ctx, replaced, {}, now);
    if ((await ctx.batches.createTransfers(fresh)).size)
      throw new AppError("INTERNAL", "A new transfer id was taken; try again.");
  }
  return [...written, ...fresh];
}

/**
 * A file whose content is pending and comes without a resumeId (its sender has no journal of it) starts
 * a new upload. An upload of its path whose content was never named (a sender stopped before its hash was
 * known) cannot be trusted to hold this file's bytes: it is superseded, so the path lists one live upload.
 * Uploads of a named content are left: naming this one's content finds them if they are the same.
 */
async function supersedeStalePending(ctx: BatchContext, batchId: string, pending: Pending[]): Promise<void> {
  const blind = pending.filter(
    (p) => p.entry.sha256 === CONTENT_PENDING && !p.entry.resumeId && !p.decided.supersedes,
  );
  await mapLimit(blind, CHECK_PARALLEL, async (p) => {
    const listed = await ctx.batches.listedAtPath(batchId, p.entry.path);
    const stale = listed.find(
      (t) =>
        t.sha256 === CONTENT_PENDING &&
        t.upload !== "single" &&
        (t.status === "uploading" || t.status === "failed"),
    );
    if (stale) p.decided = { ...p.decided, supersedes: stale };
  });
}

/** What the transfer service's init gets for a multipart file of a batch. */
function multipartInput(batch: BatchRecord, e: PlannedEntry, resumeId: string | undefined) {
  const input = {
    name: e.name,
    size: e.size,
    // Content pending: the transfer service starts the upload; its SHA-256 is named later.
    ...(e.sha256 !== CONTENT_PENDING && { sha256: e.sha256 }),
    priority: e.priority,
    batchId: batch.id,
    path: e.path,
    ...(e.partSizeHint !== undefined && { partSizeHint: e.partSizeHint }),
    ...(e.contentType !== undefined && { contentType: e.contentType }),
    ...(resumeId !== undefined && { resumeId }),
    ...(e.parts !== undefined && { parts: e.parts }),
  };
  return input;
}

/**
 * Transfers replaced by an entry of other content (the file changed since the earlier run): aborted if
 * unfinished (storage releases a multipart upload's parts) and taken out of the batch's listing.
 */
async function supersede(ctx: BatchContext, pending: readonly Pending[], counts: BatchCounts, now: string) {
  const old = pending.flatMap((p) => (p.decided.supersedes ? [p.decided.supersedes] : []));
  await mapLimit(old, CHECK_PARALLEL, async (t) => {
    if (t.status !== "complete" && t.status !== "aborted") await abortUnfinished(ctx, t.id);
    const detached = await ctx.batches.detachFromBatch(t.id, now);
    if (detached && t.status === "complete") {
      // The batch counted it; the entry that replaces it will be counted when it completes (a call sent
      // again finds it taken out already, so it is not taken off twice).
      counts.filesComplete = (counts.filesComplete ?? 0) - 1;
      counts.bytesComplete = (counts.bytesComplete ?? 0) - t.size;
    }
  });
}
