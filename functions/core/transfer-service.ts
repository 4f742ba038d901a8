/**
 * The coordinator's transfer logic: a state machine over presigned S3 multipart uploads.
 * uploading → assembling → complete, or → aborted / failed. Bytes never pass through here.
 * This class is the facade the routes call; its parts live beside it:
 *   part-recorder.ts   recording parts storage holds (one per call, or in bulk: ≤ 2 item writes a part)
 *   stats-buffer.ts    the advisory counters, coalesced in process and written to sharded items
 *   part-math.ts       where parts may sit, what is missing, which stored parts nobody recorded
 * Find-or-create init: a stored copy of the content completes at once (dedupe); else an unfinished upload
 * of the same SHA-256 and size is resumed (the client's resumeId first, then any open one); else a new one.
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
  PresignedPart,
  PresignResponse,
  Priority,
  RecordPartsResponse,
  StatsResponse,
  TransferStatus,
  UnrecordedPart,
} from "../contract/schemas.js";
import { type ActivityLog, minuteOf, type SeriesDelta } from "./activity.js";
import { base64ToHex, compositeSha256, EMPTY_SHA256_HEX, hexToBase64 } from "./checksums.js";
import { AppError } from "./errors.js";
import { hashToken, newTransferId } from "./ids.js";
import {
  assemblyReady,
  checkAssembly,
  checkNeighbours,
  describeGaps,
  type Gap,
  recommendPartSize,
  unrecordedParts,
} from "./part-math.js";
import { type PartClaim, PartRecorder, storageHolds } from "./part-recorder.js";
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
import { StatsBuffer } from "./stats-buffer.js";

export interface ServiceConfig {
  presignExpiresSeconds: number;
  downloadExpiresSeconds: number;
  version: string;
  /** Longest the advisory byte counters wait in process before they are written (ms); 0 = at once. Default 1000. */
  statsFlushMs?: number | undefined;
}

export type EndedStatus = "complete" | "failed" | "aborted";

export interface ServiceDeps {
  repo: TransferRepo;
  store: ObjectStore;
  config: ServiceConfig;
  clock?: Clock;
  /** Where problems that must not fail a request (stats bookkeeping, cleanup) are reported. */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Timelines, recent errors and throughput for the dashboard; optional and advisory. */
  activity?: ActivityLog;
  /**
   * Told after a transfer really moved to complete, failed or aborted (once per transition); batches keep
   * their counters with it. Its failures are warned about, never passed on.
   */
  onTransferEnded?: (t: TransferRecord, status: EndedStatus) => Promise<void>;
}

export interface InitInput {
  name: string;
  size: number;
  sha256: string;
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

export interface PartDoneInput {
  offset: number;
  size: number;
  sha256: string;
  etag: string;
  client?: ClientMetrics | undefined;
}

export interface RecordInput {
  parts?: readonly PartClaim[] | undefined;
  client?: ClientMetrics | undefined;
}

/** How long a validated API key is trusted without reading the table again. */
export const KEY_CACHE_MS = 30_000;
export const DEFAULT_STATS_FLUSH_MS = 1000;

const objectKeyFor = (transferId: string) => `objects/${transferId}`;
/** Presign batches up to this size look up each part's recorded neighbours instead of listing every part. */
const NEIGHBOUR_LOOKUP_MAX = 4;
/** A new upload misses the whole file, which any part number may cover. */
const wholeFile = (size: number): Gap[] => [{ offset: 0, size, firstPart: 1, lastPart: MAX_PARTS }];

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
  return s;
}

const recordedInfo = (parts: readonly PartRecord[]) =>
  [...parts]
    .sort((a, b) => a.partNumber - b.partNumber)
    .map(({ partNumber, offset, size, sha256 }) => ({ partNumber, offset, size, sha256 }));

/** What storage holds for an upload beside the records: reconciled records and the unrecorded parts. */
interface StorageView {
  parts: PartRecord[];
  unrecorded: UnrecordedPart[];
  /** Records were forgotten (storage lost them): the transfer's counters changed. */
  changed: boolean;
}

