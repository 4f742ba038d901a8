/**
 * The ObjectStore port's contract, as one suite any implementation is run against (a real S3 server:
 * versitygw or SeaweedFS, whichever the stack runs). `objectStoreContract(name, makeStore)` registers a
 * describe block; makeStore builds the store under test with the profile it follows, whose fields say what
 * to expect where servers differ (listPartsChecksum: whether ListParts returns each part's SHA-256;
 * partCheck: which digest is signed). Presigned PUTs are sent with plain HTTP, as a client would.
 * Covered: multipart create / presigned part PUT / listParts / getPart / complete / abort, single presigned
 * PUT, head, delete, presignGet, empty object, ping; a part and a single PUT with one flipped byte refused
 * by storage, the correct bytes accepted on the same URL; a part number uploaded twice (partReupload:
 * "replaces" lists one entry, the second, and assembles only it; "keeps-each" lists both and assembles the
 * one whose ETag Complete names).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../functions/core/errors.js";
import type { Digests, ObjectStore } from "../../functions/core/ports.js";
import type { StorageProfile } from "../../functions/core/storage-profiles.js";
import { rawPut } from "./api.js";

export interface StoreUnderTest {
  store: ObjectStore;
  profile: StorageProfile;
  /**
   * What the server does with a second upload of one part number: its own profile's partReupload (a
   * store run under another profile, e.g. generic, still behaves as the server does). Default: profile's.
   */
  partReupload?: StorageProfile["partReupload"];
  destroy(): void;
}

const MiB = 1024 * 1024;
const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const digests = (b: Uint8Array): Digests => ({
  sha256Base64: createHash("sha256").update(b).digest("base64"),
  md5Base64: createHash("md5").update(b).digest("base64"),
});
const md5Hex = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const unquote = (etag: string) => etag.replace(/^"+|"+$/g, "");
const flipped = (b: Uint8Array, at: number) => {
  const c = Buffer.from(b);
  c[at] = (c[at] ?? 0) ^ 0x01;
  return c;
};
/** What S3 servers answer to bytes that do not match the signed digest. */
const DIGEST_REFUSAL = /BadDigest|InvalidDigest|XAmzContentChecksumMismatch/;

async function put(req: { url: string; headers: Record<string, string> }, body: Uint8Array) {
  const res = await fetch(req.url, { method: "PUT", headers: req.headers, body });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get("etag") ?? "", text };
}

