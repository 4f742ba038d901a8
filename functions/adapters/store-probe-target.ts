/**
 * The storage probe's port (core/storage-probe.ts) over the coordinator's own ObjectStore: multipart and
 * single PUTs presigned exactly as for senders (the store's mode decides what digest is signed: SHA-256,
 * Content-MD5, or for tests a header storage does not check), but for the coordinator's INTERNAL endpoint
 * (store.internal()), and sent from here with fetch, so the probe sees storage's answer as a sender would:
 * status, S3 error code, Date and ETag. Lifecycle: one per probe run; nothing held between calls.
 */
import { createHash } from "node:crypto";
import { AppError } from "../core/errors.js";
import type { Digests, ObjectStore, PresignedRequest } from "../core/ports.js";
import type { ProbeUpload, StorageAnswer, StorageProbeTarget } from "../core/storage-probe.js";

/** Presigned URLs of the probe are used at once. */
const PRESIGN_SECONDS = 300;
const DEFAULT_TIMEOUT_MS = 15_000;

const digests = (bytes: Uint8Array): Digests => ({
  sha256Base64: createHash("sha256").update(bytes).digest("base64"),
  md5Base64: createHash("md5").update(bytes).digest("base64"),
});

/** The <Code> of an S3 error body, "" if none. */
export function s3ErrorCode(body: string): string {
  return /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1] ?? "";
}

/** An AppError the store raised, as the answer it stands for (its message names storage's code). */
function answerOf(err: unknown): StorageAnswer {
  if (!(err instanceof AppError)) throw err;
  const code = /\(([A-Za-z]+)\)/.exec(err.message)?.[1] ?? err.code;
  return { status: err.status, code };
}

export class StoreProbeTarget implements StorageProbeTarget {
  constructor(
    private readonly store: ObjectStore,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  private async send(signed: PresignedRequest, bytes: Uint8Array): Promise<StorageAnswer> {
    const r = await this.fetchFn(signed.url, {
      method: "PUT",
      headers: signed.headers,
      body: bytes,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const body = await r.text();
    return {
      status: r.status,
      code: r.ok ? "" : s3ErrorCode(body),
      date: r.headers.get("date") ?? undefined,
      etag: r.headers.get("etag") ?? undefined,
    };
  }

  async startUpload(key: string): Promise<ProbeUpload> {
    const uploadId = await this.store.createMultipartUpload(key);
    return {
      putPart: async (partNumber, bytes, signedDigestOf) =>
        this.send(
          await this.store.presignUploadPart(
            key,
            uploadId,
            { partNumber, size: signedDigestOf.length, ...digests(signedDigestOf) },
            PRESIGN_SECONDS,
          ),
          bytes,
        ),
      complete: async (parts) => {
        try {
          await this.store.completeMultipartUpload(
            key,
            uploadId,
            parts.map((p) => ({
              partNumber: p.partNumber,
              etag: p.etag,
              sha256Base64: digests(p.bytes).sha256Base64,
            })),
          );
          return { status: 200, code: "" };
        } catch (err) {
          return answerOf(err);
        }
      },
      abort: () => this.store.abortMultipartUpload(key, uploadId),
    };
  }

  async putObject(key: string, bytes: Uint8Array, signedDigestOf: Uint8Array): Promise<StorageAnswer> {
    return this.send(
      await this.store.presignPutObject(
        key,
        { size: signedDigestOf.length, ...digests(signedDigestOf) },
        PRESIGN_SECONDS,
      ),
      bytes,
    );
  }

  deleteObject(key: string): Promise<void> {
    return this.store.deleteObject(key);
  }
}
