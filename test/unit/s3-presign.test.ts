/**
 * The direct SigV4 presigner gives, at the same instant, byte for byte the URL the SDK's presigner gives
 * for the same PutObject / UploadPart (path style and virtual host), with the checksum a signed header
 * that is never hoisted into the query. No I/O: signing is local.
 */
import { PutObjectCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { S3ObjectStore } from "../../functions/adapters/s3-store.js";

const sha = Buffer.alloc(32, 7).toString("base64");
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
const client = (endpoint?: string) =>
  new S3Client({
    region: "eu-west-3",
    forcePathStyle: endpoint !== undefined,
    ...(endpoint !== undefined && { endpoint }),
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
const keep = { unhoistableHeaders: new Set(["x-amz-checksum-sha256"]) };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-03-04T05:06:07Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

describe("S3 presigning", () => {
  for (const [style, endpoint] of [
    ["path style", "http://127.0.0.1:7070"],
    ["virtual host", undefined],
  ] as const) {
    it(`a PutObject URL is the SDK's, ${style}, content-type and checksum signed`, async () => {
      const c = client(endpoint);
      const key = "objects/tr_0a b/ü(1)*.txt";
      const got = await new S3ObjectStore(c, "bkt").presignPutObject(
        key,
        { size: 1234, sha256Base64: sha, contentType: "text/plain" },
        600,
      );
      const want = await getSignedUrl(
        c,
        new PutObjectCommand({
          Bucket: "bkt",
          Key: key,
          ContentLength: 1234,
          ChecksumSHA256: sha,
          ContentType: "text/plain",
        }),
        { ...keep, expiresIn: 600, signableHeaders: new Set(["content-length", "content-type"]) },
      );
      expect(got.url).toBe(want);
      expect(got.headers).toEqual({
        "x-amz-checksum-sha256": sha,
        "content-length": "1234",
        "content-type": "text/plain",
      });
      const q = new URL(got.url).searchParams;
      expect(q.get("X-Amz-SignedHeaders")).toBe("content-length;content-type;host;x-amz-checksum-sha256");
      expect(got.url).not.toMatch(/x-amz-checksum-sha256=/i);
      expect(new URL(got.url).host).toBe(endpoint ? "127.0.0.1:7070" : "bkt.s3.eu-west-3.amazonaws.com");
    });

    it(`an UploadPart URL is the SDK's, ${style}`, async () => {
      const c = client(endpoint);
      const got = await new S3ObjectStore(c, "bkt").presignUploadPart(
        "objects/tr_big",
        "upload+id/=",
        { partNumber: 42, size: 8 * 1024 * 1024, sha256Base64: sha },
        900,
      );
      const want = await getSignedUrl(
        c,
        new UploadPartCommand({
          Bucket: "bkt",
          Key: "objects/tr_big",
          UploadId: "upload+id/=",
          PartNumber: 42,
          ContentLength: 8 * 1024 * 1024,
          ChecksumSHA256: sha,
        }),
        { ...keep, expiresIn: 900, signableHeaders: new Set(["content-length"]) },
      );
      expect(got.url).toBe(want);
      expect(got.headers).toEqual({
        "x-amz-checksum-sha256": sha,
        "content-length": String(8 * 1024 * 1024),
      });
      expect(new URL(got.url).searchParams.get("X-Amz-SignedHeaders")).toBe(
        "content-length;host;x-amz-checksum-sha256",
      );
    });
  }

  it("signs with what the client's credential provider gives", async () => {
    let asked = 0;
    const c = new S3Client({
      region: "us-east-1",
      forcePathStyle: true,
      endpoint: "http://127.0.0.1:7070",
      credentials: async () => {
        asked++;
        return { accessKeyId: "AKPROVIDED", secretAccessKey: "provided" };
      },
    });
    const got = await new S3ObjectStore(c, "bkt").presignPutObject("k", { size: 1, sha256Base64: sha }, 60);
    expect(asked).toBeGreaterThan(0);
    expect(new URL(got.url).searchParams.get("X-Amz-Credential")).toMatch(/^AKPROVIDED\//);
    const want = await getSignedUrl(
      c,
      new PutObjectCommand({ Bucket: "bkt", Key: "k", ContentLength: 1, ChecksumSHA256: sha }),
      { ...keep, expiresIn: 60, signableHeaders: new Set(["content-length"]) },
    );
    expect(got.url).toBe(want);
  });
});
