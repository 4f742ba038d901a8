/**
 * In-memory stand-ins for the send engine's two ports, for unit tests without a server or a disk:
 * FakeServer is a Transport that keeps batches, transfers, parts and stored objects the way the
 * coordinator and storage would (find by digest, find-or-create by content, dedupe, resumes with missing
 * ranges and unrecorded parts, uploads whose content is named later), counts every call, and lets a test
 * hold any call at a gate. FakeFiles is a LocalFiles over a map of buffers that a test may change between
 * phases, whose whole-file hash a test may hold back ("whole" gate) after the first parts' digests.
 * `rules` makes the FakeServer a coordinator on such storage (GET /api/storage): md5 mode refuses part
 * specs and entries without md5 and storage checks each body's Content-MD5; the uniform rule fixes each
 * upload's part size from its hint and refuses parts that are not where it puts them.
 */
import { createHash } from "node:crypto";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import type { ContentHash, FileStat, LocalFiles, OpenFile } from "../../cli/engine/send/local-files.js";
import type { Manifest, ManifestFile } from "../../cli/engine/send/manifest.js";
import { manifestDigest } from "../../cli/engine/send/manifest.js";
import type { PutRequest, Transport } from "../../cli/engine/send/transport.js";
import type {
  BatchFileAnswer,
  BatchFileEntry,
  CompletedFile,
  CreateBatchRequest,
  CreateBatchResponse,
  ListBatchFilesResponse,
} from "../../functions/contract/batches.js";
import { MAX_PARTS, MAX_SINGLE_PUT_SIZE } from "../../functions/contract/limits.js";
import { partSizeFor } from "../../functions/contract/part-rules.js";
import type {
  ContentResponse,
  FileSummary,
  InitResponse,
  MissingRange,
  MissingResponse,
  PartRecordSpec,
  PartSpec,
  PresignResponse,
  RecordPartsResponse,
} from "../../functions/contract/schemas.js";
import type { StorageInfo, StorageRules } from "../../functions/contract/storage.js";

export const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
export const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("base64");

let seq = 0;
const id = (prefix: string) => `${prefix}_${String(++seq).padStart(26, "0")}`;

interface FakePart {
  partNumber: number;
  offset: number;
  size: number;
  sha256: string;
  etag: string;
}

export interface FakeTransfer {
  id: string;
  batchId: string;
  path: string;
  size: number;
  sha256: string;
  upload: "single" | "multipart";
  status: "uploading" | "complete" | "failed" | "aborted";
  failReason?: string;
  /** Parts storage holds (multipart). */
  stored: Map<number, FakePart & { body: Buffer }>;
  /** Parts the coordinator recorded. */
  recorded: Map<number, FakePart>;
  /** The object storage holds (single PUT, or assembled). */
  object?: Buffer;
  /** The uniform rule: the upload's part size, fixed at its creation. */
  partSize?: number;
}

type Method = keyof Transport;

