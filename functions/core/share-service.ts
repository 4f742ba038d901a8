/**
 * Share links: an unguessable token (192 random bits, stored only as its SHA-256) that anyone can GET
 * to download one complete file, until it expires, is revoked, or has been used `maxDownloads` times.
 * Each download is counted by one conditional write, so parallel requests can never exceed the limit.
 * A ranged request that continues a cut download (Range not starting at 0) within an hour of the last
 * counted download is served without counting, so `curl -C -` works on a link with one use left.
 * A batch's link (its fileId is the bt_ id) answers GET /s/{token} with the list of the batch's complete
 * files (paged, not counted); each is fetched at /s/{token}/{transferId}, which counts one download:
 * maxDownloads counts file downloads, whatever file of the batch they are.
 */
import { randomBytes } from "node:crypto";
import type { SharedBatchListing } from "../contract/batches.js";
import { MAX_PAGE_SIZE, SHARE_REDIRECT_SECONDS, SHARE_RESUME_WINDOW_SECONDS } from "../contract/limits.js";
import type { CreatedShare, ShareInfo } from "../contract/schemas.js";
import { AppError } from "./errors.js";
import { hashToken } from "./ids.js";
import type {
  BatchRecord,
  BatchRepo,
  Clock,
  ObjectStore,
  ShareRecord,
  TransferRecord,
  TransferRepo,
} from "./ports.js";

export interface ShareServiceDeps {
  repo: TransferRepo;
  store: ObjectStore;
  /** Batch links; absent, only files can be shared. */
  batches?: BatchRepo;
  clock?: Clock;
}

/** What GET /s/{token} leads to: a redirect to one file, or a batch's listing. */
export type OpenedShare = { redirect: string } | { listing: SharedBatchListing };

const isBatchId = (id: string) => id.startsWith("bt_");

export class ShareService {
  private readonly repo: TransferRepo;
  private readonly store: ObjectStore;
  private readonly clock: Clock;
  private readonly batches: BatchRepo | undefined;

  constructor(deps: ShareServiceDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
    this.batches = deps.batches;
    this.clock = deps.clock ?? { now: () => new Date() };
  }

  private state(s: ShareRecord, now: number): ShareInfo["state"] {
    if (s.revokedAt) return "revoked";
    if (Date.parse(s.expiresAt) <= now) return "expired";
    if (s.maxDownloads !== undefined && s.downloads >= s.maxDownloads) return "used-up";
    return "active";
  }

  private info(s: ShareRecord): ShareInfo {
    const i: ShareInfo = {
      shareId: s.shareId,
      fileId: s.fileId,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
      downloads: s.downloads,
      state: this.state(s, this.clock.now().getTime()),
    };
    if (s.maxDownloads !== undefined) i.maxDownloads = s.maxDownloads;
    if (s.revokedAt !== undefined) i.revokedAt = s.revokedAt;
    return i;
  }

  private async completeFile(fileId: string): Promise<TransferRecord> {
    const t = await this.repo.getTransfer(fileId);
    if (!t) throw new AppError("NOT_FOUND", `No transfer ${fileId}.`);
    if (t.status !== "complete")
      throw new AppError(
        "INVALID_STATE",
        `Transfer ${fileId} is ${t.status}; only complete files can be shared.`,
      );
    return t;
  }

  async create(
    fileId: string,
    opts: { expiresIn: number; maxDownloads?: number | undefined },
    baseUrl: string,
  ): Promise<CreatedShare> {
    await this.completeFile(fileId);
    return this.make(fileId, opts, baseUrl);
  }

  /** One link for a batch that is not cancelled: it lists the batch's files as they complete. */
  async createForBatch(
    batchId: string,
    opts: { expiresIn: number; maxDownloads?: number | undefined },
    baseUrl: string,
  ): Promise<CreatedShare> {
    const b = await this.mustGetBatch(batchId);
    if (b.status === "aborted")
      throw new AppError("INVALID_STATE", `Batch ${batchId} was cancelled; it cannot be shared.`);
    return this.make(batchId, opts, baseUrl);
  }

  async listForBatch(batchId: string): Promise<ShareInfo[]> {
    await this.mustGetBatch(batchId);
    const shares = await this.repo.listShares(batchId);
    return shares.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map((s) => this.info(s));
  }

  private async mustGetBatch(batchId: string): Promise<BatchRecord> {
    const b = await this.batches?.getBatch(batchId);
    if (!b) throw new AppError("NOT_FOUND", `No batch ${batchId}.`);
    return b;
  }