export function objectStoreContract(name: string, makeStore: () => Promise<StoreUnderTest> | StoreUnderTest) {
  describe(`ObjectStore contract: ${name}`, () => {
    let s: StoreUnderTest;
    let store: ObjectStore;
    const prefix = `contract/${randomUUID()}`;
    beforeAll(async () => {
      s = await makeStore();
      store = s.store;
    });
    afterAll(() => s?.destroy());

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it("signs the digest its profile names, as a header (never in the query)", async () => {
      const bytes = randomBytes(1000);
      const req = await store.presignPutObject(`${prefix}/signed`, { size: 1000, ...digests(bytes) }, 60);
      const header = s.profile.partCheck === "md5" ? "content-md5" : "x-amz-checksum-sha256";
      const other = s.profile.partCheck === "md5" ? "x-amz-checksum-sha256" : "content-md5";
      const d = digests(bytes);
      expect(req.headers[header]).toBe(s.profile.partCheck === "md5" ? d.md5Base64 : d.sha256Base64);
      expect(req.headers[other]).toBeUndefined();
      const url = new URL(req.url);
      expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toContain(header);
      expect([...url.searchParams.keys()].map((k) => k.toLowerCase())).not.toContain(header);
    });

    it("assembles a multipart upload from presigned parts, and lists and gets them first", async () => {
      const key = `${prefix}/multi`;
      const data = randomBytes(5 * MiB + 4321);
      const chunks = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB)];
      const uploadId = await store.createMultipartUpload(key, "application/x-test");
      const etags: string[] = [];
      for (const [i, chunk] of chunks.entries()) {
        const req = await store.presignUploadPart(
          key,
          uploadId,
          { partNumber: i + 1, size: chunk.length, ...digests(chunk) },
          300,
        );
        const r = await put(req, chunk);
        expect(r.status, r.text).toBe(200);
        etags.push(r.etag);
      }
      const listed = await store.listParts(key, uploadId);
      expect(listed.map((p) => [p.partNumber, p.size])).toEqual([
        [1, chunks[0]!.length],
        [2, chunks[1]!.length],
      ]);
      listed.forEach((p, i) => {
        expect(unquote(p.etag)).toBe(unquote(etags[i]!));
        const chunk = chunks[i]!;
        if (s.profile.partCheck === "sha256" && s.profile.listPartsChecksum)
          expect(p.checksumSha256).toBe(digests(chunk).sha256Base64);
        else if (s.profile.partCheck === "sha256") expect(p.checksumSha256).toBeUndefined();
        // md5 mode: storage verified Content-MD5; the part's ETag is that MD5 (what the coordinator leans on).
        if (s.profile.partCheck === "md5") expect(unquote(p.etag)).toBe(md5Hex(chunk));
      });
      const second = await store.getPart(key, uploadId, 2);
      expect(second?.size).toBe(chunks[1]!.length);
      expect(unquote(second?.etag ?? "")).toBe(unquote(etags[1]!));
      expect(await store.getPart(key, uploadId, 3)).toBeUndefined();

      const done = await store.completeMultipartUpload(
        key,
        uploadId,
        listed.map((p, i) => ({ partNumber: p.partNumber, etag: p.etag, ...digests(chunks[i]!) })),
      );
      expect(done.etag).not.toBe("");
      const head = await store.headObject(key);
      expect(head?.size).toBe(data.length);
      const url = await store.presignGet(key, { fileName: "multi part.bin", expiresInSeconds: 60 });
      const got = await fetch(url);
      expect(got.status).toBe(200);
      expect(got.headers.get("content-disposition")).toContain('filename="multi part.bin"');
      expect(sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(sha256Hex(data));
      await store.deleteObject(key);
    });

    it("aborts a multipart upload: its parts are gone and listing it says UPLOAD_GONE", async () => {
      const key = `${prefix}/aborted`;
      const chunk = randomBytes(2048);
      const uploadId = await store.createMultipartUpload(key);
      const req = await store.presignUploadPart(
        key,
        uploadId,
        { partNumber: 1, size: chunk.length, ...digests(chunk) },
        60,
      );
      expect((await put(req, chunk)).status).toBe(200);
      await store.abortMultipartUpload(key, uploadId);
      const err = await store.listParts(key, uploadId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("UPLOAD_GONE");
      expect(await store.headObject(key)).toBeUndefined();
    });

    it("refuses a part with one flipped byte, and takes the correct bytes on the same URL", async () => {
      const key = `${prefix}/damaged-part`;
      const chunk = randomBytes(64 * 1024);
      const uploadId = await store.createMultipartUpload(key);
      const req = await store.presignUploadPart(
        key,
        uploadId,
        { partNumber: 1, size: chunk.length, ...digests(chunk) },
        60,
      );
      const bad = await rawPut(req.url, req.headers, flipped(chunk, 777));
      expect(bad.status).toBe(400);
      expect(bad.text).toMatch(DIGEST_REFUSAL);
      expect(await store.listParts(key, uploadId)).toEqual([]);
      const good = await put(req, chunk);
      expect(good.status, good.text).toBe(200);
      expect((await store.listParts(key, uploadId)).map((p) => p.size)).toEqual([chunk.length]);
      await store.abortMultipartUpload(key, uploadId);
    });

    it("a part number uploaded twice: what storage lists and what Complete assembles", async () => {
      const key = `${prefix}/reupload`;
      const first = randomBytes(48 * 1024);
      const second = randomBytes(40 * 1024);
      const uploadId = await store.createMultipartUpload(key);
      const sent: string[] = [];
      for (const bytes of [first, second]) {
        const req = await store.presignUploadPart(
          key,
          uploadId,
          { partNumber: 1, size: bytes.length, ...digests(bytes) },
          60,
        );
        const r = await put(req, bytes);
        expect(r.status, r.text).toBe(200);
        sent.push(unquote(r.etag));
      }
      const [etagFirst, etagSecond] = sent as [string, string];
      expect(etagFirst).not.toBe(etagSecond);
      const listed = (await store.listParts(key, uploadId)).map((p) => ({
        size: p.size,
        etag: unquote(p.etag),
      }));
      const named = (etag: string, bytes: Uint8Array) => [{ partNumber: 1, etag, ...digests(bytes) }];
      let assembled: Uint8Array;
      if ((s.partReupload ?? s.profile.partReupload) === "replaces") {
        expect(listed).toEqual([{ size: second.length, etag: etagSecond }]);
        expect(unquote((await store.getPart(key, uploadId, 1))?.etag ?? "")).toBe(etagSecond);
        // The first upload is gone: naming it is refused, and the upload is still there to complete.
        await expect(store.completeMultipartUpload(key, uploadId, named(etagFirst, first))).rejects.toThrow();
        await store.completeMultipartUpload(key, uploadId, named(etagSecond, second));
        assembled = second;
      } else {
        // Both uploads are kept and listed (in no set order); Complete assembles the one it names.
        expect(listed.sort((a, b) => a.size - b.size)).toEqual([
          { size: second.length, etag: etagSecond },
          { size: first.length, etag: etagFirst },
        ]);
        expect(sent).toContain(unquote((await store.getPart(key, uploadId, 1))?.etag ?? ""));
        await store.completeMultipartUpload(key, uploadId, named(etagFirst, first));
        assembled = first;
      }
      expect((await store.headObject(key))?.size).toBe(assembled.length);
      const got = await fetch(await store.presignGet(key, { fileName: "r.bin", expiresInSeconds: 60 }));
      expect(sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(sha256Hex(assembled));
      await store.deleteObject(key);
    });

    it("stores a single presigned PUT, heads it, and deletes it (deleting again is no error)", async () => {
      const key = `${prefix}/single`;
      const bytes = randomBytes(10_000);
      const req = await store.presignPutObject(
        key,
        { size: bytes.length, contentType: "text/plain", ...digests(bytes) },
        60,
      );
      expect(req.headers["content-type"]).toBe("text/plain");
      const r = await put(req, bytes);
      expect(r.status, r.text).toBe(200);
      const head = await store.headObject(key);
      expect(head?.size).toBe(bytes.length);
      if (s.profile.partCheck === "md5") expect(unquote(head?.etag ?? "")).toBe(md5Hex(bytes));
      await store.deleteObject(key);
      expect(await store.headObject(key)).toBeUndefined();
      await expect(store.deleteObject(key)).resolves.toBeUndefined();
    });

    it("refuses a single PUT with one flipped byte; nothing is stored", async () => {
      const key = `${prefix}/damaged-single`;
      const bytes = randomBytes(32 * 1024);
      const req = await store.presignPutObject(key, { size: bytes.length, ...digests(bytes) }, 60);
      const bad = await rawPut(req.url, req.headers, flipped(bytes, 12));
      expect(bad.status).toBe(400);
      expect(bad.text).toMatch(DIGEST_REFUSAL);
      expect(await store.headObject(key)).toBeUndefined();
      expect((await put(req, bytes)).status).toBe(200);
      await store.deleteObject(key);
    });

    it("stores an empty object", async () => {
      const key = `${prefix}/empty`;
      await store.putEmptyObject(key, digests(new Uint8Array(0)));
      expect((await store.headObject(key))?.size).toBe(0);
      await store.deleteObject(key);
    });

    it("heads a key that does not exist as undefined", async () => {
      expect(await store.headObject(`${prefix}/never-written`)).toBeUndefined();
    });
  });
}