/** A gate holds calls of one method until opened; `reached` resolves when the first call arrives. */
export class Gate {
  private openNow = false;
  private waiters: (() => void)[] = [];
  private reachedResolve: () => void = () => {};
  readonly reached = new Promise<void>((r) => {
    this.reachedResolve = r;
  });
  async pass(): Promise<void> {
    this.reachedResolve();
    if (this.openNow) return;
    await new Promise<void>((r) => this.waiters.push(r));
  }
  open(): void {
    this.openNow = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

export class FakeServer implements Transport {
  readonly batches = new Map<string, { id: string; digest: string; req: CreateBatchRequest }>();
  readonly transfers = new Map<string, FakeTransfer>();
  readonly calls: Record<string, number> = {};
  readonly gates = new Map<Method, Gate>();
  /** Bytes PUT to storage (single files and parts), repeats included. */
  bytesPut = 0;
  /** PUTs in flight now and at most, by kind. */
  puts = { single: 0, part: 0, maxSingle: 0, maxPart: 0 };
  /** Entries as they arrived, by path. */
  readonly entries: { path: string; at: number }[] = [];
  readonly fails: { transferId: string; reason: string }[] = [];
  /** Fails the next PUTs with these errors, in order. */
  readonly putFaults: CliError[] = [];
  /** Part records are lost on their way (as if the sender crashed between PUT and record). */
  dropRecords = false;
  /** Storage loses the next N single-PUT objects (complete answers PART_NOT_STORED). */
  loseObjects = 0;
  /** PUT duration (ms) — gives parts and files time to overlap. */
  putDelayMs = 0;
  partSize = 8 * 1024 * 1024;
  /** The storage rules GET /api/storage answers (none: a coordinator older than the route). */
  rules: StorageRules | undefined;
  /** Its answer says transfers are not served (the probe found storage unverified). */
  notServing = false;
  /** Puts storage refused (BadDigest), by kind of check. */
  readonly refused = { sha256: 0, md5: 0 };
  /** Part specs presigned (init answers and presign calls), as they came. */
  readonly specs: PartSpec[] = [];
  private readonly urls = new Map<
    string,
    { transferId: string; partNumber?: number; offset?: number; sha256: string; md5?: string | undefined }
  >();

  async storage(): Promise<StorageInfo | undefined> {
    await this.enter("storage");
    if (!this.rules) return undefined;
    return {
      rules: this.rules,
      label: this.rules.profile,
      probe: {
        state: this.notServing ? "unverified" : "verified",
        partCheck: this.rules.partCheck,
        message: this.notServing ? "storage accepted a damaged part" : "storage refused a damaged part",
      },
      allowUnverified: false,
      serving: !this.notServing,
      endpoint: "fake://storage",
    };
  }

  private get md5Mode(): boolean {
    return this.rules?.partCheck === "md5";
  }

  /** What the coordinator checks of a part spec before presigning it (md5 given, uniform rule kept). */
  private checkSpec(t: FakeTransfer, p: PartSpec): void {
    this.specs.push(p);
    if (this.md5Mode && !p.md5)
      throw new CliError("INVALID_INPUT", `part ${p.partNumber} has no md5`, EXIT.REJECTED);
    const u = t.partSize;
    if (u !== undefined && (p.offset !== (p.partNumber - 1) * u || p.size !== Math.min(u, t.size - p.offset)))
      throw new CliError("INVALID_PART", `part ${p.partNumber} breaks the uniform rule`, EXIT.REJECTED);
  }

  gate(method: Method): Gate {
    const g = new Gate();
    this.gates.set(method, g);
    return g;
  }

  /** Round trip of a coordinator call (ms): what gathers the next call's items. */
  callDelayMs = 0;

  private async enter(method: Method): Promise<void> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    await Promise.resolve();
    if (this.callDelayMs && method !== "put") await new Promise((r) => setTimeout(r, this.callDelayMs));
    await this.gates.get(method)?.pass();
  }

  private summary(t: FakeTransfer): FileSummary {
    const at = new Date(0).toISOString();
    const bytesDone =
      t.status === "complete" ? t.size : [...t.recorded.values()].reduce((n, p) => n + p.size, 0);
    return {
      id: t.id,
      name: t.path.split("/").pop() ?? t.path,
      size: t.size,
      sha256: t.sha256,
      priority: "normal",
      status: t.status,
      partsDone: t.recorded.size,
      bytesDone,
      createdAt: at,
      updatedAt: at,
      batchId: t.batchId,
      path: t.path,
      upload: t.upload,
    };
  }

  private url(
    transferId: string,
    sha256: string,
    part?: { partNumber: number; offset: number },
    md5?: string,
  ) {
    const u = `fake://${id("url")}`;
    this.urls.set(u, {
      transferId,
      sha256,
      ...(part && { partNumber: part.partNumber, offset: part.offset }),
      ...(this.md5Mode && { md5 }),
    });
    return {
      url: u,
      headers: this.md5Mode
        ? { "content-md5": md5 ?? "" }
        : ({ "x-amz-checksum-sha256": sha256 } as Record<string, string>),
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
  }

  /** Byte ranges not recorded, as the coordinator reports them (unrecorded parts stay in them). */
  private missingOf(t: FakeTransfer): MissingRange[] {
    const parts = [...t.recorded.values()].sort((a, b) => a.partNumber - b.partNumber);
    const out: MissingRange[] = [];
    let offset = 0;
    let next = 1;
    for (const p of parts) {
      if (p.offset > offset)
        out.push({ offset, size: p.offset - offset, firstPart: next, lastPart: p.partNumber - 1 });
      offset = p.offset + p.size;
      next = p.partNumber + 1;
    }
    if (offset < t.size) out.push({ offset, size: t.size - offset, firstPart: next, lastPart: MAX_PARTS });
    return out;
  }

  private unrecorded(t: FakeTransfer) {
    return [...t.stored.values()]
      .filter((p) => !t.recorded.has(p.partNumber))
      .map(({ partNumber, offset, size, sha256, etag }) => ({ partNumber, offset, size, sha256, etag }));
  }

  private initOf(t: FakeTransfer, asked: PartSpec[] | undefined, resumed: boolean): InitResponse {
    const missing = this.missingOf(t);
    const inMissing = (p: PartSpec) =>
      !t.recorded.has(p.partNumber) &&
      missing.some((m) => p.offset >= m.offset && p.offset + p.size <= m.offset + m.size);
    const wanted = (asked ?? []).filter(inMissing);
    for (const p of wanted) this.checkSpec(t, p);
    return {
      transferId: t.id,
      status: t.status === "complete" ? "complete" : "uploading",
      deduplicated: false,
      partSize: t.partSize ?? this.partSize,
      limits: {
        minPartSize: 5 * 1024 * 1024,
        maxPartSize: 5 * 1024 ** 3,
        maxParts: MAX_PARTS,
        maxObjectSize: 5 * 1024 ** 4,
        maxPresignBatch: 500,
        presignExpiresSeconds: 900,
      },
      file: this.summary(t),
      resumed,
      missing,
      parts: [...t.recorded.values()].map(({ partNumber, offset, size, sha256 }) => ({
        partNumber,
        offset,
        size,
        sha256,
      })),
      unrecorded: this.unrecorded(t),
      presigned: wanted.map((p) => ({
        partNumber: p.partNumber,
        method: "PUT" as const,
        ...this.url(t.id, p.sha256, p, p.md5),
      })),
    };
  }

  /** Content pending (no sha256): the unfinished upload named by resumeId goes on, else a new one; no dedupe. */
  private answerPending(batchId: string, e: BatchFileEntry): BatchFileAnswer {
    let t = [...this.transfers.values()].find(
      (x) =>
        x.id === e.resumeId &&
        x.batchId === batchId &&
        x.path === e.path &&
        x.size === e.size &&
        x.upload === "multipart" &&
        (x.status === "uploading" || x.status === "failed"),
    );
    const resumed = t !== undefined;
    if (!t)
      // Without a resumeId, an upload of this path never named is superseded (batch-files.ts).
      for (const x of this.transfers.values())
        if (x.batchId === batchId && x.path === e.path && x.sha256 === "" && x.status !== "complete")
          x.status = "aborted";
    t ??= this.newTransfer(batchId, e.path, e.size, "", "multipart", "uploading", e.partSizeHint);
    t.status = "uploading";
    return { action: "multipart", path: e.path, transferId: t.id, init: this.initOf(t, e.parts, resumed) };
  }

  private answer(batchId: string, e: BatchFileEntry): BatchFileAnswer {
    this.entries.push({ path: e.path, at: performance.now() });
    if (e.sha256 === undefined) return this.answerPending(batchId, e);
    const sha256 = e.sha256.toLowerCase();
    const upload = e.upload ?? (e.size <= MAX_SINGLE_PUT_SIZE ? "single" : "multipart");
    if (this.md5Mode && upload === "single" && !e.md5)
      throw new CliError("INVALID_INPUT", `${e.path} has no md5`, EXIT.REJECTED);
    const pendingOwn = [...this.transfers.values()].find(
      (x) => x.batchId === batchId && x.path === e.path && x.sha256 === "" && x.status === "uploading",
    );
    if (pendingOwn) {
      // Its content named with the entry: as POST /upload/{id}/content would.
      const r = this.name(pendingOwn, sha256);
      if (r.action === "done")
        return {
          action: "done",
          path: e.path,
          transferId: r.transferId,
          deduplicated: r.deduplicated,
          file: r.file,
        };
      if (r.action === "switch")
        return { action: "multipart", path: e.path, transferId: r.transferId, init: r.init };
    }
    // Dedupe: a complete file with this content, anywhere.
    const same = [...this.transfers.values()].find(
      (t) => t.status === "complete" && t.sha256 === sha256 && t.size === e.size,
    );
    let t = [...this.transfers.values()].find((x) => x.batchId === batchId && x.path === e.path);
    if (t && (t.sha256 !== sha256 || t.size !== e.size || t.status === "aborted")) t = undefined;
    if (t?.status === "complete" || (same && !t)) {
      const done = t ?? this.newTransfer(batchId, e.path, e.size, sha256, upload, "complete");
      if (!t && same?.object) done.object = same.object;
      return {
        action: "done",
        path: e.path,
        transferId: done.id,
        deduplicated: !t,
        file: this.summary(done),
      };
    }
    const resumed = t !== undefined;
    t ??= this.newTransfer(batchId, e.path, e.size, sha256, upload, "uploading", e.partSizeHint);
    if (t.status === "failed") t.status = "uploading";
    if (upload === "single")
      return {
        action: "put",
        path: e.path,
        transferId: t.id,
        stored: t.object !== undefined,
        put: { method: "PUT", ...this.url(t.id, sha256, undefined, e.md5) },
      };
    return { action: "multipart", path: e.path, transferId: t.id, init: this.initOf(t, e.parts, resumed) };
  }

  private newTransfer(
    batchId: string,
    path: string,
    size: number,
    sha256: string,
    upload: "single" | "multipart",
    status: FakeTransfer["status"],
    hint?: number,
  ): FakeTransfer {
    const uniform = this.rules?.uniformParts && upload === "multipart";
    const t: FakeTransfer = {
      ...(uniform && { partSize: partSizeFor(size, hint ?? this.partSize, this.rules) }),
      id: id("tr"),
      batchId,
      path,
      size,
      sha256,
      upload,
      status,
      stored: new Map(),
      recorded: new Map(),
    };
    this.transfers.set(t.id, t);
    return t;
  }

  async createBatch(req: CreateBatchRequest): Promise<CreateBatchResponse> {
    await this.enter("createBatch");
    let b = [...this.batches.values()].find((x) => x.digest === req.digest);
    const resumed = b !== undefined;
    if (!b) {
      b = { id: id("bt"), digest: req.digest, req };
      this.batches.set(b.id, b);
    }
    const at = new Date(0).toISOString();
    const batchId = b.id;
    return {
      batchId,
      resumed,
      batch: {
        id: batchId,
        name: req.name,
        status: "open",
        digest: req.digest,
        priority: req.priority ?? "normal",
        fileCount: req.fileCount,
        totalBytes: req.totalBytes,
        filesComplete: 0,
        bytesComplete: 0,
        filesFailed: 0,
        createdAt: at,
        updatedAt: at,
      },
      limits: this.initOf(this.newTransfer("x", "x", 0, "", "single", "aborted"), [], false).limits,
      maxSinglePutSize: MAX_SINGLE_PUT_SIZE,
      files: (req.files ?? []).map((e) => this.answer(batchId, e)),
    };
  }

  async addFiles(batchId: string, files: BatchFileEntry[]): Promise<BatchFileAnswer[]> {
    await this.enter("addFiles");
    return files.map((e) => this.answer(batchId, e));
  }

  async completeFiles(_batchId: string, ids: string[]): Promise<CompletedFile[]> {
    await this.enter("completeFiles");
    return ids.map((transferId) => {
      const t = this.transfers.get(transferId);
      if (!t?.object)
        return { transferId, status: "uploading", error: { code: "PART_NOT_STORED", message: "no object" } };
      t.status = "complete";
      return { transferId, status: "complete" };
    });
  }

  async listBatchFiles(batchId: string): Promise<ListBatchFilesResponse> {
    await this.enter("listBatchFiles");
    return {
      items: [...this.transfers.values()].filter((t) => t.batchId === batchId).map((t) => this.summary(t)),
      nextCursor: null,
    };
  }

  private record(t: FakeTransfer, parts: PartRecordSpec[]) {
    if (this.dropRecords && parts.length)
      throw new CliError("ECONNRESET", "the connection broke (gave up after 3 tries)", EXIT.NETWORK);
    for (const p of parts) {
      const s = t.stored.get(p.partNumber);
      if (!s || s.sha256 !== p.sha256)
        throw new CliError("PART_NOT_STORED", `part ${p.partNumber} not stored`, EXIT.REJECTED);
      t.recorded.set(p.partNumber, { ...p });
    }
  }

  private must(id: string): FakeTransfer {
    const t = this.transfers.get(id);
    if (!t) throw new CliError("NOT_FOUND", `no ${id}`, EXIT.NOT_FOUND);
    if (t.status === "aborted")
      throw new CliError("INVALID_STATE", "The transfer was aborted", EXIT.REJECTED);
    return t;
  }

  async presign(transferId: string, parts: PartSpec[], done: PartRecordSpec[]): Promise<PresignResponse> {
    await this.enter("presign");
    const t = this.must(transferId);
    this.record(t, done);
    for (const p of parts) this.checkSpec(t, p);
    return {
      parts: parts.map((p) => ({
        partNumber: p.partNumber,
        method: "PUT" as const,
        ...this.url(t.id, p.sha256, p, p.md5),
      })),
    };
  }

  async recordParts(transferId: string, parts: PartRecordSpec[]): Promise<RecordPartsResponse> {
    await this.enter("recordParts");
    const t = this.must(transferId);
    this.record(t, parts);
    return {
      recorded: parts.map((p) => ({ partNumber: p.partNumber, recorded: "new" as const })),
      partsDone: t.recorded.size,
      bytesDone: 0,
    };
  }

  async assemble(transferId: string, parts: PartRecordSpec[]): Promise<FileSummary> {
    await this.enter("assemble");
    const t = this.must(transferId);
    if (t.sha256 === "")
      throw new CliError("CONTENT_PENDING", `${transferId} has no SHA-256 yet`, EXIT.REJECTED);
    this.record(t, parts);
    const ordered = [...t.recorded.values()].sort((a, b) => a.partNumber - b.partNumber);
    let offset = 0;
    for (const p of ordered) {
      if (p.offset !== offset) throw new CliError("PARTS_MISSING", `a hole at ${offset}`, EXIT.REJECTED);
      offset += p.size;
    }
    if (offset !== t.size) throw new CliError("PARTS_MISSING", `a hole at ${offset}`, EXIT.REJECTED);
    t.object = Buffer.concat(ordered.map((p) => (t.stored.get(p.partNumber) as { body: Buffer }).body));
    t.status = "complete";
    return this.summary(t);
  }

  async missing(transferId: string): Promise<MissingResponse> {
    await this.enter("missing");
    const t = this.must(transferId);
    const init = this.initOf(t, [], true);
    return {
      transferId,
      status: init.status,
      size: t.size,
      bytesDone: init.file.bytesDone,
      partsDone: t.recorded.size,
      missing: init.missing,
      parts: init.parts,
      unrecorded: init.unrecorded,
    };
  }

  async fail(transferId: string, reason: string): Promise<void> {
    await this.enter("fail");
    this.fails.push({ transferId, reason });
    const t = this.transfers.get(transferId);
    if (t) {
      t.status = "failed";
      t.failReason = reason;
    }
  }

  async check(): Promise<void> {
    await this.enter("check");
  }

  /** Names of content, as they arrived. */
  readonly named: { transferId: string; sha256: string; action: ContentResponse["action"] }[] = [];

  async nameContent(transferId: string, sha256: string): Promise<ContentResponse> {
    await this.enter("nameContent");
    const t = this.must(transferId);
    const r = this.name(t, sha256);
    this.named.push({ transferId, sha256, action: r.action });
    return r;
  }

  /** The coordinator's decision once an upload's content is known (upload-content.ts). */
  private name(t: FakeTransfer, sha256: string): ContentResponse {
    if (t.status === "complete")
      return { action: "done", transferId: t.id, deduplicated: false, file: this.summary(t) };
    const same = [...this.transfers.values()].find(
      (x) => x !== t && x.status === "complete" && x.sha256 === sha256 && x.size === t.size,
    );
    if (same) {
      if (same.batchId === t.batchId && same.path === t.path) {
        t.status = "aborted";
        return { action: "done", transferId: same.id, deduplicated: false, file: this.summary(same) };
      }
      t.status = "complete";
      t.sha256 = sha256;
      t.recorded.clear();
      if (same.object) t.object = same.object;
      return { action: "done", transferId: t.id, deduplicated: true, file: this.summary(t) };
    }
    const open = [...this.transfers.values()].find(
      (x) =>
        x !== t &&
        (x.status === "uploading" || x.status === "failed") &&
        x.upload === "multipart" &&
        x.sha256 === sha256 &&
        x.size === t.size &&
        x.batchId === t.batchId &&
        x.path === t.path,
    );
    if (open) {
      t.status = "aborted";
      open.status = "uploading";
      return { action: "switch", transferId: open.id, init: this.initOf(open, [], true) };
    }
    t.sha256 = sha256;
    return { action: "continue", transferId: t.id, file: this.summary(t) };
  }

  async put(req: PutRequest): Promise<{ etag: string }> {
    const u = this.urls.get(req.url);
    const kind = u?.partNumber === undefined ? "single" : "part";
    await this.enter("put");
    if (kind === "single") this.puts.maxSingle = Math.max(this.puts.maxSingle, ++this.puts.single);
    else this.puts.maxPart = Math.max(this.puts.maxPart, ++this.puts.part);
    try {
      if (req.signal?.aborted) throw req.signal.reason;
      if (this.putDelayMs)
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, this.putDelayMs);
          req.signal?.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(req.signal?.reason);
          });
        });
      const fault = this.putFaults.shift();
      if (fault) throw fault;
      if (!u) throw new CliError("AccessDenied", "unknown URL", EXIT.REJECTED);
      if (u.md5 !== undefined) {
        // md5 mode: storage checks the signed Content-MD5, and the header must be the one given.
        if (req.headers["content-md5"] !== u.md5 || md5(req.body) !== u.md5) {
          this.refused.md5++;
          throw new CliError("BadDigest", "damaged", EXIT.NETWORK, true);
        }
      } else if (sha(req.body) !== u.sha256) {
        this.refused.sha256++;
        throw new CliError("BadDigest", "damaged", EXIT.NETWORK, true);
      }
      const t = this.transfers.get(u.transferId) as FakeTransfer;
      if (t.status === "aborted")
        throw new CliError("NoSuchUpload", "The upload no longer exists", EXIT.REJECTED);
      this.bytesPut += req.body.length;
      req.onBytes?.(req.body.length);
      const etag = `"${u.sha256.slice(0, 16)}"`;
      if (u.partNumber === undefined) {
        if (this.loseObjects > 0) this.loseObjects--;
        else t.object = Buffer.from(req.body);
      } else {
        t.stored.set(u.partNumber, {
          partNumber: u.partNumber,
          offset: u.offset ?? 0,
          size: req.body.length,
          sha256: u.sha256,
          etag,
          body: Buffer.from(req.body),
        });
      }
      return { etag };
    } finally {
      if (kind === "single") this.puts.single--;
      else this.puts.part--;
    }
  }

  transferByPath(path: string): FakeTransfer | undefined {
    return [...this.transfers.values()].find((t) => t.path === path && t.status !== "aborted");
  }
}