  private async make(
    fileId: string,
    opts: { expiresIn: number; maxDownloads?: number | undefined },
    baseUrl: string,
  ): Promise<CreatedShare> {
    const token = randomBytes(24).toString("base64url");
    const tokenHash = hashToken(token);
    const now = this.clock.now();
    const share: ShareRecord = {
      shareId: `sh_${tokenHash.slice(0, 20)}`,
      tokenHash,
      fileId,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + opts.expiresIn * 1000).toISOString(),
      downloads: 0,
      ...(opts.maxDownloads !== undefined && { maxDownloads: opts.maxDownloads }),
    };
    await this.repo.createShare(share);
    return { ...this.info(share), token, url: `${baseUrl.replace(/\/+$/, "")}/s/${token}` };
  }

  async list(fileId: string): Promise<ShareInfo[]> {
    if (!(await this.repo.getTransfer(fileId))) throw new AppError("NOT_FOUND", `No transfer ${fileId}.`);
    const shares = await this.repo.listShares(fileId);
    return shares.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map((s) => this.info(s));
  }

  async revokeByToken(token: string): Promise<ShareInfo> {
    const s = await this.repo.revokeShare(hashToken(token), this.clock.now().toISOString());
    if (!s) throw new AppError("SHARE_NOT_FOUND", "No share link has this token.");
    return this.info(s);
  }

  async revokeById(fileId: string, shareId: string): Promise<ShareInfo> {
    const hash = await this.repo.shareTokenHash(fileId, shareId);
    if (!hash) throw new AppError("SHARE_NOT_FOUND", `Transfer ${fileId} has no share link ${shareId}.`);
    const s = await this.repo.revokeShare(hash, this.clock.now().toISOString());
    if (!s) throw new AppError("SHARE_NOT_FOUND", `Transfer ${fileId} has no share link ${shareId}.`);
    return this.info(s);
  }

  private async mustGetShare(hash: string): Promise<ShareRecord> {
    const share = await this.repo.getShare(hash);
    if (!share)
      throw new AppError(
        "SHARE_NOT_FOUND",
        "This share link does not exist. Check that it was copied whole.",
      );
    return share;
  }

  private refuse(s: ShareRecord, now: number): never {
    const state = this.state(s, now);
    if (state === "revoked") throw new AppError("SHARE_REVOKED", "This share link was revoked by its owner.");
    if (state === "expired")
      throw new AppError("SHARE_EXPIRED", `This share link expired at ${s.expiresAt}.`);
    throw new AppError(
      "SHARE_USED_UP",
      `This share link allowed ${s.maxDownloads} download(s); all have been used.`,
    );
  }

  /** Counts one download (one conditional write) unless it resumes a cut one; then a presigned GET. */
  private async serve(share: ShareRecord, file: TransferRecord, rangeStart: number | undefined) {
    const nowDate = this.clock.now();
    const now = nowDate.getTime();
    const resuming =
      rangeStart !== undefined &&
      rangeStart > 0 &&
      share.lastDownloadAt !== undefined &&
      now - Date.parse(share.lastDownloadAt) < SHARE_RESUME_WINDOW_SECONDS * 1000 &&
      !share.revokedAt &&
      Date.parse(share.expiresAt) > now;
    if (!resuming) {
      const outcome = await this.repo.countShareDownload(share.tokenHash, nowDate.toISOString());
      if (outcome === "refused") this.refuse((await this.repo.getShare(share.tokenHash)) ?? share, now);
    }
    return this.store.presignGet(file.objectKey, {
      fileName: file.name,
      expiresInSeconds: SHARE_REDIRECT_SECONDS,
    });
  }

  /** GET /s/{token}: a file's link redirects (counted); a batch's link lists its files (not counted). */
  async open(
    token: string,
    rangeStart: number | undefined,
    opts: { cursor?: string | undefined; baseUrl?: string } = {},
  ): Promise<OpenedShare> {
    const share = await this.mustGetShare(hashToken(token));
    if (isBatchId(share.fileId)) return { listing: await this.listing(share, token, opts) };
    const file = await this.repo.getTransfer(share.fileId);
    if (file?.status !== "complete")
      throw new AppError("SHARE_NOT_FOUND", "The file behind this share link is no longer available.");
    return { redirect: await this.serve(share, file, rangeStart) };
  }

  private async listing(
    share: ShareRecord,
    token: string,
    opts: { cursor?: string | undefined; baseUrl?: string },
  ): Promise<SharedBatchListing> {
    const now = this.clock.now().getTime();
    if (this.state(share, now) !== "active") this.refuse(share, now);
    const batch = await this.batches?.getBatch(share.fileId);
    if (!batch || batch.status === "aborted" || !this.batches)
      throw new AppError("SHARE_NOT_FOUND", "The batch behind this share link is no longer available.");
    const page = await this.batches.listBatchFiles(batch.id, { limit: MAX_PAGE_SIZE, cursor: opts.cursor });
    const base = `${(opts.baseUrl ?? "").replace(/\/+$/, "")}/s/${token}`;
    return {
      batchId: batch.id,
      name: batch.name,
      fileCount: batch.fileCount,
      totalBytes: batch.totalBytes,
      dirs: batch.dirs ?? [],
      expiresAt: share.expiresAt,
      files: page.items
        .filter((t) => t.status === "complete" && t.path !== undefined)
        .map((t) => ({ path: t.path as string, size: t.size, sha256: t.sha256, url: `${base}/${t.id}` })),
      nextCursor: page.cursor ?? null,
    };
  }

  /** GET /s/{token}/{fileId}: one complete file of the shared batch, counted like a file link's download. */
  async openBatchFile(token: string, fileId: string, rangeStart: number | undefined): Promise<string> {
    const share = await this.mustGetShare(hashToken(token));
    const file = isBatchId(share.fileId) ? await this.repo.getTransfer(fileId) : undefined;
    if (!file || file.batchId !== share.fileId || file.status !== "complete")
      throw new AppError("SHARE_NOT_FOUND", "This share link has no such file (or it is not complete yet).");
    return this.serve(share, file, rangeStart);
  }
}
