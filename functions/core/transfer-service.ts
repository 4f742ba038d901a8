/**
 * The coordinator's transfer logic: a state machine over presigned S3 multipart uploads.
 * uploading → assembling → complete, or → aborted / failed. Bytes never pass through here.
 */
import {
  MAX_OBJECT_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MAX_PRESIGN_BATCH,
  MIN_PART_SIZE,
} from "../contract/limits.js";
import type { TransferEvent } from "../contract/monitor.js";
import type {
  DownloadResponse,
  FileDetail,
  FileSummary,
  HealthResponse,
  InitResponse,
  Limits,
  MissingResponse,
  PartDoneResponse,
  PartSpec,
  PresignResponse,
  Priority,
  StatsResponse,
  TransferStatus,
} from "../contract/schemas.js";
import { type ActivityLog, minuteOf, type SeriesDelta } from "./activity.js";
import { base64ToHex, compositeSha256, EMPTY_SHA256_HEX, hexToBase64 } from "./checksums.js";
import { AppError } from "./errors.js";
import { hashToken, newTransferId } from "./ids.js";
import {
  assemblyReady,
  checkAssembly,
  checkNeighbours,
  checkPart,
  describeGaps,
  recommendPartSize,
} from "./part-math.js";
import type {
  ApiKeyRecord,
  ClientMetrics,
  Clock,
  ListTransfersQuery,
  ObjectStore,
  PartRecord,
  StatsDelta,
  StoredPart,
  TransferRecord,
  TransferRepo,
} from "./ports.js";

export interface ServiceConfig {
  presignExpiresSeconds: number;
  downloadExpiresSeconds: number;
  version: string;
}

export interface ServiceDeps {
  repo: TransferRepo;
  store: ObjectStore;
  config: ServiceConfig;
  clock?: Clock;
  /** Where problems that must not fail a request (stats bookkeeping, cleanup) are reported. */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Timelines, recent errors and throughput for the dashboard; optional and advisory. */
  activity?: ActivityLog;
}

export interface InitInput {
  name: string;
  size: number;
  sha256: string;
  priority: Priority;
  partSizeHint?: number | undefined;
  contentType?: string | undefined;
}

export interface PartDoneInput {
  offset: number;
  size: number;
  sha256: string;
  etag: string;
  client?: ClientMetrics | undefined;
}

/** How long a validated API key is trusted without reading the table again. */
export const KEY_CACHE_MS = 30_000;

const stripQuotes = (etag: string) => etag.replace(/^"+|"+$/g, "");
const objectKeyFor = (transferId: string) => `objects/${transferId}`;
/** Presign batches up to this size look up each part's recorded neighbours instead of listing every part. */
const NEIGHBOUR_LOOKUP_MAX = 4;

/** Whether storage holds this recorded part as recorded (size, and SHA-256 where the store keeps one). */
function storageHolds(stored: StoredPart | undefined, p: PartRecord): boolean {
  if (!stored || stored.size !== p.size) return false;
  return stored.checksumSha256 === undefined || base64ToHex(stored.checksumSha256) === p.sha256;
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
  return s;
}

export class TransferService {
  private readonly repo: TransferRepo;
  private readonly store: ObjectStore;
  private readonly config: ServiceConfig;
  private readonly clock: Clock;
  private readonly warn: NonNullable<ServiceDeps["warn"]>;
  private readonly keyCache = new Map<string, { key: ApiKeyRecord; until: number }>();
  private readonly activity: ActivityLog | undefined;

  constructor(deps: ServiceDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
    this.config = deps.config;
    this.clock = deps.clock ?? { now: () => new Date() };
    this.warn = deps.warn ?? (() => {});
    this.activity = deps.activity;
  }