/** Local files in memory; `mtimeMs` bumps when a test changes one. */
export class FakeFiles implements LocalFiles {
  readonly data = new Map<string, { body: Buffer; mtimeMs: number; ino: number }>();
  readonly gates = new Map<"hash" | "read" | "whole", Gate>();
  /** Whole-file hashes that have finished (for ordering assertions). */
  wholeHashed = 0;
  reads = 0;
  hashes = 0;

  add(local: string, body: Buffer): void {
    this.data.set(local, { body, mtimeMs: 1000, ino: this.data.size + 1 });
  }

  change(local: string, body: Buffer): void {
    const f = this.data.get(local);
    if (f) this.data.set(local, { body, mtimeMs: f.mtimeMs + 1, ino: f.ino });
  }

  gate(what: "hash" | "read" | "whole"): Gate {
    const g = new Gate();
    this.gates.set(what, g);
    return g;
  }

  private get(local: string) {
    const f = this.data.get(local);
    if (!f) throw new CliError("FILE_NOT_FOUND", `No such file: ${local}`, EXIT.FILE);
    return f;
  }

  async stat(local: string): Promise<FileStat> {
    const f = this.get(local);
    return { size: f.body.length, mtimeMs: f.mtimeMs, ino: f.ino };
  }

  async readWhole(local: string, size: number, into: Buffer): Promise<Buffer> {
    this.reads++;
    await this.gates.get("read")?.pass();
    const f = this.get(local);
    if (f.body.length !== size) throw new CliError("FILE_CHANGED", `${local} changed`, EXIT.INTEGRITY);
    f.body.copy(into, 0, 0, size);
    return into.subarray(0, size);
  }

