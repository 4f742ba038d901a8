/**
 * What the transfer service's parts share: the ports, the clock, the stats buffer, the part recorder and the
 * bookkeeping calls (timeline notes, the ended hook), plus the helpers several of them use: a transfer's
 * summary, presigning parts, the view of what storage holds beside the records, and state transitions that
 * move the counters of the status really left. Built once by TransferService (transfer-service.ts).
 */
import type { TransferEvent } from "../contract/monitor.js";
import { uniformPart } from "../contract/part-rules.js";
import type {
  FileSummary,
  Limits,
  PartSpec,
  PresignedPart,
  TransferStatus,
  UnrecordedPart,
} from "../contract/schemas.js";
import type { SeriesDelta } from "./activity.js";
import { base64ToHex } from "./checksums.js";
import { AppError } from "./errors.js";
import { checkAssembly, type Gap, type PartRange, unrecordedParts } from "./part-math.js";
import { entriesByNumber, type PartRecorder, partsNotHeld } from "./part-recorder.js";
import type {
  Clock,
  ObjectStore,
  PartRecord,
  StatsDelta,
  StorageCheck,
  StoredPart,
  TransferRecord,
  TransferRepo,
} from "./ports.js";
import type { StorageProfile } from "./storage-profiles.js";
import { digestsOf, uniformMissing } from "./storage-rules.js";

export interface ServiceConfig {
  presignExpiresSeconds: number;
  downloadExpiresSeconds: number;
  version: string;
  /** Longest the advisory byte counters wait in process before they are written (ms); 0 = at once. Default 1000. */
  statsFlushMs?: number | undefined;
}

export type EndedStatus = "complete" | "failed" | "aborted";

export interface TransferContext {
  repo: TransferRepo;
  store: ObjectStore;
  config: ServiceConfig;
  clock: Clock;
  warn: (message: string, fields?: Record<string, unknown>) => void;
  recorder: PartRecorder;
  /** The store's rules: its part check, uniform parts, limits (storage-profiles.ts). */
  profile: StorageProfile;
  /** What storage checks the bytes of a transfer created now against (recorded on the transfer). */
  storageCheck(): StorageCheck;
  limits(): Limits;
  /** Adds to the advisory counters (coalesced); never throws. */
  addStats(delta: StatsDelta, series?: SeriesDelta): Promise<void>;
  /** A timeline event; never throws. */
  note(
    t: Pick<TransferRecord, "id" | "name">,
    kind: TransferEvent["kind"],
    message: string,
    extra?: { code?: string; partNumber?: number },
  ): Promise<void>;
  /** Tells onTransferEnded of a real transition; never throws. */
  ended(t: TransferRecord, status: EndedStatus): Promise<void>;
}

export const objectKeyFor = (transferId: string): string => `objects/${transferId}`;

/**
 * The ranges of `t` no recorded part covers, each with the part numbers free for it: any numbers in
 * between, or on an upload cut by one part size (uniform parts), exactly the positions of its parts.
 * A new upload misses the whole file.
 */
export function missingOf(ctx: TransferContext, t: TransferRecord, parts: readonly PartRange[]): Gap[] {
  if (t.partSize !== undefined) return uniformMissing(t.size, t.partSize, parts);
  return checkAssembly(t.size, parts, ctx.profile.limits).missing;
}

