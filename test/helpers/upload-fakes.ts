/**
 * In-memory stand-ins for the browser uploader's ports (web/src/upload/types.ts), for unit tests of the
 * engine in Node without a server, storage or a browser:
 *
 * - FakeStorage (StoragePut) keeps bodies by object key (a transfer's part, or a single PUT's object),
 *   refuses a body whose SHA-256 (or MD5, in md5 mode) is not the one signed into the URL's headers
 *   with BadDigest, an expired URL with URL_EXPIRED, both classified by the CLI's classify.ts as the
 *   real adapter does; faults on demand: network failures (NetworkError naming the storage origin),
 *   URLs refused as expired, a byte flipped on the way, a delay per PUT, a hook before each PUT.
 * - FakeCoordinator (Coordinator) keeps batches (found again by digest), transfers (found by path in
 *   their batch and by content), part records (checked against storage before they are written), and
 *   answers as the coordinator does: done for content stored already, put for small files, multipart
 *   with missing ranges, recorded parts and unrecorded parts (storage holds them, nobody recorded them:
 *   the server's own unrecordedParts), resumed when an unfinished upload of the content exists; presign
 *   refuses a part overlapping a recorded neighbour (the server's checkNeighbours); assemble
 *   checks coverage (checkAssembly) and the whole file's SHA-256 over the assembled bytes.
 * - nodeHasher / nodeDigests over node:crypto, MemoryResume (ResumeStore), and a Blob picked file.
 */
import { createHash } from "node:crypto";
import { classifyHttp, classifyNetwork, toCliError } from "../../cli/engine/classify.js";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import type {
  BatchFileAnswer,
  BatchFileEntry,
  CompletedFile,
  CreateBatchRequest,
  CreateBatchResponse,
} from "../../functions/contract/batches.js";
import { MAX_PARTS, MAX_PRESIGN_BATCH, MAX_SINGLE_PUT_SIZE } from "../../functions/contract/limits.js";
import { partSizeFor } from "../../functions/contract/part-rules.js";
import type {
  FileSummary,
  InitResponse,
  Limits,
  MissingResponse,
  PartRecordSpec,
  PartSpec,
  PresignResponse,
  Priority,
} from "../../functions/contract/schemas.js";
import type { StorageInfo, StorageRules } from "../../functions/contract/storage.js";
import {
  checkAssembly,
  checkNeighbours,
  missingRanges,
  unrecordedParts,
} from "../../functions/core/part-math.js";
import type {
  ContentHasher,
  Coordinator,
  PartDigests,
  PickedFile,
  ResumeStore,
  StoragePut,
  StoragePutRequest,
  UnfinishedUpload,
} from "../../web/src/upload/types.js";

export const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
export const md5Base64 = (b: Uint8Array) => createHash("md5").update(b).digest("base64");
const sha256Base64 = (b: Uint8Array) => createHash("sha256").update(b).digest("base64");
const md5Hex = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

export const STORAGE_ORIGIN = "https://storage.test";

let seq = 0;
const newId = (prefix: string) => `${prefix}_${String(++seq).padStart(26, "0")}`;