export class TransferService {
  private readonly repo: TransferRepo;
  private readonly store: ObjectStore;
  private readonly config: ServiceConfig;
  private readonly clock: Clock;
  private readonly warn: NonNullable<ServiceDeps["warn"]>;
  private readonly keyCache = new Map<string, { key: ApiKeyRecord; until: number }>();
  private readonly activity: ActivityLog | undefined;
  private readonly onTransferEnded: ServiceDeps["onTransferEnded"];
  private readonly statsBuffer: StatsBuffer;
  private readonly recorder: PartRecorder;

  constructor(deps: ServiceDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
    this.config = deps.config;
    this.clock = deps.clock ?? { now: () => new Date() };
    this.warn = deps.warn ?? (() => {});
    this.activity = deps.activity;
    this.onTransferEnded = deps.onTransferEnded;
    const activity = deps.activity;
    this.statsBuffer = new StatsBuffer({
      sink: {
        addStats: (d) => this.repo.addStats(d),
        ...(activity && { addToMinute: (m: string, d: SeriesDelta) => activity.addToMinute(m, d) }),
      },
      flushMs: deps.config.statsFlushMs ?? DEFAULT_STATS_FLUSH_MS,
      clock: this.clock,
      warn: this.warn,
    });
    this.recorder = new PartRecorder({
      repo: this.repo,
      store: this.store,
      clock: this.clock,
      stats: this.statsBuffer,
      note: (t, kind, message, extra) => this.note(t, kind, message, extra),
    });
  }

  /** Writes the counters buffered in this process (tests, shutdown, before reading stats). */
  flushStats(): Promise<void> {
    return this.statsBuffer.flush();
  }

  /** Adds to the advisory counters (coalesced; see stats-buffer.ts). Never throws. */
  addStats(delta: StatsDelta, series?: SeriesDelta): Promise<void> {
    return this.statsBuffer.add(
      delta,
      series ? { minute: minuteOf(this.clock.now()), delta: series } : undefined,
    );
  }

