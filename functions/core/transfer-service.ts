/**
 * The coordinator's transfer logic: a state machine over presigned S3 multipart uploads.
 * uploading → assembling → complete, or → aborted / failed. Bytes never pass through here.
 * This class is the facade the routes call; its parts live beside it:
 *   upload-init.ts       find-or-create init (dedupe, resume by content or resumeId, first parts presigned)
 *   upload-content.ts    naming the SHA-256 of an upload started before it was known (dedupe, switch, go on)
 *   part-recorder.ts     recording parts storage holds (one per call, or in bulk: ≤ 2 item writes a part)
 *   transfer-endings.ts  complete, failed, aborted: conditional transitions, counters, the ended hook
 *   transfer-context.ts  what they share: ports, summaries, presigning, the storage view, transitions
 *   stats-buffer.ts      the advisory counters, coalesced in process and written to sharded items
 *   part-math.ts         where parts may sit, what is missing, which stored parts nobody recorded
 */
import { MAX_PRESIGN_BATCH } from "../contract/limits.js";
import type { TransferEvent } from "../contract/monitor.js";
import type {
  ContentResponse,
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
  RecordPartsResponse,
  StatsResponse,
  TransferStatus,
  UnrecordedPart,
} from "../contract/schemas.js";
import type { StorageSummary } from "../contract/storage.js";
import { type ActivityLog, minuteOf, type SeriesDelta } from "./activity.js";
import { compositeSha256, hexToBase64 } from "./checksums.js";
import { AppError } from "./errors.js";
import { hashToken } from "./ids.js";
import { assemblyReady, checkAssembly, checkNeighbours, describeGaps, sizeLabel } from "./part-math.js";
import { type PartClaim, PartRecorder, partsNotHeld } from "./part-recorder.js";
import type {
  ApiKeyRecord,
  ClientMetrics,
  Clock,
  ListTransfersQuery,
  ObjectStore,
  PartRecord,
  StatsDelta,
  StorageCheck,
  StoredPart,
  TransferRecord,
  TransferRepo,
} from "./ports.js";
import { CONTENT_PENDING } from "./ports.js";
import { StatsBuffer } from "./stats-buffer.js";
import { ungatedSummary } from "./storage-gate.js";
import { STORAGE_PROFILES, type StorageProfile } from "./storage-profiles.js";
import { checkUniform, requireMd5 } from "./storage-rules.js";
import {
  assertMultipart,
  assertUploading,
  type EndedStatus,
  missingOf,
  mustGet,
  recordedInfo,
  type ServiceConfig,
  sign,
  storageView,
  type TransferContext,
  toSummary,
} from "./transfer-context.js";
import { abortTransfer, failTransfer, finishIfAlreadyStored, markComplete } from "./transfer-endings.js";
import { initNamed, nameContent } from "./upload-content.js";
import type { InitInput } from "./upload-init.js";

export type { EndedStatus, InitInput, ServiceConfig };
export { toSummary };

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
  /**
   * What health and /api/stats say of storage (the storage gate's summary, waiting up to waitMs for a
   * probe that is running); absent, they report the profile with no probe run (storage-gate.ts).
   */
  storageStatus?: (waitMs: number) => Promise<StorageSummary>;
  /** The store's rules (SFTS_STORAGE_PROFILE); Amazon S3's if absent. */
  storage?: StorageProfile;
  /**
   * What storage checks the bytes of a transfer created now against, recorded on it: the profile's
   * partCheck unless given ("none" while serving storage the probe found not verifying).
   */
  storageCheck?: () => StorageCheck;
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