/** Bytes of a given size, different for each seed (a cheap generator, not random). */
export function bytesOf(size: number, seed = 1): Uint8Array {
  const b = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export function picked(path: string, bytes: Uint8Array, lastModified = 1): PickedFile {
  const file = new Blob([bytes]);
  return { path, file, size: bytes.byteLength, lastModified };
}

// ---- storage

interface Stored {
  body: Uint8Array;
  etag: string;
}

export interface PutLog {
  key: string;
  /** What life the URL had left when the PUT reached storage. */
  lifeMs: number;
  bytes: number;
  ok: boolean;
  code?: string;
}

export class FakeStorage implements StoragePut {
  /** Object key (transfer/part or transfer/object) → what storage holds. */
  readonly objects = new Map<string, Stored>();
  readonly log: PutLog[] = [];
  /** Bytes of bodies storage accepted (what the link carried that counted). */
  bytesStored = 0;
  /** PUTs in flight now, by transfer id. */
  readonly inFlight = new Map<string, number>();
  /** Most PUTs in flight at once, all transfers. */
  peak = 0;
  private flying = 0;
  // Faults, each counted down by the PUTs it hits.
  failNetwork = 0;
  expireNext = 0;
  flipNext = 0;
  delayMs = 0;
  /** Called before each PUT (after the delay): a test may pause an engine here, or throw. */
  beforePut: ((req: StoragePutRequest, key: string) => void | Promise<void>) | undefined;

  /** The object key a presigned URL names. */
  static keyOf(url: string): string {
    const u = new URL(url);
    return u.pathname.slice(1);
  }

  heldBytes(transferId: string): number {
    let n = 0;
    for (const [k, v] of this.objects) if (k.startsWith(`${transferId}/`)) n += v.body.byteLength;
    return n;
  }

  async put(req: StoragePutRequest): Promise<{ etag: string }> {
    const key = FakeStorage.keyOf(req.url);
    const exp = Number(new URL(req.url).searchParams.get("exp"));
    const lifeMs = exp - Date.now();
    const transfer = key.split("/")[0] as string;
    this.flying++;
    this.peak = Math.max(this.peak, this.flying);
    this.inFlight.set(transfer, (this.inFlight.get(transfer) ?? 0) + 1);
    try {
      await wait(this.delayMs, req.signal);
      req.onProgress?.(Math.floor(req.body.byteLength / 2));
      await wait(this.delayMs, req.signal);
      await this.beforePut?.(req, key);
      if (req.signal?.aborted) throw req.signal.reason;
      if (this.failNetwork > 0) {
        this.failNetwork--;
        this.log.push({ key, lifeMs, bytes: 0, ok: false, code: "ECONNRESET" });
        throw toCliError(
          classifyNetwork({
            service: "storage",
            error: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
            url: req.url,
            what: "the part",
          }),
        );
      }
      if (this.expireNext > 0 || exp < Date.now()) {
        if (this.expireNext > 0) this.expireNext--;
        this.log.push({ key, lifeMs, bytes: 0, ok: false, code: "URL_EXPIRED" });
        throw toCliError(
          classifyHttp({
            service: "storage",
            status: 403,
            code: "AccessDenied",
            message: "Request has expired",
            what: "the part",
          }),
        );
      }
      const body = new Uint8Array(req.body);
      if (this.flipNext > 0 && body.byteLength > 0) {
        this.flipNext--;
        body[0] = (body[0] as number) ^ 0xff; // damaged on the way
      }
      const wantSha = req.headers["x-amz-checksum-sha256"];
      const wantMd5 = req.headers["content-md5"];
      if ((wantSha && wantSha !== sha256Base64(body)) || (wantMd5 && wantMd5 !== md5Base64(body))) {
        this.log.push({ key, lifeMs, bytes: 0, ok: false, code: "BadDigest" });
        throw toCliError(
          classifyHttp({
            service: "storage",
            status: 400,
            code: "BadDigest",
            message: "The digest you specified did not match what we received.",
            what: "the part",
          }),
        );
      }
      req.onProgress?.(body.byteLength);
      const etag = md5Hex(body);
      this.objects.set(key, { body, etag });
      this.bytesStored += body.byteLength;
      this.log.push({ key, lifeMs, bytes: body.byteLength, ok: true });
      return { etag };
    } finally {
      this.flying--;
      this.inFlight.set(transfer, (this.inFlight.get(transfer) ?? 1) - 1);
    }
  }
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// ---- coordinator

interface FakeTransfer {
  id: string;
  batchId: string;
  path: string;
  size: number;
  sha256: string;
  priority: Priority;
  upload: "single" | "multipart";
  md5?: string | undefined;
  status: "uploading" | "complete" | "aborted" | "failed";
  partSize: number;
  /** Under the uniform rule, the upload's one part size. */
  uniform: number | undefined;
  records: Map<number, PartRecordSpec>;
  failReason?: string;
  createdAt: string;
}

interface FakeBatch {
  id: string;
  digest: string;
  name: string;
  status: "open" | "complete" | "aborted";
  priority: Priority;
  fileCount: number;
  totalBytes: number;
  files: Map<string, string>;
  createdAt: string;
}

export interface CoordinatorOptions {
  partCheck?: "sha256" | "md5";
  uniformParts?: boolean;
  /** The store's part limits (small in tests, so files of a few hundred KiB have several parts). */
  minPartSize?: number;
  maxSinglePutSize?: number;
  serving?: boolean;
  urlLifetimeMs?: number;
}

export interface CallLog {
  method: string;
  args: unknown[];
}

export class FakeCoordinator implements Coordinator {
  readonly batches = new Map<string, FakeBatch>();
  readonly transfers = new Map<string, FakeTransfer>();
  readonly calls: CallLog[] = [];
  readonly rules: StorageRules;
  serving: boolean;
  urlLifetimeMs: number;
  /** The next presigned URLs live this long (then the default again). */
  shortLived = 0;
  readonly maxSinglePutSize: number;
  private urlSerial = 0;

  constructor(
    readonly storageFake: FakeStorage,
    opts: CoordinatorOptions = {},
  ) {
    this.rules = {
      profile: opts.partCheck === "md5" ? "minio" : "versitygw",
      partCheck: opts.partCheck ?? "sha256",
      uniformParts: opts.uniformParts ?? false,
      minPartSize: opts.minPartSize ?? 64 * 1024,
      maxPartSize: 5 * 1024 ** 3,
      maxParts: MAX_PARTS,
      maxObjectSize: 5 * 1024 ** 4,
    };
    this.serving = opts.serving ?? true;
    this.urlLifetimeMs = opts.urlLifetimeMs ?? 15 * 60_000;
    this.maxSinglePutSize = opts.maxSinglePutSize ?? MAX_SINGLE_PUT_SIZE;
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  private log(method: string, ...args: unknown[]) {
    this.calls.push({ method, args: structuredClone(args) });
  }

  private get limits(): Limits {
    return {
      minPartSize: this.rules.minPartSize,
      maxPartSize: this.rules.maxPartSize,
      maxParts: this.rules.maxParts,
      maxObjectSize: this.rules.maxObjectSize,
      maxPresignBatch: MAX_PRESIGN_BATCH,
      presignExpiresSeconds: this.urlLifetimeMs / 1000,
    };
  }

  async storage(): Promise<StorageInfo> {
    this.log("storage");
    return {
      rules: this.rules,
      label: "fake",
      probe: {
        state: this.serving ? "verified" : "unverified",
        partCheck: this.rules.partCheck,
        message: this.serving
          ? "Storage refused damaged bytes: transfers are served."
          : "Storage accepted damaged bytes, so transfers are refused until it is fixed.",
      },
      allowUnverified: false,
      serving: this.serving,
      endpoint: STORAGE_ORIGIN,
    };
  }

  async createBatch(req: CreateBatchRequest): Promise<CreateBatchResponse> {
    this.log("createBatch", req);
    let b = [...this.batches.values()].find((x) => x.digest === req.digest && x.status === "open");
    const resumed = b !== undefined;
    if (!b) {
      b = {
        id: newId("bt"),
        digest: req.digest,
        name: req.name,
        status: "open",
        priority: req.priority ?? "normal",
        fileCount: req.fileCount,
        totalBytes: req.totalBytes,
        files: new Map(),
        createdAt: new Date().toISOString(),
      };
      this.batches.set(b.id, b);
    }
    const files = req.files?.length ? req.files.map((e) => this.answer(b as FakeBatch, e)) : [];
    return {
      batchId: b.id,
      resumed,
      batch: this.batchSummary(b),
      limits: this.limits,
      maxSinglePutSize: this.maxSinglePutSize,
      files,
    };
  }

  async addFiles(batchId: string, files: BatchFileEntry[]): Promise<BatchFileAnswer[]> {
    this.log("addFiles", batchId, files);
    const b = this.openBatch(batchId);
    if (files.length > 500) throw new CliError("INVALID_REQUEST", "too many files", EXIT.REJECTED);
    return files.map((e) => this.answer(b, e));
  }

  private openBatch(id: string): FakeBatch {
    const b = this.batches.get(id);
    if (!b) throw new CliError("NOT_FOUND", `No batch ${id}.`, EXIT.NOT_FOUND);
    if (b.status !== "open")
      throw new CliError("INVALID_STATE", `Batch ${id} is ${b.status}.`, EXIT.REJECTED);
    return b;
  }

  private answer(b: FakeBatch, e: BatchFileEntry): BatchFileAnswer {
    if (!e.sha256) throw new CliError("INVALID_REQUEST", "the browser always sends sha256", EXIT.REJECTED);
    const single = (e.upload ?? (e.size <= this.maxSinglePutSize ? "single" : "multipart")) === "single";
    if (single && e.size > this.maxSinglePutSize)
      throw new CliError("INVALID_REQUEST", "too large for one PUT", EXIT.REJECTED);
    if (single && this.rules.partCheck === "md5" && !e.md5)
      throw new CliError("INVALID_REQUEST", `${e.path}: md5 is required on this storage`, EXIT.REJECTED);
    const sameContent = (t: FakeTransfer) => t.sha256 === e.sha256 && t.size === e.size;
    // The file's own transfer in this batch (by path), if its content is the same.
    const ownId = b.files.get(e.path);
    let t = ownId ? this.transfers.get(ownId) : undefined;
    if (t && (!sameContent(t) || t.status === "aborted" || t.status === "failed")) t = undefined;
    if (!t) {
      const stored = [...this.transfers.values()].find((x) => sameContent(x) && x.status === "complete");
      if (stored) {
        const dup = this.newTransfer(b, e, single);
        dup.status = "complete";
        return {
          action: "done",
          path: e.path,
          transferId: dup.id,
          deduplicated: true,
          file: this.summary(dup),
        };
      }
    }
    if (t?.status === "complete")
      return { action: "done", path: e.path, transferId: t.id, deduplicated: false, file: this.summary(t) };
    if (single) {
      t ??= this.newTransfer(b, e, true);
      t.md5 = e.md5;
      const held = this.storageFake.objects.get(`${t.id}/object`);
      const stored = held !== undefined && sha256Hex(held.body) === t.sha256;
      return {
        action: "put",
        path: e.path,
        transferId: t.id,
        stored,
        put: { method: "PUT", ...this.url(t.id, "object"), headers: this.headers(t.sha256, t.md5) },
      };
    }
    let resumed = t !== undefined;
    if (!t) {
      // Find-or-create by content: an unfinished upload of these bytes anywhere goes on.
      const open = [...this.transfers.values()].find(
        (x) => sameContent(x) && x.status === "uploading" && x.upload === "multipart",
      );
      if (open) {
        resumed = true;
        t = open;
        b.files.set(e.path, open.id);
      } else t = this.newTransfer(b, e, false);
    }
    return { action: "multipart", path: e.path, transferId: t.id, init: this.init(t, resumed) };
  }

  private newTransfer(b: FakeBatch, e: BatchFileEntry, single: boolean): FakeTransfer {
    const partSize = partSizeFor(e.size, e.partSizeHint, this.rules);
    const t: FakeTransfer = {
      id: newId("tr"),
      batchId: b.id,
      path: e.path,
      size: e.size,
      sha256: e.sha256 as string,
      priority: e.priority ?? b.priority,
      upload: single ? "single" : "multipart",
      status: "uploading",
      partSize,
      uniform: this.rules.uniformParts && !single ? partSize : undefined,
      records: new Map(),
      createdAt: new Date().toISOString(),
    };
    this.transfers.set(t.id, t);
    b.files.set(e.path, t.id);
    return t;
  }

  /** A presigned URL naming the object (transfer and part) and when it expires (storage checks it). */
  private url(transferId: string, part: string): { url: string; expiresAt: string } {
    let life = this.urlLifetimeMs;
    if (this.shortLived > 0) {
      this.shortLived--;
      life = 10_000;
    }
    const exp = Date.now() + life;
    return {
      url: `${STORAGE_ORIGIN}/${transferId}/${part}?s=${++this.urlSerial}&exp=${exp}`,
      expiresAt: new Date(exp).toISOString(),
    };
  }

  private headers(sha256: string, md5: string | undefined): Record<string, string> {
    if (this.rules.partCheck === "md5") return { "content-md5": md5 as string };
    return { "x-amz-checksum-sha256": Buffer.from(sha256, "hex").toString("base64") };
  }

  /** What storage holds of a multipart upload, by part number. */
  private storedParts(t: FakeTransfer) {
    const out: { partNumber: number; size: number; etag: string; sha256: string }[] = [];
    for (const [k, v] of this.storageFake.objects) {
      const [id, n] = k.split("/");
      if (id !== t.id || n === "object") continue;
      out.push({ partNumber: Number(n), size: v.body.byteLength, etag: v.etag, sha256: sha256Hex(v.body) });
    }
    return out;
  }

  private view(t: FakeTransfer) {
    // Records storage does not back any more are forgotten (the coordinator's storageView).
    for (const [n, r] of t.records) {
      const held = this.storageFake.objects.get(`${t.id}/${n}`);
      if (held?.etag !== r.etag) t.records.delete(n);
    }
    const recorded = [...t.records.values()].sort((a, b) => a.partNumber - b.partNumber);
    const missing = missingRanges(t.size, recorded, this.rules);
    let unrecorded = unrecordedParts(t.size, recorded, this.storedParts(t), this.rules);
    if (t.uniform !== undefined) {
      const u = t.uniform;
      unrecorded = unrecorded.filter(
        (p) => p.offset === (p.partNumber - 1) * u && p.size === Math.min(u, t.size - p.offset),
      );
    }
    return {
      missing,
      parts: recorded.map(({ partNumber, offset, size, sha256 }) => ({ partNumber, offset, size, sha256 })),
      unrecorded,
    };
  }

  private init(t: FakeTransfer, resumed: boolean): InitResponse {
    return {
      transferId: t.id,
      status: t.status,
      deduplicated: false,
      partSize: t.partSize,
      limits: this.limits,
      file: this.summary(t),
      resumed,
      ...this.view(t),
      presigned: [],
    };
  }

  private record(t: FakeTransfer, done: readonly PartRecordSpec[]): void {
    for (const r of done) {
      const held = this.storageFake.objects.get(`${t.id}/${r.partNumber}`);
      if (
        !held ||
        held.etag !== r.etag ||
        held.body.byteLength !== r.size ||
        sha256Hex(held.body) !== r.sha256
      )
        throw new CliError("PART_NOT_STORED", `Storage holds no such part ${r.partNumber}.`, EXIT.REJECTED);
      if (t.uniform !== undefined && r.offset !== (r.partNumber - 1) * t.uniform)
        throw new CliError(
          "INVALID_PART",
          `Part ${r.partNumber} is not where the uniform rule puts it.`,
          EXIT.REJECTED,
        );
      t.records.set(r.partNumber, { ...r });
    }
  }

  async presign(transferId: string, parts: PartSpec[], done: PartRecordSpec[]): Promise<PresignResponse> {
    this.log("presign", transferId, parts, done);
    const t = this.uploading(transferId);
    if (parts.length + done.length === 0)
      throw new CliError("INVALID_REQUEST", "ask for at least one part or record one", EXIT.REJECTED);
    this.record(t, done);
    for (const p of parts) {
      if (!/^[0-9a-f]{64}$/.test(p.sha256))
        throw new CliError("INVALID_REQUEST", "bad sha256", EXIT.REJECTED);
      if (this.rules.partCheck === "md5" && !p.md5)
        throw new CliError("INVALID_REQUEST", `part ${p.partNumber}: md5 is required`, EXIT.REJECTED);
      if (done.some((d) => d.partNumber === p.partNumber))
        throw new CliError(
          "INVALID_PART",
          `Part ${p.partNumber} is both recorded and asked for.`,
          EXIT.REJECTED,
        );
      if (t.uniform !== undefined && p.offset !== (p.partNumber - 1) * t.uniform)
        throw new CliError(
          "INVALID_PART",
          `Part ${p.partNumber} is not where the uniform rule puts it.`,
          EXIT.REJECTED,
        );
      // As the coordinator's presign: a part may not overlap a recorded one numbered around it.
      try {
        checkNeighbours(
          p,
          [...t.records.values()].filter((r) => r.partNumber !== p.partNumber),
          this.rules,
        );
      } catch (err) {
        throw new CliError("INVALID_PART", (err as Error).message, EXIT.REJECTED);
      }
    }
    return {
      parts: parts.map((p) => ({
        partNumber: p.partNumber,
        method: "PUT" as const,
        ...this.url(t.id, String(p.partNumber)),
        headers: this.headers(p.sha256, p.md5),
      })),
      partsDone: t.records.size,
      bytesDone: this.bytesDone(t),
    };
  }

  async missing(transferId: string): Promise<MissingResponse> {
    this.log("missing", transferId);
    const t = this.uploading(transferId);
    return {
      transferId,
      status: t.status,
      size: t.size,
      bytesDone: this.bytesDone(t),
      partsDone: t.records.size,
      ...this.view(t),
    };
  }

  async assemble(transferId: string, parts: PartRecordSpec[]): Promise<FileSummary> {
    this.log("assemble", transferId, parts);
    const t = this.uploading(transferId);
    this.record(t, parts);
    const recorded = [...t.records.values()].sort((a, b) => a.partNumber - b.partNumber);
    const check = checkAssembly(t.size, recorded, this.rules);
    if (check.missing.length || check.overlapping.length || check.undersized.length)
      throw new CliError("PARTS_MISSING", `Transfer ${t.id} cannot be assembled yet.`, EXIT.REJECTED);
    const whole = new Uint8Array(t.size);
    for (const r of recorded) {
      const held = this.storageFake.objects.get(`${t.id}/${r.partNumber}`);
      if (!held || held.etag !== r.etag)
        throw new CliError("PARTS_MISSING", `Part ${r.partNumber} is gone from storage.`, EXIT.REJECTED);
      whole.set(held.body, r.offset);
    }
    if (sha256Hex(whole) !== t.sha256)
      throw new CliError("INTEGRITY", `The assembled bytes are not SHA-256 ${t.sha256}.`, EXIT.INTEGRITY);
    this.storageFake.objects.set(`${t.id}/object`, { body: whole, etag: md5Hex(whole) });
    for (const k of [...this.storageFake.objects.keys()])
      if (k.startsWith(`${t.id}/`) && !k.endsWith("/object")) this.storageFake.objects.delete(k);
    t.status = "complete";
    return this.summary(t);
  }

  async completeFiles(batchId: string, transferIds: string[]): Promise<CompletedFile[]> {
    this.log("completeFiles", batchId, transferIds);
    this.openBatch(batchId);
    return transferIds.map((id) => {
      const t = this.transfers.get(id);
      if (!t) return { transferId: id, status: "failed", error: { code: "NOT_FOUND", message: `No ${id}` } };
      const held = this.storageFake.objects.get(`${id}/object`);
      if (t.status === "uploading" && held && sha256Hex(held.body) === t.sha256) t.status = "complete";
      if (t.status === "complete") return { transferId: id, status: "complete" };
      return {
        transferId: id,
        status: t.status,
        error: { code: "PART_NOT_STORED", message: "Storage holds no such object; PUT it again." },
      };
    });
  }

  async cancelBatch(batchId: string): Promise<void> {
    this.log("cancelBatch", batchId);
    const b = this.batches.get(batchId);
    if (!b || b.status === "aborted") throw new CliError("NOT_FOUND", `No batch ${batchId}.`, EXIT.NOT_FOUND);
    b.status = "aborted";
    for (const id of b.files.values()) {
      const t = this.transfers.get(id);
      if (!t || t.status === "complete") continue;
      t.status = "aborted";
      for (const k of [...this.storageFake.objects.keys()])
        if (k.startsWith(`${id}/`)) this.storageFake.objects.delete(k);
    }
  }

  async fail(transferId: string, reason: string): Promise<void> {
    this.log("fail", transferId, reason);
    const t = this.transfers.get(transferId);
    if (t && t.status === "uploading") {
      t.status = "failed";
      t.failReason = reason;
    }
  }

  private uploading(id: string): FakeTransfer {
    const t = this.transfers.get(id);
    if (!t) throw new CliError("NOT_FOUND", `No transfer ${id}.`, EXIT.NOT_FOUND);
    if (t.status !== "uploading")
      throw new CliError("INVALID_STATE", `Transfer ${id} is ${t.status}.`, EXIT.REJECTED);
    return t;
  }

  private bytesDone(t: FakeTransfer): number {
    if (t.status === "complete") return t.size;
    let n = 0;
    for (const r of t.records.values()) n += r.size;
    return n;
  }

  /** The bytes storage holds as the file at `path` (complete), found through any batch. */
  storedFile(transferId: string): Uint8Array | undefined {
    const t = this.transfers.get(transferId);
    if (t?.status !== "complete") return undefined;
    // A deduplicated transfer points at the stored copy of the same content.
    const owner = [...this.transfers.values()].find(
      (x) => x.sha256 === t.sha256 && x.size === t.size && this.storageFake.objects.has(`${x.id}/object`),
    );
    return owner ? this.storageFake.objects.get(`${owner.id}/object`)?.body : undefined;
  }

  private summary(t: FakeTransfer): FileSummary {
    return {
      id: t.id,
      name: t.path.split("/").pop() as string,
      size: t.size,
      sha256: t.sha256,
      priority: t.priority,
      status: t.status,
      partsDone: t.records.size,
      bytesDone: this.bytesDone(t),
      createdAt: t.createdAt,
      updatedAt: new Date().toISOString(),
      batchId: t.batchId,
      path: t.path,
      upload: t.upload,
    };
  }

  private batchSummary(b: FakeBatch) {
    const now = new Date().toISOString();
    return {
      id: b.id,
      name: b.name,
      status: b.status,
      digest: b.digest,
      priority: b.priority,
      fileCount: b.fileCount,
      totalBytes: b.totalBytes,
      filesComplete: 0,
      bytesComplete: 0,
      filesFailed: 0,
      createdAt: b.createdAt,
      updatedAt: now,
    };
  }
}

// ---- hashing and remembering

export const nodeDigests: PartDigests = {
  sha256: async (b) => sha256Hex(b),
  md5: async (b) => md5Base64(b),
};

/** The whole-file SHA-256 by slices of `chunk` bytes (bounded memory, as the worker does). */
export function nodeHasher(chunk = 64 * 1024): ContentHasher & { calls: number } {
  const h = {
    calls: 0,
    async sha256(file: Blob, onProgress?: (n: number) => void, signal?: AbortSignal): Promise<string> {
      h.calls++;
      const hash = createHash("sha256");
      for (let offset = 0; offset < file.size; offset += chunk) {
        if (signal?.aborted) throw signal.reason;
        const part = new Uint8Array(await file.slice(offset, offset + chunk).arrayBuffer());
        hash.update(part);
        onProgress?.(Math.min(file.size, offset + chunk));
      }
      return hash.digest("hex");
    },
  };
  return h;
}

export class MemoryResume implements ResumeStore {
  readonly items = new Map<string, UnfinishedUpload>();
  async list(): Promise<UnfinishedUpload[]> {
    return [...this.items.values()].map((u) => structuredClone(u));
  }
  async put(u: UnfinishedUpload): Promise<void> {
    this.items.set(u.digest, structuredClone(u));
  }
  async remove(digest: string): Promise<void> {
    this.items.delete(digest);
  }
}
