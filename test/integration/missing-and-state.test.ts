import { AbortMultipartUploadCommand, ListPartsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient, initTransfer, MiB, planParts, randomFile, sendParts } from "../helpers/api.js";

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

describe("reconciliation of a part replaced behind the coordinator's back", () => {
  it("forgets the record, reports the range missing again, and fixes the counters", async () => {
    const data = randomFile(11 * MiB);
    const parts = planParts(data, [5 * MiB, 6 * MiB]);
    const { transferId: id } = await initTransfer(api, data);
    await sendParts(api, id, data, parts);
    const { UploadPartCommand } = await import("@aws-sdk/client-s3");
    const other = randomFile(6 * MiB);
    await s3.send(
      new UploadPartCommand({
        Bucket: stack.bucket,
        ...(await keyOf(id)),
        PartNumber: 2,
        Body: other,
        ChecksumAlgorithm: "SHA256",
      }),
    );
    const r = await api.get(`/upload/missing/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.missing).toEqual([{ offset: 5 * MiB, size: 6 * MiB, firstPart: 2, lastPart: 10000 }]);
    expect(r.body.partsDone).toBe(1);
    expect(r.body.bytesDone).toBe(5 * MiB);
    // Sending the right bytes again repairs it.
    await sendParts(api, id, data, [parts[1]!]);
    expect((await api.post(`/assemble/${id}`)).body.status).toBe("complete");
  });
});

describe("assemble checks storage, not its own records", () => {
  it("refuses (409 CHECKSUM_MISMATCH) when storage holds other bytes for a recorded part, and asks for it again", async () => {
    const data = randomFile(11 * MiB);
    const parts = planParts(data, [5 * MiB, 6 * MiB]);
    const { transferId: id } = await initTransfer(api, data);
    await sendParts(api, id, data, parts);
    const { UploadPartCommand } = await import("@aws-sdk/client-s3");
    await s3.send(
      new UploadPartCommand({
        Bucket: stack.bucket,
        ...(await keyOf(id)),
        PartNumber: 1,
        Body: randomFile(5 * MiB),
        ChecksumAlgorithm: "SHA256",
      }),
    );
    const r = await api.post(`/assemble/${id}`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("CHECKSUM_MISMATCH");
    expect(r.body.error.details).toEqual({ parts: [1] });
    const m = await api.get(`/upload/missing/${id}`);
    expect(m.body.status).toBe("uploading");
    expect(m.body.missing).toEqual([{ offset: 0, size: 5 * MiB, firstPart: 1, lastPart: 1 }]);
    await sendParts(api, id, data, [parts[0]!]);
    expect((await api.post(`/assemble/${id}`)).body.status).toBe("complete");
  });

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
