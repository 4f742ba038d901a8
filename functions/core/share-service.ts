/**
 * Share links: an unguessable token (192 random bits, stored only as its SHA-256) that anyone can GET
 * to download one complete file, until it expires, is revoked, or has been used `maxDownloads` times.
 * Each download is counted by one conditional write, so parallel requests can never exceed the limit.
 * A ranged request that continues a cut download (Range not starting at 0) within an hour of the last
 * counted download is served without counting, so `curl -C -` works on a link with one use left.
 */
import { randomBytes } from "node:crypto";
import { SHARE_REDIRECT_SECONDS, SHARE_RESUME_WINDOW_SECONDS } from "../contract/limits.js";
import type { CreatedShare, ShareInfo } from "../contract/schemas.js";
import { AppError } from "./errors.js";
import { hashToken } from "./ids.js";
import type { Clock, ObjectStore, ShareRecord, TransferRecord, TransferRepo } from "./ports.js";

export interface ShareServiceDeps {
  repo: TransferRepo;
  store: ObjectStore;
  clock?: Clock;
}

export class ShareService {
  private readonly repo: TransferRepo;
  private readonly store: ObjectStore;
  private readonly clock: Clock;

  constructor(deps: ShareServiceDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
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

  /** Where GET /s/{token} redirects to: a short-lived presigned GET, after counting the download. */
  async open(token: string, rangeStart: number | undefined): Promise<string> {
    const hash = hashToken(token);
    const share = await this.repo.getShare(hash);
    if (!share)
      throw new AppError(
        "SHARE_NOT_FOUND",
        "This share link does not exist. Check that it was copied whole.",
      );
    const nowDate = this.clock.now();
    const now = nowDate.getTime();
    const file = await this.repo.getTransfer(share.fileId);
    if (file?.status !== "complete")
      throw new AppError("SHARE_NOT_FOUND", "The file behind this share link is no longer available.");
    const refuse = (s: ShareRecord): never => {
      const state = this.state(s, now);
      if (state === "revoked")
        throw new AppError("SHARE_REVOKED", "This share link was revoked by its owner.");
      if (state === "expired")
        throw new AppError("SHARE_EXPIRED", `This share link expired at ${s.expiresAt}.`);
      throw new AppError(
        "SHARE_USED_UP",
        `This share link allowed ${s.maxDownloads} download(s); all have been used.`,
      );
    };
    const resuming =
      rangeStart !== undefined &&
      rangeStart > 0 &&
      share.lastDownloadAt !== undefined &&
      now - Date.parse(share.lastDownloadAt) < SHARE_RESUME_WINDOW_SECONDS * 1000 &&
      !share.revokedAt &&
      Date.parse(share.expiresAt) > now;
    if (!resuming) {
      const outcome = await this.repo.countShareDownload(hash, nowDate.toISOString());
      if (outcome === "refused") refuse((await this.repo.getShare(hash)) ?? share);
    }
    return this.store.presignGet(file.objectKey, {
      fileName: file.name,
      expiresInSeconds: SHARE_REDIRECT_SECONDS,
    });
  }
}
