/**
 * ObjectStore on any S3-compatible service (AWS S3, versitygw, SeaweedFS, R2, …).
 * Lifecycle: built once per process around injected S3Clients: `client` talks to storage from the
 * coordinator, `presignClient` signs URLs for the address clients reach (the same one unless configured).
 * Part uploads and single PUTs are presigned (s3-presign.ts) with a digest as a signed header, so storage
 * itself rejects corrupt bytes. Which digest is the store's mode (the profile's partCheck):
 *   sha256  x-amz-checksum-sha256 on parts and PUTs; CreateMultipartUpload with ChecksumAlgorithm SHA256,
 *           CompleteMultipartUpload with each part's ChecksumSHA256
 *   md5     content-md5 on parts and PUTs (md5Base64 required); Create and Complete carry no checksums
 * ignoreChecksumForTests (test only): the digest goes under x-amz-meta-sfts-digest, which storage keeps as
 * metadata and never checks, and Create/Complete/empty PUTs carry none: any store then accepts damaged
 * bytes, which the storage probe must detect.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListPartsCommand,
  type ListPartsCommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { PartCheck } from "../contract/storage.js";
import { AppError } from "../core/errors.js";
import type { Digests, ObjectStore, PresignedRequest, StoredPart } from "../core/ports.js";
import { CHECKSUM_HEADER, MD5_HEADER, S3Presigner, TEST_DIGEST_HEADER } from "./s3-presign.js";

/** What the store signs and asks storage to check (from the storage profile and the config). */
export interface StoreMode {
  partCheck: PartCheck;
  /** SFTS_TEST_STORAGE_IGNORES_CHECKSUM: send the digest where storage does not check it. */
  ignoreChecksumForTests?: boolean | undefined;
}

function errName(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { name?: string; Code?: string };
    return e.Code ?? e.name ?? "";
  }
  return "";
}

function storageError(err: unknown): never {
  if (err instanceof AppError) throw err;
  const name = errName(err);
  if (name === "NoSuchUpload")
    throw new AppError("UPLOAD_GONE", "The multipart upload no longer exists in storage.");
  if (name === "NoSuchBucket")
    throw new AppError("STORAGE_UNAVAILABLE", "The storage bucket does not exist.");
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (status === 400) throw new AppError("INVALID_INPUT", `Storage refused the request (${name || "400"}).`);
  throw new AppError("STORAGE_UNAVAILABLE", "Storage did not answer as expected; try again shortly.");
}

/** MD5 of no bytes, base64. */
const EMPTY_MD5_BASE64 = "1B2M2Y8AsgTpgAmY7PhCfg==";