  /** Records a timeline event; like stats, a failure here is logged, never passed on. */
  private async note(
    t: Pick<TransferRecord, "id" | "name">,
    kind: TransferEvent["kind"],
    message: string,
    extra: { code?: string; partNumber?: number; minute?: SeriesDelta } = {},
  ): Promise<void> {
    if (!this.activity) return;
    const now = this.clock.now();
    try {
      const event: TransferEvent = { at: now.toISOString(), transferId: t.id, name: t.name, kind, message };
      if (extra.code !== undefined) event.code = extra.code;
      if (extra.partNumber !== undefined) event.partNumber = extra.partNumber;
      await Promise.all([
        this.activity.record(event),
        extra.minute ? this.activity.addToMinute(minuteOf(now), extra.minute) : undefined,
      ]);
    } catch (err) {
      this.warn("activity update failed", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  limits(): Limits {
    return {
      minPartSize: MIN_PART_SIZE,
      maxPartSize: MAX_PART_SIZE,
      maxParts: MAX_PARTS,
      maxObjectSize: MAX_OBJECT_SIZE,
      maxPresignBatch: MAX_PRESIGN_BATCH,
      presignExpiresSeconds: this.config.presignExpiresSeconds,
    };
  }

  // ---- auth

  /**
   * Valid keys are remembered for a short while (per process), so most requests skip a table read;
   * a revoked key stops working within KEY_CACHE_MS. Invalid tokens are never cached.
   */
  async authenticate(token: string | undefined): Promise<ApiKeyRecord> {
    if (!token) throw new AppError("UNAUTHORIZED", "Missing API token: send Authorization: Bearer <token>.");
    const hash = hashToken(token);
    const now = this.clock.now().getTime();
    const cached = this.keyCache.get(hash);
    if (cached && cached.until > now) return cached.key;
    const key = await this.repo.getApiKey(hash);
    if (!key || key.revokedAt) {
      this.keyCache.delete(hash);
      throw new AppError("UNAUTHORIZED", "The API token is not valid.");
    }
    if (this.keyCache.size >= 1000) this.keyCache.clear();
    this.keyCache.set(hash, { key, until: now + KEY_CACHE_MS });
    return key;
  }

  // ---- upload lifecycle

  async init(input: InitInput): Promise<InitResponse> {
    const now = this.clock.now().toISOString();
    const id = newTransferId(this.clock.now().getTime());
    const base = {
      id,
      name: input.name,
      size: input.size,
      sha256: input.sha256,
      priority: input.priority,
      createdAt: now,
      updatedAt: now,
      ...(input.contentType !== undefined && { contentType: input.contentType }),
    };
    const answer = (t: TransferRecord, deduplicated: boolean): InitResponse => ({
      transferId: t.id,
      status: t.status,
      deduplicated,
      partSize: recommendPartSize(t.size, input.partSizeHint),
      limits: this.limits(),
      file: toSummary(t),
    });

    const existing = await this.repo.findStoredObject(input.sha256, input.size);
    if (existing) {
      const head = await this.store.headObject(existing.objectKey);
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
        await this.repo.createTransfer(t);
        await this.bumpStats({
          status: { complete: 1 },
          priority: { [input.priority]: 1 },
          bytesStored: input.size,
          bytesDeduplicated: input.size,
          dedupeHits: 1,
        });
        await this.note(
          t,
          "deduplicated",
          `The same content is stored (${existing.transferId}); nothing to send.`,
          {
            minute: { completed: 1 },
          },
        );
        return answer(t, true);
      }
      this.warn("dedupe entry points at a missing object; uploading again", { sha256: input.sha256 });
    }

    const objectKey = objectKeyFor(id);
    if (input.size === 0) {
      // Refuse before writing anything: a rejected request leaves storage as it was.
      if (input.sha256 !== EMPTY_SHA256_HEX)
        throw new AppError(
          "INVALID_INPUT",
          "An empty file's SHA-256 is e3b0c442…b855; the one given differs.",
        );
      // S3 multipart needs at least one part; an empty file is one plain PUT.
      await this.store.putEmptyObject(objectKey, hexToBase64(EMPTY_SHA256_HEX));
      const t: TransferRecord = {
        ...base,
        status: "complete",
        objectKey,
        partsDone: 0,
        bytesDone: 0,
        completedAt: now,
      };
      await this.repo.createTransfer(t);
      await this.repo.putStoredObject({
        sha256: t.sha256,
        size: 0,
        objectKey,
        transferId: id,
        createdAt: now,
      });
      await this.bumpStats({ status: { complete: 1 }, priority: { [input.priority]: 1 } });
      return answer(t, false);
    }

    const uploadId = await this.store.createMultipartUpload(objectKey, input.contentType);
    const t: TransferRecord = {
      ...base,
      status: "uploading",
      objectKey,
      uploadId,
      partsDone: 0,
      bytesDone: 0,
    };
    try {
      await this.repo.createTransfer(t);
    } catch (err) {
      await this.store.abortMultipartUpload(objectKey, uploadId).catch(() => {});
      throw err;
    }
    await this.bumpStats({ status: { uploading: 1 }, priority: { [input.priority]: 1 } });
    await this.note(t, "created", `Transfer started: ${input.size} bytes, ${input.priority} priority.`);
    return answer(t, false);
  }

  async presignParts(id: string, parts: readonly PartSpec[]): Promise<PresignResponse> {
    const t = await this.mustGet(id);
    this.assertUploading(t, "presign parts");
    const seen = new Set<number>();
    for (const p of parts) {
      if (seen.has(p.partNumber))
        throw new AppError("INVALID_PART", `Part ${p.partNumber} is asked for twice.`);
      seen.add(p.partNumber);
      checkPart(t.size, p);
    }
    // A few parts (the CLI asks for one at a time): read only their recorded neighbours, so a presign
    // costs the same at part 9,999 as at part 2; a large batch reads the part list once.
    const recorded: (PartRecord[] | undefined)[] =
      parts.length <= NEIGHBOUR_LOOKUP_MAX
        ? await Promise.all(parts.map((p) => this.repo.partNeighbours(id, p.partNumber)))
        : parts.map(() => undefined);
    const all = recorded.includes(undefined) ? await this.repo.listParts(id) : [];
    parts.forEach((p, i) => {
      checkNeighbours(
        p,
        parts.filter((q) => q.partNumber !== p.partNumber),
      );
      checkNeighbours(
        p,
        (recorded[i] ?? all).filter((r) => r.partNumber !== p.partNumber),
      );
    });
    const expiresIn = this.config.presignExpiresSeconds;
    const expiresAt = new Date(this.clock.now().getTime() + expiresIn * 1000).toISOString();
    const uploadId = t.uploadId as string;
    const signed = await Promise.all(
      parts.map(async (p) => {
        const req = await this.store.presignUploadPart(
          t.objectKey,
          uploadId,
          { partNumber: p.partNumber, size: p.size, sha256Base64: hexToBase64(p.sha256) },
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
    return { parts: signed };
  }

  async partDone(id: string, partNumber: number, input: PartDoneInput): Promise<PartDoneResponse> {
    const t = await this.mustGet(id);
    const spec = { partNumber, offset: input.offset, size: input.size };
    checkPart(t.size, spec);
    if (t.status !== "uploading") {
      const parts = await this.repo.listParts(id);
      const same = parts.find((p) => p.partNumber === partNumber && p.sha256 === input.sha256);
      if (same && t.status === "complete")
        return { partNumber, recorded: "existing", partsDone: t.partsDone, bytesDone: t.bytesDone };
      this.assertUploading(t, "record parts");
    }
    // Trust storage, not the caller: the part must be stored with exactly this size and checksum.
    const stored = await this.store.getPart(t.objectKey, t.uploadId as string, partNumber);
    try {
      this.checkStoredPart(partNumber, input, stored);
    } catch (err) {
      if (err instanceof AppError)
        await this.note(t, "part-rejected", err.message, { code: err.code, partNumber });
      throw err;
    }
    const reported = input.client?.lastError;
    if (reported && reported !== t.lastError) await this.note(t, "client-error", reported, { partNumber });
    const now = this.clock.now().toISOString();
    const part: PartRecord = {
      partNumber,
      offset: input.offset,
      size: input.size,
      sha256: input.sha256,
      etag: stripQuotes((stored as StoredPart).etag),
      uploadedAt: now,
    };
    const r = await this.repo.recordPart(id, part, input.client, now);
    if (r.outcome === "not-uploading") {
      const status = (await this.mustGet(id)).status;
      throw new AppError("INVALID_STATE", `Transfer ${id} is ${status}; cannot record parts.`, { status });
    }
    if (r.outcome === "new") {
      await this.bumpStats({ bytesReceived: part.size });
      await this.activity
        ?.addToMinute(minuteOf(this.clock.now()), { bytes: part.size, parts: 1 })
        .catch(() => {});
      return { partNumber, recorded: "new", partsDone: r.partsDone, bytesDone: r.bytesDone };
    }
    const old = r.existing;
    let recorded: PartDoneResponse["recorded"] = "existing";
    if (old.sha256 !== part.sha256 || old.offset !== part.offset || old.size !== part.size) {
      // The part was sent again with other bytes; storage now holds the new ones (checked above).
      checkNeighbours(part, await this.repo.partNeighbours(id, partNumber));
      if (!(await this.repo.replacePart(id, old, part, now)))
        throw new AppError("PART_CONFLICT", `Part ${partNumber} changed while it was being recorded; retry.`);
      await this.bumpStats({ bytesReceived: part.size - old.size });
      recorded = "replaced";
    }
    const fresh = await this.mustGet(id);
    return { partNumber, recorded, partsDone: fresh.partsDone, bytesDone: fresh.bytesDone };
  }

  async missing(id: string): Promise<MissingResponse> {
    const t = await this.mustGet(id);
    if (t.status === "aborted" || t.status === "failed")
      throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}; start a new transfer.`);
    let parts = await this.repo.listParts(id);
    if (t.status === "uploading") parts = await this.reconcile(t, parts);
    const fresh = t.status === "uploading" ? await this.mustGet(id) : t;
    const gaps = fresh.status === "complete" ? [] : checkAssembly(t.size, parts).missing;
    return {
      transferId: id,
      status: fresh.status,
      size: t.size,
      bytesDone: fresh.bytesDone,
      partsDone: fresh.partsDone,
      missing: gaps,
      parts: parts.map(({ partNumber, offset, size, sha256 }) => ({ partNumber, offset, size, sha256 })),
    };
  }

  async assemble(id: string): Promise<FileSummary> {
    let t = await this.mustGet(id);
    if (t.status === "complete") return toSummary(t);
    if (t.status === "aborted" || t.status === "failed")
      throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}; it cannot be assembled.`);
    const parts = (await this.repo.listParts(id)).sort((a, b) => a.partNumber - b.partNumber);
    const check = checkAssembly(t.size, parts);
    if (!assemblyReady(check)) {
      const problems: string[] = [];
      if (check.missing.length) problems.push(`missing ${describeGaps(check.missing)}`);
      if (check.overlapping.length) problems.push(`overlapping parts ${check.overlapping.join(", ")}`);
      if (check.undersized.length)
        problems.push(`parts under 5 MiB before the last: ${check.undersized.join(", ")}`);
      throw new AppError(
        "PARTS_MISSING",
        `Transfer ${id} cannot be assembled: ${problems.join("; ")}.`,
        check,
      );
    }
    const now = () => this.clock.now().toISOString();
    if (t.status === "uploading") {
      const moved = await this.repo.transition(id, ["uploading"], "assembling", {}, now());
      if (moved) {
        await this.bumpStats({ status: { uploading: -1, assembling: 1 } });
        t = moved;
      } else {
        t = await this.mustGet(id);
        if (t.status === "complete") return toSummary(t);
        if (t.status !== "assembling") throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}.`);
      }
    }
    const uploadId = t.uploadId as string;
    let stored: StoredPart[];
    try {
      stored = await this.store.listParts(t.objectKey, uploadId);
    } catch (err) {
      return this.finishIfAlreadyStored(t, parts, err);
    }
    const byNumber = new Map(stored.map((s) => [s.partNumber, s]));
    const bad = parts.filter((p) => !storageHolds(byNumber.get(p.partNumber), p));
    if (bad.length) {
      await this.repo.forgetParts(id, bad, now());
      if (await this.repo.transition(id, ["assembling"], "uploading", {}, now()))
        await this.bumpStats({ status: { assembling: -1, uploading: 1 } });
      await this.note(
        t,
        "checksum-mismatch",
        `Storage does not hold parts ${bad.map((p) => p.partNumber).join(", ")} as recorded.`,
        {
          code: "CHECKSUM_MISMATCH",
        },
      );
      throw new AppError(
        "CHECKSUM_MISMATCH",
        `Storage does not hold parts ${bad.map((p) => p.partNumber).join(", ")} as recorded; send them again.`,
        { parts: bad.map((p) => p.partNumber) },
      );
    }
    const expected = compositeSha256(parts.map((p) => p.sha256));
    let result: { etag: string; checksumSha256?: string };
    try {
      result = await this.store.completeMultipartUpload(
        t.objectKey,
        uploadId,
        parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag, sha256Base64: hexToBase64(p.sha256) })),
      );
    } catch (err) {
      return this.finishIfAlreadyStored(t, parts, err);
    }
    if (result.checksumSha256 !== undefined && result.checksumSha256 !== expected)
      this.warn("storage composite checksum differs from the parts' digests", {
        transferId: id,
        storage: result.checksumSha256,
        expected,
      });
    return this.markComplete(t, expected);
  }

  async abort(id: string): Promise<{ transferId: string; status: TransferStatus }> {
    const t = await this.mustGet(id);
    if (t.status === "aborted") return { transferId: id, status: "aborted" };
    if (t.status === "complete")
      throw new AppError("INVALID_STATE", `Transfer ${id} is complete; there is no upload to abort.`);
    if (t.uploadId) {
      await this.store.abortMultipartUpload(t.objectKey, t.uploadId).catch((err: unknown) => {
        if (!(err instanceof AppError && err.code === "UPLOAD_GONE")) throw err;
      });
    }
    const from: TransferStatus[] = ["uploading", "assembling", "failed"];
    const moved = await this.repo.transition(id, from, "aborted", {}, this.clock.now().toISOString());
    if (moved) {
      await this.bumpStats({ status: { [t.status]: -1, aborted: 1 } });
      await this.note(t, "aborted", "Aborted; storage released the parts it held.");
    }
    const now = moved ?? (await this.mustGet(id));
    return { transferId: id, status: now.status };
  }

  // ---- reading

  async list(q: ListTransfersQuery): Promise<{ items: FileSummary[]; nextCursor: string | null }> {
    if (
      q.status === "uploading" &&
      q.sha256 !== undefined &&
      q.size !== undefined &&
      q.cursor === undefined
    ) {
      // "Is this content already being uploaded?" — how a client on another host finds the upload to resume.
      const open = await this.repo.findOpenTransfers(q.sha256, q.size);
      const items = open
        .filter((t) => q.priority === undefined || t.priority === q.priority)
        .slice(0, q.limit);
      return { items: items.map(toSummary), nextCursor: null };
    }
    const page = await this.repo.listTransfers(q);
    return { items: page.items.map(toSummary), nextCursor: page.cursor ?? null };
  }

  async get(id: string): Promise<FileDetail> {
    const t = await this.mustGet(id);
    const parts = (await this.repo.listParts(id)).sort((a, b) => a.partNumber - b.partNumber);
    return { ...toSummary(t), parts };
  }

  async download(id: string): Promise<DownloadResponse> {
    const t = await this.mustGet(id);
    if (t.status !== "complete")
      throw new AppError(
        "INVALID_STATE",
        `Transfer ${id} is ${t.status}; only complete files can be downloaded.`,
      );
    const expiresIn = this.config.downloadExpiresSeconds;
    const url = await this.store.presignGet(t.objectKey, { fileName: t.name, expiresInSeconds: expiresIn });
    const expiresAt = new Date(this.clock.now().getTime() + expiresIn * 1000).toISOString();
    return { url, expiresAt, name: t.name, size: t.size, sha256: t.sha256 };
  }

  async stats(): Promise<StatsResponse> {
    const c = await this.repo.getStats();
    const total = Object.values(c.byStatus).reduce((a, b) => a + b, 0);
    const ended = c.byStatus.complete + c.byStatus.failed + c.byStatus.aborted;
    return {
      transfers: { total, byStatus: c.byStatus, byPriority: c.byPriority },
      bytes: { stored: c.bytesStored, received: c.bytesReceived, deduplicated: c.bytesDeduplicated },
      dedupeHits: c.dedupeHits,
      successRate: ended === 0 ? null : c.byStatus.complete / ended,
      meanSpeedBps: c.uploadMillis > 0 ? (c.uploadedBytes * 1000) / c.uploadMillis : null,
      generatedAt: this.clock.now().toISOString(),
    };
  }

  async health(timeoutMs = 3000): Promise<HealthResponse> {
    const probe = async (fn: () => Promise<void>) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          fn(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { ok: true, latencyMs: Math.round(performance.now() - started) };
      } catch (err) {
        const error = err instanceof Error ? err.message : "unreachable";
        return { ok: false, latencyMs: Math.round(performance.now() - started), error };
      } finally {
        clearTimeout(timer);
      }
    };
    const [s3, dynamodb] = await Promise.all([probe(() => this.store.ping()), probe(() => this.repo.ping())]);
    return {
      status: s3.ok && dynamodb.ok ? "ok" : "degraded",
      version: this.config.version,
      time: this.clock.now().toISOString(),
      checks: { s3, dynamodb },
    };
  }

  // ---- helpers

  private async mustGet(id: string): Promise<TransferRecord> {
    const t = await this.repo.getTransfer(id);
    if (!t) throw new AppError("NOT_FOUND", `No transfer ${id}.`);
    return t;
  }

  private assertUploading(t: TransferRecord, action: string): void {
    if (t.status === "uploading") return;
    throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${t.status}; cannot ${action}.`, {
      status: t.status,
    });
  }

  private checkStoredPart(n: number, claim: PartDoneInput, stored: StoredPart | undefined): void {
    if (!stored)
      throw new AppError(
        "PART_NOT_STORED",
        `Storage holds no part ${n} for this upload; upload it before marking it done.`,
      );
    if (stored.size !== claim.size)
      throw new AppError(
        "PART_NOT_STORED",
        `Storage holds ${stored.size} bytes as part ${n}, not ${claim.size}.`,
      );
    if (stored.checksumSha256 !== undefined && base64ToHex(stored.checksumSha256) !== claim.sha256)
      throw new AppError(
        "PART_NOT_STORED",
        `Storage holds part ${n} with another SHA-256 than the one given.`,
      );
    if (stripQuotes(stored.etag) !== stripQuotes(claim.etag))
      throw new AppError(
        "PART_NOT_STORED",
        `Storage holds part ${n} with ETag ${stored.etag}, not ${claim.etag}.`,
      );
  }

  /** Drops part records storage no longer holds (lost, or replaced by other bytes). */
  private async reconcile(t: TransferRecord, parts: PartRecord[]): Promise<PartRecord[]> {
    let stored: StoredPart[];
    try {
      stored = await this.store.listParts(t.objectKey, t.uploadId as string);
    } catch (err) {
      if (err instanceof AppError && err.code === "UPLOAD_GONE") return this.failGone(t, "uploading");
      throw err;
    }
    const byNumber = new Map(stored.map((s) => [s.partNumber, s]));
    const lost = parts.filter((p) => !storageHolds(byNumber.get(p.partNumber), p));
    if (lost.length === 0) return parts;
    await this.repo.forgetParts(t.id, lost, this.clock.now().toISOString());
    this.warn("forgot part records storage does not hold", {
      transferId: t.id,
      parts: lost.map((p) => p.partNumber),
    });
    const gone = new Set(lost.map((p) => p.partNumber));
    return parts.filter((p) => !gone.has(p.partNumber));
  }

  /** After a crash between CompleteMultipartUpload and the record update, the object exists: finish the record. */
  private async finishIfAlreadyStored(
    t: TransferRecord,
    parts: PartRecord[],
    err: unknown,
  ): Promise<FileSummary> {
    if (!(err instanceof AppError && err.code === "UPLOAD_GONE")) throw err;
    const head = await this.store.headObject(t.objectKey);
    if (head && head.size === t.size)
      return this.markComplete(t, compositeSha256(parts.map((p) => p.sha256)));
    return this.failGone(t, "assembling");
  }

  /** The upload vanished from storage (lifecycle rule, operator, another tool): the transfer cannot finish. */
  private async failGone(t: TransferRecord, from: TransferStatus): Promise<never> {
    const now = this.clock.now().toISOString();
    if (await this.repo.transition(t.id, [from], "failed", { lastError: "upload gone from storage" }, now)) {
      await this.bumpStats({ status: { [from]: -1, failed: 1 } });
      await this.note(t, "upload-gone", "Storage no longer has the upload; the transfer failed.", {
        code: "UPLOAD_GONE",
        minute: { failed: 1 },
      });
    }
    throw new AppError("UPLOAD_GONE", `Storage no longer has the upload of ${t.id}; start a new transfer.`);
  }

  private async markComplete(t: TransferRecord, compositeChecksum: string): Promise<FileSummary> {
    const nowDate = this.clock.now();
    const now = nowDate.toISOString();
    const done = await this.repo.transition(
      t.id,
      ["assembling"],
      "complete",
      { completedAt: now, compositeChecksum },
      now,
    );
    if (!done) {
      const again = await this.mustGet(t.id);
      if (again.status === "complete") return toSummary(again);
      throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${again.status}.`);
    }
    await this.repo.putStoredObject({
      sha256: t.sha256,
      size: t.size,
      objectKey: t.objectKey,
      transferId: t.id,
      compositeChecksum,
      createdAt: now,
    });
    await this.bumpStats({
      status: { assembling: -1, complete: 1 },
      bytesStored: t.size,
      uploadedBytes: t.size,
      uploadMillis: Math.max(1, nowDate.getTime() - Date.parse(t.createdAt)),
    });
    await this.note(t, "assembled", `Assembled and complete; composite checksum ${compositeChecksum}.`, {
      minute: { completed: 1 },
    });
    return toSummary(done);
  }

  /** Stats are advisory counters kept beside the records; a failed update must not fail the transfer. */
  private async bumpStats(delta: StatsDelta): Promise<void> {
    try {
      await this.repo.addStats(delta);
    } catch (err) {
      this.warn("stats update failed", { error: err instanceof Error ? err.message : String(err) });
    }
  }
}