export function toSummary(t: TransferRecord): FileSummary {
  const s: FileSummary = {
    id: t.id,
    name: t.name,
    size: t.size,
    sha256: t.sha256,
    priority: t.priority,
    status: t.status,
    partsDone: t.partsDone,
    bytesDone: t.bytesDone,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
  if (t.completedAt !== undefined) s.completedAt = t.completedAt;
  if (t.compositeChecksum !== undefined) s.compositeChecksum = t.compositeChecksum;
  if (t.deduplicatedFrom !== undefined) s.deduplicatedFrom = t.deduplicatedFrom;
  if (t.contentType !== undefined) s.contentType = t.contentType;
  if (t.retries !== undefined) s.retries = t.retries;
  if (t.speedBps !== undefined) s.speedBps = t.speedBps;
  if (t.status === "uploading" && t.speedBps) s.etaSeconds = Math.round((t.size - t.bytesDone) / t.speedBps);
  if (t.lastError !== undefined) s.lastError = t.lastError;
  if (t.batchId !== undefined) s.batchId = t.batchId;
  if (t.path !== undefined) s.path = t.path;
  if (t.upload !== undefined) s.upload = t.upload;
  if (t.storageCheck !== undefined) s.storageCheck = t.storageCheck;
  return s;
}

export const recordedInfo = (parts: readonly PartRecord[]) =>
  [...parts]
    .sort((a, b) => a.partNumber - b.partNumber)
    .map(({ partNumber, offset, size, sha256 }) => ({ partNumber, offset, size, sha256 }));

/** What storage holds for an upload beside the records: reconciled records and the unrecorded parts. */
export interface StorageView {
  parts: PartRecord[];
  unrecorded: UnrecordedPart[];
  /** Records were forgotten (storage lost them): the transfer's counters changed. */
  changed: boolean;
}

export async function mustGet(ctx: TransferContext, id: string): Promise<TransferRecord> {
  const t = await ctx.repo.getTransfer(id);
  if (!t) throw new AppError("NOT_FOUND", `No transfer ${id}.`);
  return t;
}

/** A single-PUT file of a batch has no parts: it is completed by POST /batch/{id}/complete. */
export function assertMultipart(t: TransferRecord): void {
  if (t.uploadId !== undefined) return;
  if (t.status === "complete") return;
  throw new AppError(
    "INVALID_STATE",
    `Transfer ${t.id} is one single PUT, not a multipart upload: complete it through its batch.`,
    { status: t.status, upload: t.upload ?? "single" },
  );
}

export function assertUploading(t: TransferRecord, action: string): void {
  if (t.status === "uploading") return;
  throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${t.status}; cannot ${action}.`, {
    status: t.status,
  });
}

/** Presigned UploadPart URLs, each with the part's digest (SHA-256 or MD5, as storage checks) signed. */
export async function sign(
  ctx: TransferContext,
  t: TransferRecord,
  parts: readonly PartSpec[],
): Promise<PresignedPart[]> {
  if (parts.length === 0) return [];
  const expiresIn = ctx.config.presignExpiresSeconds;
  const expiresAt = new Date(ctx.clock.now().getTime() + expiresIn * 1000).toISOString();
  const uploadId = t.uploadId as string;
  return Promise.all(
    parts.map(async (p) => {
      const req = await ctx.store.presignUploadPart(
        t.objectKey,
        uploadId,
        { partNumber: p.partNumber, size: p.size, ...digestsOf(p) },
        expiresIn,
      );
      return {
        partNumber: p.partNumber,
        method: "PUT" as const,
        url: req.url,
        headers: req.headers,
        expiresAt,
      };
    }),
  );
}

/**
 * One entry per part number, for the unrecorded parts a client may take as its own. A store that keeps
 * every upload of a number (SeaweedFS) may list several, in no set order, with nothing telling which is
 * newest: a number whose entries all agree (size, ETag, SHA-256: the same bytes uploaded twice) keeps
 * one; a number whose entries differ keeps none, so that range is sent again rather than a guess offered
 * (and the answer does not change from call to call with the listing's order). On S3 this is the listing.
 */
export function soleEntries(stored: readonly StoredPart[]): StoredPart[] {
  const same = (a: StoredPart, b: StoredPart) =>
    a.size === b.size &&
    a.etag.replace(/^"+|"+$/g, "") === b.etag.replace(/^"+|"+$/g, "") &&
    a.checksumSha256 === b.checksumSha256;
  const out: StoredPart[] = [];
  for (const [first, ...rest] of entriesByNumber(stored).values())
    if (first && rest.every((s) => same(first, s))) out.push(first);
  return out;
}

/**
 * Records storage does not back (no entry it lists for their number matches) are forgotten; stored parts nobody recorded are listed with the offset
 * they would have. Undefined if storage lost the whole upload (the transfer is failed then).
 */
export async function storageView(ctx: TransferContext, t: TransferRecord): Promise<StorageView | undefined> {
  let parts = await ctx.repo.listParts(t.id);
  let stored: StoredPart[];
  try {
    stored = await ctx.store.listParts(t.objectKey, t.uploadId as string);
  } catch (err) {
    if (err instanceof AppError && err.code === "UPLOAD_GONE") {
      await markGone(ctx, t, "uploading");
      return undefined;
    }
    throw err;
  }
  const lost = partsNotHeld(stored, parts);
  if (lost.length) {
    await ctx.repo.forgetParts(t.id, lost, ctx.clock.now().toISOString());
    ctx.warn("forgot part records storage does not hold", {
      transferId: t.id,
      parts: lost.map((p) => p.partNumber),
    });
    const gone = new Set(lost.map((p) => p.partNumber));
    parts = parts.filter((p) => !gone.has(p.partNumber));
  }
  // Only storage's own SHA-256 lets a client take an unrecorded part as its own: stores whose ListParts
  // keeps none (profile.listPartsChecksum false) list no unrecorded parts, and those ranges are sent again.
  const unrecorded = unrecordedParts(
    t.size,
    parts,
    soleEntries(stored).map((s) => ({
      partNumber: s.partNumber,
      size: s.size,
      etag: s.etag.replace(/^"+|"+$/g, ""),
      sha256: s.checksumSha256 === undefined ? undefined : base64ToHex(s.checksumSha256),
    })),
    ctx.profile.limits,
  ).filter((u) => {
    if (t.partSize === undefined) return true;
    const want = uniformPart(u.partNumber, t.partSize, t.size);
    return u.offset === want.offset && u.size === want.size;
  });
  return { parts, unrecorded, changed: lost.length > 0 };
}

/**
 * Moves a transfer from whichever of `from` it is really in to `to`, one conditional write per attempt
 * naming that one status, so the counters are moved from the status actually left.
 */
export async function move(
  ctx: TransferContext,
  t: TransferRecord,
  from: readonly TransferStatus[],
  to: TransferStatus,
  patch: Partial<TransferRecord>,
): Promise<{ moved: TransferRecord; left: TransferStatus } | undefined> {
  let current: TransferRecord | undefined = t;
  for (let attempt = 0; attempt < 5 && current && from.includes(current.status); attempt++) {
    const left = current.status;
    const moved = await ctx.repo.transition(t.id, [left], to, patch, ctx.clock.now().toISOString());
    if (moved) return { moved, left };
    current = await ctx.repo.getTransfer(t.id);
  }
  return undefined;
}

/** The upload vanished from storage (lifecycle rule, operator, another tool): the transfer cannot finish. */
export async function markGone(ctx: TransferContext, t: TransferRecord, from: TransferStatus): Promise<void> {
  const now = ctx.clock.now().toISOString();
  const moved = await ctx.repo.transition(
    t.id,
    [from],
    "failed",
    { lastError: "upload gone from storage" },
    now,
  );
  if (!moved) return;
  await ctx.addStats({ status: { [from]: -1, failed: 1 } }, { failed: 1 });
  await ctx.note(t, "upload-gone", "Storage no longer has the upload; the transfer failed.", {
    code: "UPLOAD_GONE",
  });
  await ctx.ended(moved, "failed");
}
