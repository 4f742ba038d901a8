/**
 * The ObjectStore contract (test/helpers/object-store-contract.ts) run against S3ObjectStore on the
 * stack's S3 server (versitygw or SeaweedFS, as SFTS_TEST_STORAGE says): once under the server's own
 * profile (the stack's SFTS_STORAGE_PROFILE) and once under `generic` (signed Content-MD5). Beside it, what
 * only this adapter does: md5 mode wants each MD5, and the test-only setting that sends the digest where
 * storage does not check it makes storage take damaged bytes (what the storage probe must catch).
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { buildAdapters } from "../../functions/adapters/clients.js";
import { loadConfig } from "../../functions/api/config.js";
import { AppError } from "../../functions/core/errors.js";
import { rawPut } from "../helpers/api.js";
import { objectStoreContract } from "../helpers/object-store-contract.js";

const stack = inject("stack");

const own = loadConfig(stack.env).storage.profile;

/** The adapter under a profile; what the server does with a re-uploaded part is its own profile's. */
function storeFor(env: Record<string, string>) {
  const config = loadConfig({ ...stack.env, ...env });
  const adapters = buildAdapters(config);
  return {
    store: adapters.store,
    profile: config.storage.profile,
    partReupload: own.partReupload,
    destroy: () => adapters.destroy(),
  };
}

objectStoreContract(`${own.name} profile (the server's own)`, () => storeFor({}));
objectStoreContract("generic profile (Content-MD5)", () => storeFor({ SFTS_STORAGE_PROFILE: "generic" }));

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("base64");
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("base64");

describe("S3ObjectStore in md5 mode", () => {
  it("will not presign a part or object without its MD5", async () => {
    const s = storeFor({ SFTS_STORAGE_PROFILE: "generic" });
    try {
      const err = await s.store
        .presignPutObject("contract/no-md5", { size: 1, sha256Base64: sha(Buffer.from("x")) }, 60)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("INVALID_INPUT");
      expect((err as AppError).message).toMatch(/Content-MD5/);
    } finally {
      s.destroy();
    }
  });
});

describe("SFTS_TEST_STORAGE_IGNORES_CHECKSUM (test only): storage checks nothing", () => {
  for (const profile of [own.name, "generic"]) {
    it(`${profile}: a part and a single PUT with a flipped byte are stored`, async () => {
      const s = storeFor({ SFTS_STORAGE_PROFILE: profile, SFTS_TEST_STORAGE_IGNORES_CHECKSUM: "1" });
      try {
        const bytes = randomBytes(4096);
        const damaged = Buffer.from(bytes);
        damaged[100] = (damaged[100] ?? 0) ^ 0x01;
        const digests = { sha256Base64: sha(bytes), md5Base64: md5(bytes) };
        const key = `contract/unchecked-${profile}-${Date.now()}`;
        const req = await s.store.presignPutObject(key, { size: bytes.length, ...digests }, 60);
        expect(req.headers["x-amz-meta-sfts-digest"]).toBeDefined();
        expect(req.headers["x-amz-checksum-sha256"]).toBeUndefined();
        expect(req.headers["content-md5"]).toBeUndefined();
        expect((await rawPut(req.url, req.headers, damaged)).status).toBe(200);
        expect((await s.store.headObject(key))?.size).toBe(bytes.length);
        await s.store.deleteObject(key);

        const uploadId = await s.store.createMultipartUpload(key);
        const part = await s.store.presignUploadPart(
          key,
          uploadId,
          { partNumber: 1, size: bytes.length, ...digests },
          60,
        );
        expect((await rawPut(part.url, part.headers, damaged)).status).toBe(200);
        const [stored] = await s.store.listParts(key, uploadId);
        expect(stored?.size).toBe(bytes.length);
        await s.store.completeMultipartUpload(key, uploadId, [
          { partNumber: 1, etag: stored?.etag ?? "", sha256Base64: digests.sha256Base64 },
        ]);
        expect((await s.store.headObject(key))?.size).toBe(bytes.length);
        await s.store.deleteObject(key);
      } finally {
        s.destroy();
      }
    });
  }
});