/** Presign batches up to this size look up each part's recorded neighbours instead of listing every part. */
const NEIGHBOUR_LOOKUP_MAX = 4;

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
  private readonly ctx: TransferContext;
  private readonly profile: StorageProfile;
  private readonly storageStatus: (waitMs: number) => Promise<StorageSummary>;

  constructor(deps: ServiceDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
    this.config = deps.config;
    this.clock = deps.clock ?? { now: () => new Date() };
    this.warn = deps.warn ?? (() => {});
    this.activity = deps.activity;
    this.onTransferEnded = deps.onTransferEnded;
    const profile = deps.storage ?? STORAGE_PROFILES.aws;
    this.profile = profile;
    this.storageStatus = deps.storageStatus ?? (async () => ungatedSummary(profile));
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
      limits: profile.limits,
    });
    this.ctx = {
      repo: this.repo,
      store: this.store,
      config: this.config,
      clock: this.clock,
      warn: this.warn,
      recorder: this.recorder,
      profile,
      storageCheck: deps.storageCheck ?? (() => profile.partCheck),
      limits: () => this.limits(),
      addStats: (d, series) => this.addStats(d, series),
      note: (t, kind, message, extra) => this.note(t, kind, message, extra),
      ended: (t, status) => this.ended(t, status),
    };
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
      ...this.profile.limits,
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

  init(input: InitInput): Promise<InitResponse> {
    return initNamed(this.ctx, input);
  }

  /** POST /upload/{id}/content: the SHA-256 of an upload started before it was known (upload-content.ts). */
  async nameContent(id: string, sha256: string): Promise<ContentResponse> {
    const named = await nameContent(this.ctx, id, sha256);
    if (named.action === "switch")
      return { action: "switch", transferId: named.init.transferId, init: named.init };
    if (named.action === "done")
      return {
        action: "done",
        transferId: named.t.id,
        deduplicated: named.deduplicated,
        file: toSummary(named.t),
      };
    return { action: "continue", transferId: named.t.id, file: toSummary(named.t) };
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
    let t = await mustGet(this.ctx, id);
    assertMultipart(t);
    if (done.length === 0 || parts.length > 0) assertUploading(t, "presign parts");
    requireMd5(this.profile, parts);
    this.recorder.validate(t.size, parts);
    this.recorder.validate(t.size, done);
    checkUniform(t, [...parts, ...done]);
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
        this.profile.limits,
      );
      checkNeighbours(
        p,
        [...(recorded[i] ?? all), ...done].filter((r) => r.partNumber !== p.partNumber),
        this.profile.limits,
      );
      if (doneNumbers.has(p.partNumber))
        throw new AppError("INVALID_PART", `Part ${p.partNumber} is both recorded and asked for.`);
    });
    let counters: Pick<PresignResponse, "recorded" | "partsDone" | "bytesDone"> = {};
    if (done.length) {
      const r = await this.recorder.recordMany(t, done, client);
      counters = r;
      if (parts.length) {
        t = await mustGet(this.ctx, id);
        assertUploading(t, "presign parts");
      }
    }
    return { parts: await sign(this.ctx, t, parts), ...counters };
  }

  async partDone(id: string, partNumber: number, input: PartDoneInput): Promise<PartDoneResponse> {
    const t = await mustGet(this.ctx, id);
    assertMultipart(t);
    const { client, ...claim } = input;
    return this.recorder.recordOne(t, { partNumber, ...claim }, client);
  }

  /** POST /upload/{id}/parts/done: records parts in bulk. */
  async recordParts(id: string, input: RecordInput): Promise<RecordPartsResponse> {
    const t = await mustGet(this.ctx, id);
    assertMultipart(t);
    return this.recorder.recordMany(t, input.parts ?? [], input.client);
  }

  async missing(id: string): Promise<MissingResponse> {
    const t = await mustGet(this.ctx, id);
    if (t.status === "aborted" || t.status === "failed")
      throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}; start a new transfer.`);
    assertMultipart(t);
    let parts: PartRecord[];
    let unrecorded: UnrecordedPart[] = [];
    let fresh = t;
    if (t.status === "uploading") {
      const view = await storageView(this.ctx, t);
      if (!view)
        throw new AppError(
          "UPLOAD_GONE",
          `Storage no longer has the upload of ${t.id}; start a new transfer.`,
        );
      parts = view.parts;
      unrecorded = view.unrecorded;
      fresh = view.changed ? await mustGet(this.ctx, id) : t;
    } else parts = await this.repo.listParts(id);
    const gaps = fresh.status === "complete" ? [] : missingOf(this.ctx, t, parts);
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
    let t = await mustGet(this.ctx, id);
    if (t.status === "complete") return toSummary(t);
    if (t.status === "aborted" || t.status === "failed")
      throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}; it cannot be assembled.`);
    assertMultipart(t);
    if (t.sha256 === CONTENT_PENDING)
      // Receivers check the whole file against it: no object is completed without it.
      throw new AppError(
        "CONTENT_PENDING",
        `Transfer ${id} has no SHA-256 yet: name it (POST /upload/${id}/content) before assembling.`,
      );
    if (input.parts?.length || input.client) {
      if (t.status === "uploading") {
        if (input.parts?.length) await this.recorder.recordMany(t, input.parts, input.client);
      } else this.recorder.validate(t.size, input.parts ?? []);
      t = await mustGet(this.ctx, id);
      if (t.status === "complete") return toSummary(t);
    }
    const parts = (await this.repo.listParts(id)).sort((a, b) => a.partNumber - b.partNumber);
    const check = checkAssembly(t.size, parts, this.profile.limits);
    if (t.partSize !== undefined) check.missing = missingOf(this.ctx, t, parts);
    if (!assemblyReady(check)) {
      const problems: string[] = [];
      if (check.missing.length) problems.push(`missing ${describeGaps(check.missing)}`);
      if (check.overlapping.length) problems.push(`overlapping parts ${check.overlapping.join(", ")}`);
      if (check.undersized.length)
        problems.push(
          `parts under ${sizeLabel(this.profile.limits.minPartSize)} before the last: ${check.undersized.join(", ")}`,
        );
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
        t = await mustGet(this.ctx, id);
        if (t.status === "complete") return toSummary(t);
        if (t.status !== "assembling") throw new AppError("INVALID_STATE", `Transfer ${id} is ${t.status}.`);
      }
    }
    const uploadId = t.uploadId as string;
    let stored: StoredPart[];
    try {
      stored = await this.store.listParts(t.objectKey, uploadId);
    } catch (err) {
      return finishIfAlreadyStored(this.ctx, t, parts, err);
    }
    const bad = partsNotHeld(stored, parts);
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
      return finishIfAlreadyStored(this.ctx, t, parts, err);
    }
    if (result.checksumSha256 !== undefined && result.checksumSha256 !== expected)
      this.warn("storage composite checksum differs from the parts' digests", {
        transferId: id,
        storage: result.checksumSha256,
        expected,
      });
    return markComplete(this.ctx, t, expected);
  }

  abort(id: string): Promise<{ transferId: string; status: TransferStatus }> {
    return abortTransfer(this.ctx, id);
  }

  /**
   * The sender gave up: the transfer is failed with its reason (not resumed by later inits: failed is
   * final), or with `abort` also released in storage and aborted.
   */
  fail(
    id: string,
    input: { reason: string; abort?: boolean | undefined },
  ): Promise<{ transferId: string; status: TransferStatus }> {
    return failTransfer(this.ctx, id, input);
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
    const t = await mustGet(this.ctx, id);
    const parts = (await this.repo.listParts(id)).sort((a, b) => a.partNumber - b.partNumber);
    return { ...toSummary(t), parts };
  }

  async download(id: string): Promise<DownloadResponse> {
    const t = await mustGet(this.ctx, id);
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
    const [c, storage] = await Promise.all([this.repo.getStats(), this.storageStatus(3000)]);
    const total = Object.values(c.byStatus).reduce((a, b) => a + b, 0);
    const ended = c.byStatus.complete + c.byStatus.failed + c.byStatus.aborted;
    return {
      transfers: { total, byStatus: c.byStatus, byPriority: c.byPriority },
      bytes: { stored: c.bytesStored, received: c.bytesReceived, deduplicated: c.bytesDeduplicated },
      dedupeHits: c.dedupeHits,
      successRate: ended === 0 ? null : c.byStatus.complete / ended,
      meanSpeedBps: c.uploadMillis > 0 ? (c.uploadedBytes * 1000) / c.uploadMillis : null,
      storage,
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
    const [s3, dynamodb, storage] = await Promise.all([
      probe(() => this.store.ping()),
      probe(() => this.repo.ping()),
      this.storageStatus(timeoutMs),
    ]);
    // Not serving transfers (the storage probe's verdict, in storage.message) is degraded too.
    return {
      status: s3.ok && dynamodb.ok && storage.serving ? "ok" : "degraded",
      version: this.config.version,
      time: this.clock.now().toISOString(),
      checks: { s3, dynamodb },
      storage,
    };
  }

  // ---- helpers
}
