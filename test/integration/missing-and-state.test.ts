import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import {
  type Api,
  apiClient,
  initTransfer,
  MiB,
  planParts,
  randomFile,
  sendParts,
  sha256,
} from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
const s3 = new S3Client({
  endpoint: stack.s3Endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: {
    accessKeyId: stack.env.SFTS_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: stack.env.SFTS_S3_SECRET_ACCESS_KEY ?? "",
  },
});
beforeAll(() => {
  api = apiClient(stack);
});
afterAll(() => s3.destroy());
const md5Hex = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const unquote = (etag: string) => etag.replace(/"/g, "");

/** The coordinator's own record of where the upload lives (tests may look behind the API). */
async function uploadOf(id: string) {
  const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  const { DynamoDBDocumentClient, GetCommand } = await import("@aws-sdk/lib-dynamodb");
  const ddb = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.dynamodbEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
  );
  const r = await ddb.send(new GetCommand({ TableName: stack.table, Key: { PK: `T#${id}`, SK: "META" } }));
  ddb.destroy();
  return r.Item as { objectKey: string; uploadId: string };
}

describe("missing ranges and assembly with gaps", () => {
  const sizes = [5 * MiB, 5 * MiB, 3 * MiB];
  const data = randomFile(13 * MiB);
  const parts = planParts(data, sizes);
  let id: string;

  it("after parts 1 and 3 of 3, missing reports exactly part 2's byte range", async () => {
    id = (await initTransfer(api, data)).transferId;
    await sendParts(api, id, data, [parts[0]!, parts[2]!]);
    const r = await api.get(`/upload/missing/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.missing).toEqual([{ offset: 5 * MiB, size: 5 * MiB, firstPart: 2, lastPart: 2 }]);
    expect(r.body.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1, 3]);
  });

  it("assemble before part 2 is stored answers 409 naming part 2", async () => {
    const r = await api.post(`/assemble/${id}`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("PARTS_MISSING");
    expect(r.body.error.message).toContain("part 2 (bytes 5242880–10485759)");
  });

  it("a part stored but not reported done is still missing; reporting it twice counts it once", async () => {
    await sendParts(api, id, data, [parts[1]!], false);
    expect((await api.get(`/upload/missing/${id}`)).body.missing).toHaveLength(1);
    const etag = (
      await s3.send(new ListPartsCommand({ Bucket: stack.bucket, ...(await keyOf(id)) }))
    ).Parts?.find((p) => p.PartNumber === 2)?.ETag;
    const body = { offset: parts[1]!.offset, size: parts[1]!.size, sha256: parts[1]!.sha256, etag };
    const [a, b] = await Promise.all([
      api.post(`/upload/${id}/parts/2/done`, body),
      api.post(`/upload/${id}/parts/2/done`, body),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.body.recorded, b.body.recorded].sort()).toEqual(["existing", "new"]);
    const m = await api.get(`/upload/missing/${id}`);
    expect(m.body.missing).toEqual([]);
    expect(m.body.partsDone).toBe(3);
    expect(m.body.bytesDone).toBe(13 * MiB);
  });

  it("then assembles", async () => {
    const r = await api.post(`/assemble/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("complete");
  });

  it("presigning after completion answers 409", async () => {
    const r = await api.post(`/upload/${id}/parts`, { parts: [parts[0]] });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("INVALID_STATE");
    expect(r.body.error.message).toContain("complete");
  });
});

async function keyOf(id: string) {
  const { objectKey, uploadId } = await uploadOf(id);
  return { Key: objectKey, UploadId: uploadId };
}

describe("abort", () => {
  it("aborts, releases storage, refuses further parts, and is idempotent", async () => {
    const data = randomFile(6 * MiB);
    const { transferId: id } = await initTransfer(api, data);
    await sendParts(api, id, data, planParts(data, [6 * MiB]));
    const where = await keyOf(id);
    const r = await api.del(`/upload/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("aborted");
    await expect(s3.send(new ListPartsCommand({ Bucket: stack.bucket, ...where }))).rejects.toMatchObject({
      name: "NoSuchUpload",
    });
    expect((await api.post(`/upload/${id}/parts`, { parts: planParts(data, [6 * MiB]) })).status).toBe(409);
    expect((await api.post(`/assemble/${id}`)).status).toBe(409);
    const again = await api.del(`/upload/${id}`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe("aborted");
    expect((await api.get(`/api/files/${id}`)).body.status).toBe("aborted");
  });

  it("refuses to abort a complete transfer", async () => {
    const data = randomFile(1000);
    const { transferId: id } = await initTransfer(api, data);
    await sendParts(api, id, data, planParts(data, [1000]));
    expect((await api.post(`/assemble/${id}`)).status).toBe(200);
    const r = await api.del(`/upload/${id}`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("INVALID_STATE");
  });
});

describe("reconciliation with storage", () => {
  it("an upload that vanished from storage is reported gone (410) and the transfer marked failed", async () => {
    const data = randomFile(6 * MiB);
    const { transferId: id } = await initTransfer(api, data);
    await sendParts(api, id, data, planParts(data, [6 * MiB]));
    // Storage loses the upload behind the coordinator's back (lifecycle rule, operator, another tool).
    await s3.send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, ...(await keyOf(id)) }));
    const r = await api.get(`/upload/missing/${id}`);
    expect(r.status).toBe(410);
    expect(r.body.error.code).toBe("UPLOAD_GONE");
    expect((await api.get(`/api/files/${id}`)).body.status).toBe("failed");
  });
});

/**
 * What an UploadPart of a number already uploaded does on this server (its profile's partReupload):
 * S3 "replaces" the part; SeaweedFS "keeps-each" upload, lists them all, and assembles the one whose ETag
 * CompleteMultipartUpload names. The coordinator's checks are the same on both (any entry that matches
 * the record); these tests show what each server's behaviour means for a transfer.
 */
const profile = loadConfig(stack.env).storage.profile;
const reupload = profile.partReupload;

/** The entries storage lists for part n of a transfer's upload (ETags unquoted). */
async function storedEntries(id: string, n: number) {
  const r = await s3.send(new ListPartsCommand({ Bucket: stack.bucket, ...(await keyOf(id)) }));
  return (r.Parts ?? [])
    .filter((p) => p.PartNumber === n)
    .map((p) => ({ size: p.Size, etag: (p.ETag ?? "").replace(/"/g, "") }));
}

/** The SHA-256 of the object a complete transfer stored, read back through its download URL. */
async function storedSha256(id: string): Promise<string> {
  const d = await api.get(`/download/${id}?redirect=false`);
  expect(d.status).toBe(200);
  return sha256(Buffer.from(await (await fetch(d.body.url)).arrayBuffer()));
}

/** An UploadPart behind the coordinator's back (another tool, an operator). */
async function uploadBehindBack(id: string, partNumber: number, body: Buffer) {
  await s3.send(
    new UploadPartCommand({
      Bucket: stack.bucket,
      ...(await keyOf(id)),
      PartNumber: partNumber,
      Body: body,
      ChecksumAlgorithm: "SHA256",
    }),
  );
}

describe(`reconciliation of a part uploaded again behind the coordinator's back (${profile.name}: ${reupload})`, () => {
  it(
    reupload === "replaces"
      ? "forgets the record, reports the range missing again, and fixes the counters"
      : "keeps the record (storage still holds the recorded bytes) and assembles the recorded bytes",
    async () => {
      const data = randomFile(11 * MiB);
      const parts = planParts(data, [5 * MiB, 6 * MiB]);
      const { transferId: id } = await initTransfer(api, data);
      const [, recordedEtag] = await sendParts(api, id, data, parts);
      const other = randomFile(6 * MiB);
      await uploadBehindBack(id, 2, other);
      const entries = await storedEntries(id, 2);
      const r = await api.get(`/upload/missing/${id}`);
      expect(r.status).toBe(200);
      if (reupload === "replaces") {
        expect(entries).toEqual([{ size: 6 * MiB, etag: md5Hex(other) }]);
        expect(r.body.missing).toEqual([{ offset: 5 * MiB, size: 6 * MiB, firstPart: 2, lastPart: 10000 }]);
        expect(r.body.partsDone).toBe(1);
        expect(r.body.bytesDone).toBe(5 * MiB);
        // Sending the right bytes again repairs it.
        await sendParts(api, id, data, [parts[1]!]);
      } else {
        // Both uploads of part 2 are listed; the recorded one is among them, so nothing is missing.
        expect(entries).toHaveLength(2);
        expect(entries.map((e) => e.etag).sort()).toEqual([md5Hex(other), unquote(recordedEtag!)].sort());
        expect(r.body.missing).toEqual([]);
        expect(r.body.partsDone).toBe(2);
        expect(r.body.bytesDone).toBe(11 * MiB);
      }
      const done = await api.post(`/assemble/${id}`);
      expect(done.body.status).toBe("complete");
      expect(done.body.sha256).toBe(sha256(data));
      expect(await storedSha256(id)).toBe(sha256(data));
    },
  );

  it("a part re-sent at another size (a gap re-split on resume) is judged by the upload it recorded", async () => {
    const data = randomFile(16 * MiB);
    const { transferId: id } = await initTransfer(api, data);
    const [first, crashed] = planParts(data, [5 * MiB, 6 * MiB]);
    await sendParts(api, id, data, [first!]);
    // Part 2 as [5 MiB, 11 MiB) reached storage, but the sender crashed before recording it.
    await sendParts(api, id, data, [crashed!], false);
    // The resumed sender cuts the gap [5 MiB, 16 MiB) otherwise: part 2 is [5 MiB, 10 MiB), part 3 the rest.
    const resplit = planParts(data, [5 * MiB, 5 * MiB, 6 * MiB]).slice(1);
    const [etag2] = await sendParts(api, id, data, [resplit[0]!]);
    const entries = await storedEntries(id, 2);
    if (reupload === "replaces") expect(entries).toEqual([{ size: 5 * MiB, etag: unquote(etag2!) }]);
    else
      expect(entries.sort((a, b) => (a.size ?? 0) - (b.size ?? 0))).toEqual([
        { size: 5 * MiB, etag: unquote(etag2!) },
        { size: 6 * MiB, etag: md5Hex(data.subarray(5 * MiB, 11 * MiB)) },
      ]);
    const m = await api.get(`/upload/missing/${id}`);
    expect(m.body.parts.map((p: { partNumber: number; size: number }) => [p.partNumber, p.size])).toEqual([
      [1, 5 * MiB],
      [2, 5 * MiB],
    ]);
    expect(m.body.missing).toEqual([{ offset: 10 * MiB, size: 6 * MiB, firstPart: 3, lastPart: 10000 }]);
    await sendParts(api, id, data, [resplit[1]!]);
    const done = await api.post(`/assemble/${id}`);
    expect(done.body.status).toBe("complete");
    expect(await storedSha256(id)).toBe(sha256(data));
  });
});

describe("assemble checks storage, not its own records", () => {
  it(
    reupload === "replaces"
      ? "refuses (409 CHECKSUM_MISMATCH) when storage holds other bytes for a recorded part, and asks for it again"
      : "completes with the recorded bytes when storage also holds other bytes for a recorded part",
    async () => {
      const data = randomFile(11 * MiB);
      const parts = planParts(data, [5 * MiB, 6 * MiB]);
      const { transferId: id } = await initTransfer(api, data);
      await sendParts(api, id, data, parts);
      const other = randomFile(5 * MiB);
      await uploadBehindBack(id, 1, other);
      expect(await storedEntries(id, 1)).toHaveLength(reupload === "replaces" ? 1 : 2);
      const r = await api.post(`/assemble/${id}`);
      if (reupload === "replaces") {
        expect(r.status).toBe(409);
        expect(r.body.error.code).toBe("CHECKSUM_MISMATCH");
        expect(r.body.error.details).toEqual({ parts: [1] });
        const m = await api.get(`/upload/missing/${id}`);
        expect(m.body.status).toBe("uploading");
        expect(m.body.missing).toEqual([{ offset: 0, size: 5 * MiB, firstPart: 1, lastPart: 1 }]);
        await sendParts(api, id, data, [parts[0]!]);
        expect((await api.post(`/assemble/${id}`)).body.status).toBe("complete");
      } else {
        // CompleteMultipartUpload named the recorded ETag: storage assembled the recorded bytes.
        expect(r.status).toBe(200);
        expect(r.body.status).toBe("complete");
      }
      expect(await storedSha256(id)).toBe(sha256(data));
    },
  );

  it("finishes the record when storage completed the upload but the coordinator died before saying so", async () => {
    const data = randomFile(7 * MiB);
    const parts = planParts(data, [5 * MiB, 2 * MiB]);
    const { transferId: id } = await initTransfer(api, data);
    const etags = await sendParts(api, id, data, parts);
    const { CompleteMultipartUploadCommand } = await import("@aws-sdk/client-s3");
    // The first assemble got as far as CompleteMultipartUpload (here done behind its back) and crashed.
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: stack.bucket,
        ...(await keyOf(id)),
        MultipartUpload: {
          Parts: parts.map((p, i) => ({
            PartNumber: p.partNumber,
            ETag: etags[i],
            ChecksumSHA256: Buffer.from(p.sha256, "hex").toString("base64"),
          })),
        },
      }),
    );
    const r = await api.post(`/assemble/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("complete");
    const d = await api.get(`/download/${id}?redirect=false`);
    const got = Buffer.from(await (await fetch(d.body.url)).arrayBuffer());
    expect(got.equals(data)).toBe(true);
  });
});