const isNotFound = (err: unknown) => {
  const name = errName(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return name === "NotFound" || name === "NoSuchKey" || status === 404;
};

/** RFC 6266 Content-Disposition: an ASCII fallback plus the exact UTF-8 name. */
export function contentDisposition(fileName: string): string {
  const last = fileName.toWellFormed().split(/[\\/]/).pop() ?? "";
  const base = last === "" || last === "." || last === ".." ? "download" : last;
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, "_");
  // RFC 8187 attr-char excludes ' ( ) * which encodeURIComponent leaves alone.
  const encoded = encodeURIComponent(base).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export class S3ObjectStore implements ObjectStore {
  private readonly presigner: S3Presigner;
  private internalStore: S3ObjectStore | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly presignClient: S3Client = client,
    readonly mode: StoreMode = { partCheck: "sha256" },
  ) {
    this.presigner = new S3Presigner(presignClient, bucket);
  }

  /** The same store presigning for the coordinator's own address (PUTs the coordinator makes itself). */
  internal(): S3ObjectStore {
    if (this.presignClient === this.client) return this;
    this.internalStore ??= new S3ObjectStore(this.client, this.bucket, this.client, this.mode);
    return this.internalStore;
  }

  /** Whether CreateMultipartUpload and Complete carry SHA-256 checksums (sha256 mode, checked). */
  private get sha256Checked(): boolean {
    return this.mode.partCheck === "sha256" && !this.mode.ignoreChecksumForTests;
  }

  /** The signed header(s) carrying a part's or object's digest, as the mode says. */
  private digestHeaders(d: Digests): Record<string, string> {
    let digest = d.sha256Base64;
    if (this.mode.partCheck === "md5") {
      if (d.md5Base64 === undefined)
        throw new AppError(
          "INVALID_INPUT",
          "This storage checks parts by Content-MD5: the part's or object's md5 must be given.",
        );
      digest = d.md5Base64;
    }
    if (this.mode.ignoreChecksumForTests) return { [TEST_DIGEST_HEADER]: digest };
    return { [this.mode.partCheck === "md5" ? MD5_HEADER : CHECKSUM_HEADER]: digest };
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return storageError(err);
    }
  }

  async createMultipartUpload(key: string, contentType?: string): Promise<string> {
    const r = await this.run(() =>
      this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          ...(this.sha256Checked && { ChecksumAlgorithm: "SHA256" as const }),
          ...(contentType !== undefined && { ContentType: contentType }),
        }),
      ),
    );
    if (!r.UploadId) throw new AppError("STORAGE_UNAVAILABLE", "Storage returned no upload id.");
    return r.UploadId;
  }

  async presignUploadPart(
    key: string,
    uploadId: string,
    part: { partNumber: number; size: number } & Digests,
    expiresInSeconds: number,
  ): Promise<PresignedRequest> {
    return this.presigner.presignPut(
      {
        key,
        query: { "x-id": "UploadPart", partNumber: String(part.partNumber), uploadId },
        size: part.size,
        digestHeaders: this.digestHeaders(part),
      },
      expiresInSeconds,
    );
  }

  private toStoredPart(p: NonNullable<ListPartsCommandOutput["Parts"]>[number]): StoredPart {
    const s: StoredPart = { partNumber: p.PartNumber ?? 0, size: p.Size ?? 0, etag: p.ETag ?? "" };
    if (p.ChecksumSHA256) s.checksumSha256 = p.ChecksumSHA256;
    return s;
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const out: StoredPart[] = [];
    let marker: string | undefined;
    for (;;) {
      const r = await this.run(() =>
        this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            ...(marker !== undefined && { PartNumberMarker: marker }),
          }),
        ),
      );
      for (const p of r.Parts ?? []) out.push(this.toStoredPart(p));
      if (!r.IsTruncated || !r.NextPartNumberMarker || r.NextPartNumberMarker === marker) break;
      marker = r.NextPartNumberMarker;
    }
    return out;
  }

  async getPart(key: string, uploadId: string, partNumber: number): Promise<StoredPart | undefined> {
    const r = await this.run(() =>
      this.client.send(
        new ListPartsCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumberMarker: String(partNumber - 1),
          MaxParts: 1,
        }),
      ),
    );
    const p = r.Parts?.[0];
    return p && p.PartNumber === partNumber ? this.toStoredPart(p) : undefined;
  }

  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string; sha256Base64: string }[],
  ): Promise<{ etag: string; checksumSha256?: string }> {
    const r = await this.run(() =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: parts.map((p) => ({
              PartNumber: p.partNumber,
              ETag: p.etag.startsWith('"') ? p.etag : `"${p.etag}"`,
              ...(this.sha256Checked && { ChecksumSHA256: p.sha256Base64 }),
            })),
          },
        }),
      ),
    );
    return {
      etag: r.ETag ?? "",
      ...(r.ChecksumSHA256 !== undefined && { checksumSha256: r.ChecksumSHA256 }),
    };
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.run(() =>
      this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      ),
    );
  }

  async deleteObject(key: string): Promise<void> {
    await this.run(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async headObject(
    key: string,
  ): Promise<{ size: number; etag: string; checksumSha256?: string } | undefined> {
    try {
      const r = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: "ENABLED" }),
      );
      return {
        size: r.ContentLength ?? 0,
        etag: r.ETag ?? "",
        ...(r.ChecksumSHA256 !== undefined && { checksumSha256: r.ChecksumSHA256 }),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      return storageError(err);
    }
  }

  async presignPutObject(
    key: string,
    object: { size: number; contentType?: string | undefined } & Digests,
    expiresInSeconds: number,
  ): Promise<PresignedRequest> {
    // No SDK-added CRC32 either: the digest is ours, and storage refuses damaged bytes against it.
    return this.presigner.presignPut(
      {
        key,
        query: { "x-id": "PutObject" },
        size: object.size,
        digestHeaders: this.digestHeaders(object),
        contentType: object.contentType,
      },
      expiresInSeconds,
    );
  }

  async putEmptyObject(key: string, digests: Digests): Promise<void> {
    const check = this.mode.ignoreChecksumForTests
      ? { Metadata: { "sfts-digest": digests.md5Base64 ?? digests.sha256Base64 } }
      : this.mode.partCheck === "md5"
        ? { ContentMD5: digests.md5Base64 ?? EMPTY_MD5_BASE64 }
        : { ChecksumSHA256: digests.sha256Base64 };
    await this.run(() =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: new Uint8Array(0), ...check }),
      ),
    );
  }

  async presignGet(key: string, opts: { fileName: string; expiresInSeconds: number }): Promise<string> {
    return getSignedUrl(
      this.presignClient,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentDisposition: contentDisposition(opts.fileName),
      }),
      { expiresIn: opts.expiresInSeconds },
    );
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }
}