  async open(local: string): Promise<OpenFile> {
    return {
      read: async (offset, size, into) => {
        this.reads++;
        await this.gates.get("read")?.pass();
        const f = this.get(local);
        f.body.copy(into, 0, offset, offset + size);
        return into.subarray(0, size);
      },
      close: async () => {},
    };
  }

  /** The "hash" gate holds the first parts' digests (and so the whole), the "whole" gate the whole only. */
  hash(
    local: string,
    parts: readonly { offset: number; size: number }[],
    onProgress?: (bytes: number) => void,
    signal?: AbortSignal,
    withMd5?: boolean,
  ): ContentHash {
    this.hashes++;
    const first = (async () => {
      await this.gates.get("hash")?.pass();
      if (signal?.aborted) throw signal.reason;
      const f = this.get(local);
      return parts.map((p) => sha(f.body.subarray(p.offset, p.offset + p.size)));
    })();
    const whole = first.then(async () => {
      await this.gates.get("whole")?.pass();
      if (signal?.aborted) throw signal.reason;
      const f = this.get(local);
      onProgress?.(f.body.length);
      this.wholeHashed++;
      return sha(f.body);
    });
    first.catch(() => {});
    whole.catch(() => {});
    const md5s = first.then(() =>
      withMd5 ? parts.map((p) => md5(this.get(local).body.subarray(p.offset, p.offset + p.size))) : [],
    );
    md5s.catch(() => {});
    return { parts: first, partMd5s: md5s, sha256: whole };
  }
}

/** A manifest over fake files: `files` maps batch path → contents. */
export function fakeManifest(
  files: FakeFiles,
  entries: Record<string, Buffer>,
  priorities: Record<string, "high" | "normal" | "low"> = {},
): Manifest {
  const list: ManifestFile[] = Object.entries(entries).map(([path, body]) => {
    const local = `/fake/${path}`;
    if (!files.data.has(local)) files.add(local, body);
    const f = files.data.get(local) as { mtimeMs: number; ino: number };
    return {
      path,
      local,
      shown: local,
      size: body.length,
      mtimeMs: f.mtimeMs,
      ino: f.ino,
      priority: priorities[path] ?? "normal",
    };
  });
  return {
    name: "fake",
    files: list,
    dirs: [],
    skipped: [],
    totalBytes: list.reduce((n, f) => n + f.size, 0),
    digest: manifestDigest(list, []),
  };
}