  /** Records a timeline event; like stats, a failure here is logged, never passed on. */
  private async note(
    t: Pick<TransferRecord, "id" | "name">,
    kind: TransferEvent["kind"],
    message: string,
    extra: { code?: string; partNumber?: number } = {},
  ): Promise<void> {
    if (!this.activity) return;
    try {
      const event: TransferEvent = {
        at: this.clock.now().toISOString(),
        transferId: t.id,
        name: t.name,
        kind,
        message,
      };
      if (extra.code !== undefined) event.code = extra.code;
      if (extra.partNumber !== undefined) event.partNumber = extra.partNumber;
      await this.activity.record(event);
    } catch (err) {
      this.warn("activity update failed", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async ended(t: TransferRecord, status: EndedStatus): Promise<void> {
    if (!this.onTransferEnded) return;
    try {
      await this.onTransferEnded(t, status);
    } catch (err) {
      this.warn("onTransferEnded failed", {
        transferId: t.id,
        status,
        error: err instanceof Error ? err.message : String(err),
      });
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
    const wanted = input.parts ?? [];
    // Refuse before writing anything: a rejected request leaves storage and the table as they were.
    this.recorder.validate(input.size, wanted);
    if (input.size === 0 && input.sha256 !== EMPTY_SHA256_HEX)
      throw new AppError("INVALID_INPUT", "An empty file's SHA-256 is e3b0c442…b855; the one given differs.");
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
      ...(input.batchId !== undefined && { batchId: input.batchId }),
      ...(input.path !== undefined && { path: input.path }),
    };
    const answer = (
      t: TransferRecord,
      extra: Partial<
        Pick<InitResponse, "deduplicated" | "resumed" | "missing" | "parts" | "unrecorded" | "presigned">
      >,
    ): InitResponse => ({
      transferId: t.id,
      status: t.status,
      deduplicated: false,
      partSize: recommendPartSize(t.size, input.partSizeHint),
      limits: this.limits(),
      file: toSummary(t),
      resumed: false,
      missing: [],
      parts: [],
      unrecorded: [],
      presigned: [],
      ...extra,
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
        await this.addStats(
          {
            status: { complete: 1 },
            priority: { [input.priority]: 1 },
            bytesStored: input.size,
            bytesDeduplicated: input.size,
            dedupeHits: 1,
          },
          { completed: 1 },
        );
        await this.note(
          t,
          "deduplicated",
          `The same content is stored (${existing.transferId}); nothing to send.`,
        );
        await this.ended(t, "complete");
        return answer(t, { deduplicated: true });
      }
      this.warn("dedupe entry points at a missing object; uploading again", { sha256: input.sha256 });
    }

    const objectKey = objectKeyFor(id);
    if (input.size === 0) {
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
      await this.addStats({ status: { complete: 1 }, priority: { [input.priority]: 1 } }, { completed: 1 });
      await this.ended(t, "complete");
      return answer(t, {});
    }

    const resumed = await this.resumeOpen(input, wanted);
    if (resumed) return answer(resumed.t, { resumed: true, ...resumed.view });

    const uploadId = await this.store.createMultipartUpload(objectKey, input.contentType);
    const t: TransferRecord = {
      ...base,
      status: "uploading",
      objectKey,
      uploadId,
      partsDone: 0,
      bytesDone: 0,
      ...(input.batchId !== undefined && { upload: "multipart" as const }),
    };
    try {
      await this.repo.createTransfer(t);
    } catch (err) {
      await this.store.abortMultipartUpload(objectKey, uploadId).catch(() => {});
      throw err;
    }
    await this.addStats({ status: { uploading: 1 }, priority: { [input.priority]: 1 } });
    await this.note(t, "created", `Transfer started: ${input.size} bytes, ${input.priority} priority.`);
    return answer(t, { missing: wholeFile(input.size), presigned: await this.sign(t, wanted) });
  }

  /**
   * The unfinished upload of this content to go on with, if any: the client's resumeId, else the open
   * uploads of this SHA-256 and size. A file of a batch takes only its own (same batch and path) or one
   * of no batch (which joins the batch); others may take any, their own kind first.
   */
  private async resumeOpen(
    input: InitInput,
    wanted: readonly PartSpec[],
  ): Promise<
    | { t: TransferRecord; view: Pick<InitResponse, "missing" | "parts" | "unrecorded" | "presigned"> }
    | undefined
  > {
    const fits = (t: TransferRecord) =>
      t.status === "uploading" &&
      t.sha256 === input.sha256 &&
      t.size === input.size &&
      t.uploadId !== undefined &&
      t.upload !== "single";
    const score = (t: TransferRecord) => {
      if (input.batchId === undefined) return t.batchId === undefined ? 2 : 1;
      if (t.batchId === input.batchId && t.path === input.path) return 2;
      return t.batchId === undefined ? 1 : 0;
    };
    const candidates: TransferRecord[] = [];
    if (input.resumeId) {
      const mine = await this.repo.getTransfer(input.resumeId);
      if (mine && fits(mine) && score(mine) > 0) candidates.push(mine);
    }
    const open = (await this.repo.findOpenTransfers(input.sha256, input.size)).filter(
      (t) => fits(t) && score(t) > 0 && t.id !== input.resumeId,
    );
    // Stable sort: newest first (the index order) within a score.
    candidates.push(...open.sort((a, b) => score(b) - score(a)));
    for (let t of candidates) {
      if (input.batchId !== undefined && input.path !== undefined && t.batchId === undefined) {
        const adopted = await this.repo.adoptIntoBatch(
          t.id,
          input.batchId,
          input.path,
          this.clock.now().toISOString(),
        );
        if (!adopted) continue;
        t = adopted;
      }
      const view = await this.storageView(t);
      if (!view) continue; // storage lost the upload: it failed; look further or start afresh
      const fresh = view.changed ? ((await this.repo.getTransfer(t.id)) ?? t) : t;
      // Parts asked for that collide with recorded ones are not presigned: the client sends the missing ones.
      const free = wanted.filter((p) => {
        if (view.parts.some((r) => r.partNumber === p.partNumber)) return false;
        try {
          checkNeighbours(p, view.parts);
          return true;
        } catch {
          return false;
        }
      });
      return {
        t: fresh,
        view: {
          missing: checkAssembly(t.size, view.parts).missing,
          parts: recordedInfo(view.parts),
          unrecorded: view.unrecorded,
          presigned: await this.sign(fresh, free),
        },
      };
    }
    return undefined;
  }

  /** Presigned UploadPart URLs, each with the part's SHA-256 as a signed header. */
  private async sign(t: TransferRecord, parts: readonly PartSpec[]): Promise<PresignedPart[]> {
    if (parts.length === 0) return [];
    const expiresIn = this.config.presignExpiresSeconds;
    const expiresAt = new Date(this.clock.now().getTime() + expiresIn * 1000).toISOString();
    const uploadId = t.uploadId as string;
    return Promise.all(
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
  }

  /**
   * Presigns parts; `done` (parts sent since the last call) are recorded first, checked against storage.
   * Everything that can be refused is checked before anything is written.
   */
  async presignParts(
    id: string,
    parts: readonly PartSpec[],
    done: readonly PartClaim[] = [],
    client?: ClientMetrics,
  ): Promise<PresignResponse> {
    let t = await this.mustGet(id);
    this.assertMultipart(t);
    if (done.length === 0 || parts.length > 0) this.assertUploading(t, "presign parts");
    this.recorder.validate(t.size, parts);
    this.recorder.validate(t.size, done);
    // A few parts (the CLI asks for a handful at a time): read only their recorded neighbours, so a
    // presign costs the same at part 9,999 as at part 2; a large batch reads the part list once.
    const recorded: (PartRecord[] | undefined)[] =
      parts.length <= NEIGHBOUR_LOOKUP_MAX
        ? await Promise.all(parts.map((p) => this.repo.partNeighbours(id, p.partNumber)))
        : parts.map(() => undefined);
    const all = recorded.includes(undefined) ? await this.repo.listParts(id) : [];
    const doneNumbers = new Set(done.map((d) => d.partNumber));
    parts.forEach((p, i) => {
      checkNeighbours(
        p,
        parts.filter((q) => q.partNumber !== p.partNumber),
      );
      checkNeighbours(
        p,
        [...(recorded[i] ?? all), ...done].filter((r) => r.partNumber !== p.partNumber),
      );
      if (doneNumbers.has(p.partNumber))
        throw new AppError("INVALID_PART", `Part ${p.partNumber} is both recorded and asked for.`);
    });
    let counters: Pick<PresignResponse, "recorded" | "partsDone" | "bytesDone"> = {};
    if (done.length) {
      const r = await this.recorder.recordMany(t, done, client);
      counters = r;
      if (parts.length) {
        t = await this.mustGet(id);
        this.assertUploading(t, "presign parts");
      }
    }
    return { parts: await this.sign(t, parts), ...counters };
  }

  async partDone(id: string, partNumber: number, input: PartDoneInput): Promise<PartDoneResponse> {
    const t = await this.mustGet(id);
    this.assertMultipart(t);
    const { client, ...claim } = input;
    return this.recorder.recordOne(t, { partNumber, ...claim }, client);
  }

  /** POST /upload/{id}/parts/done: records parts in bulk. */
  async recordParts(id: string, input: RecordInput): Promise<RecordPartsResponse> {
    const t = await this.mustGet(id);
    this.assertMultipart(t);
    return this.recorder.recordMany(t, input.parts ?? [], input.client);
  }

  /**
   * Records storage does not back are forgotten; stored parts nobody recorded are listed with the offset
   * they would have. Undefined if storage lost the whole upload (the transfer is failed then).
   */
  private async storageView(t: TransferRecord): Promise<StorageView | undefined> {
    let parts = await this.repo.listParts(t.id);
    let stored: StoredPart[];
    try {
      stored = await this.store.listParts(t.objectKey, t.uploadId as string);
    } catch (err) {
      if (err instanceof AppError && err.code === "UPLOAD_GONE") {
        await this.markGone(t, "uploading");
        return undefined;
      }
      throw err;
    }
    const byNumber = new Map(stored.map((s) => [s.partNumber, s]));
    const lost = parts.filter((p) => !storageHolds(byNumber.get(p.partNumber), p));
    if (lost.length) {
      await this.repo.forgetParts(t.id, lost, this.clock.now().toISOString());
      this.warn("forgot part records storage does not hold", {
        transferId: t.id,
        parts: lost.map((p) => p.partNumber),
      });
      const gone = new Set(lost.map((p) => p.partNumber));
      parts = parts.filter((p) => !gone.has(p.partNumber));
    }
    const unrecorded = unrecordedParts(
      t.size,
      parts,
      stored.map((s) => ({
        partNumber: s.partNumber,
        size: s.size,
        etag: s.etag.replace(/^"+|"+$/g, ""),
        sha256: s.checksumSha256 === undefined ? undefined : base64ToHex(s.checksumSha256),
      })),
    );
    return { parts, unrecorded, changed: lost.length > 0 };
  }

  async missing(id: string): Promise<MissingResponse> {
    const t = await this.mustGet(id);
    if (t.status === "aborted" || t.status === "failed")
      throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}; start a new transfer.`);
    this.assertMultipart(t);
    let parts: PartRecord[];
    let unrecorded: UnrecordedPart[] = [];
    let fresh = t;
    if (t.status === "uploading") {
      const view = await this.storageView(t);
      if (!view)
        throw new AppError(
          "UPLOAD_GONE",
          `Storage no longer has the upload of ${t.id}; start a new transfer.`,
        );
      parts = view.parts;
      unrecorded = view.unrecorded;
      fresh = view.changed ? await this.mustGet(id) : t;
    } else parts = await this.repo.listParts(id);
    const gaps = fresh.status === "complete" ? [] : checkAssembly(t.size, parts).missing;
    return {
      transferId: id,
      status: fresh.status,
      size: t.size,
      bytesDone: fresh.bytesDone,
      partsDone: fresh.partsDone,
      missing: gaps,
      parts: recordedInfo(parts),
      unrecorded,
    };
  }

  /** Completes the upload; `input.parts` (the last parts sent) are recorded first. */
  async assemble(id: string, input: RecordInput = {}): Promise<FileSummary> {
    let t = await this.mustGet(id);
    if (t.status === "complete") return toSummary(t);
    if (t.status === "aborted" || t.status === "failed")
      throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}; it cannot be assembled.`);
    this.assertMultipart(t);
    if (input.parts?.length || input.client) {
      if (t.status === "uploading") {
        if (input.parts?.length) await this.recorder.recordMany(t, input.parts, input.client);
      } else this.recorder.validate(t.size, input.parts ?? []);
      t = await this.mustGet(id);
      if (t.status === "complete") return toSummary(t);
    }
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
        t = moved;
        await this.addStats({ status: { uploading: -1, assembling: 1 } });
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
        await this.addStats({ status: { assembling: -1, uploading: 1 } });
      const list = bad.map((p) => p.partNumber).join(", ");
      await this.note(t, "checksum-mismatch", `Storage does not hold parts ${list} as recorded.`, {
        code: "CHECKSUM_MISMATCH",
      });
      throw new AppError(
        "CHECKSUM_MISMATCH",
        `Storage does not hold parts ${list} as recorded; send them again.`,
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
    await this.releaseStorage(t);
    const r = await this.move(t, ["uploading", "assembling", "failed"], "aborted", {});
    if (r) {
      await this.addStats({ status: { [r.left]: -1, aborted: 1 } });
      await this.note(t, "aborted", "Aborted; storage released the parts it held.");
      await this.ended(r.moved, "aborted");
    }
    return { transferId: id, status: r?.moved.status ?? (await this.mustGet(id)).status };
  }

  /**
   * The sender gave up: the transfer is failed with its reason (resumable by a later init of the same
   * content is not offered: failed is final), or with `abort` also released in storage and aborted.
   */
  async fail(
    id: string,
    input: { reason: string; abort?: boolean | undefined },
  ): Promise<{ transferId: string; status: TransferStatus }> {
    const t = await this.mustGet(id);
    if (input.abort) {
      if (t.status === "aborted") return { transferId: id, status: "aborted" };
      if (t.status === "complete")
        throw new AppError("INVALID_STATE", `Transfer ${id} is complete; there is nothing to give up.`);
      await this.releaseStorage(t);
      const r = await this.move(t, ["uploading", "assembling", "failed"], "aborted", {
        lastError: input.reason,
      });
      if (r) {
        await this.addStats({ status: { [r.left]: -1, aborted: 1 } }, { failed: 1 });
        await this.note(t, "aborted", `The sender gave up and aborted: ${input.reason}`);
        await this.ended(r.moved, "aborted");
      }
      return { transferId: id, status: r?.moved.status ?? (await this.mustGet(id)).status };
    }
    if (t.status === "failed" || t.status === "aborted") return { transferId: id, status: t.status };
    if (t.status === "complete")
      throw new AppError("INVALID_STATE", `Transfer ${id} is complete; there is nothing to give up.`);
    const r = await this.move(t, ["uploading", "assembling"], "failed", { lastError: input.reason });
    if (r) {
      await this.addStats({ status: { [r.left]: -1, failed: 1 } }, { failed: 1 });
      await this.note(t, "failed", `The sender gave up: ${input.reason}`, { code: "SENDER_GAVE_UP" });
      await this.ended(r.moved, "failed");
    }
    return { transferId: id, status: r?.moved.status ?? (await this.mustGet(id)).status };
  }

  /** Lets storage drop what it holds for an unfinished transfer (its multipart upload, or a single PUT). */
  private async releaseStorage(t: TransferRecord): Promise<void> {
    const gone = (err: unknown) => {
      if (!(err instanceof AppError && err.code === "UPLOAD_GONE")) throw err;
    };
    if (t.uploadId) await this.store.abortMultipartUpload(t.objectKey, t.uploadId).catch(gone);
    else if (t.upload === "single") await this.store.deleteObject(t.objectKey).catch(gone);
  }

  /**
   * Moves a transfer from whichever of `from` it is really in to `to`, one conditional write per attempt
   * naming that one status, so the counters are moved from the status actually left.
   */
  private async move(
    t: TransferRecord,
    from: readonly TransferStatus[],
    to: TransferStatus,
    patch: Partial<TransferRecord>,
  ): Promise<{ moved: TransferRecord; left: TransferStatus } | undefined> {
    let current: TransferRecord | undefined = t;
    for (let attempt = 0; attempt < 5 && current && from.includes(current.status); attempt++) {
      const left = current.status;
      const moved = await this.repo.transition(t.id, [left], to, patch, this.clock.now().toISOString());
      if (moved) return { moved, left };
      current = await this.repo.getTransfer(t.id);
    }
    return undefined;
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
    await this.flushStats();
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

  /** A single-PUT file of a batch has no parts: it is completed by POST /batch/{id}/complete. */
  private assertMultipart(t: TransferRecord): void {
    if (t.uploadId !== undefined) return;
    if (t.status === "complete") return;
    throw new AppError(
      "INVALID_STATE",
      `Transfer ${t.id} is one single PUT, not a multipart upload: complete it through its batch.`,
      { status: t.status, upload: t.upload ?? "single" },
    );
  }

  private assertUploading(t: TransferRecord, action: string): void {
    if (t.status === "uploading") return;
    throw new AppError("INVALID_STATE", `Transfer ${t.id} is ${t.status}; cannot ${action}.`, {
      status: t.status,
    });
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
    await this.markGone(t, "assembling");
    throw new AppError("UPLOAD_GONE", `Storage no longer has the upload of ${t.id}; start a new transfer.`);
  }

  /** The upload vanished from storage (lifecycle rule, operator, another tool): the transfer cannot finish. */
  private async markGone(t: TransferRecord, from: TransferStatus): Promise<void> {
    const now = this.clock.now().toISOString();
    const moved = await this.repo.transition(
      t.id,
      [from],
      "failed",
      { lastError: "upload gone from storage" },
      now,
    );
    if (!moved) return;
    await this.addStats({ status: { [from]: -1, failed: 1 } }, { failed: 1 });
    await this.note(t, "upload-gone", "Storage no longer has the upload; the transfer failed.", {
      code: "UPLOAD_GONE",
    });
    await this.ended(moved, "failed");
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
    // Coalesced in process with the move to assembling just before: usually one shard write, or none.
    await this.addStats(
      {
        status: { assembling: -1, complete: 1 },
        bytesStored: t.size,
        uploadedBytes: t.size,
        uploadMillis: Math.max(1, nowDate.getTime() - Date.parse(t.createdAt)),
      },
      { completed: 1 },
    );
    await this.note(t, "assembled", `Assembled and complete; composite checksum ${compositeChecksum}.`);
    await this.ended(done, "complete");
    return toSummary(done);
  }
}
