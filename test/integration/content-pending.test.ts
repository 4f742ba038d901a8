/**
 * Uploads that start before their SHA-256 is known (content pending), against the real emulators: an init
 * or a batch entry without sha256 starts an upload and presigns its first parts; assembly is refused until
 * the content is named; naming it answers continue (recorded, findable, checked at assembly), done (stored
 * already: the new multipart upload is released in storage, the file points at the stored copy) or switch
 * (an unfinished upload of the same content goes on; the new one is given up and released).
 */
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { manifestText } from "../../functions/contract/batches.js";
import { type Api, apiClient, MiB, type PlannedPart, planParts, randomFile, sha256 } from "../helpers/api.js";

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

type Signed = { partNumber: number; url: string; headers: Record<string, string> };

async function put(data: Buffer, p: PlannedPart, signed: Signed) {
  expect(signed.partNumber).toBe(p.partNumber);
  const r = await fetch(signed.url, {
    method: "PUT",
    headers: signed.headers,
    body: data.subarray(p.offset, p.offset + p.size),
  });
  expect(r.status).toBe(200);
  return { ...p, etag: r.headers.get("etag") ?? "" };
}

/** Multipart uploads storage still holds for a transfer's own object. */
async function uploadsOf(id: string): Promise<number> {
  const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: stack.bucket, Prefix: `objects/${id}` }));
  return (r.Uploads ?? []).filter((u) => u.Key === `objects/${id}`).length;
}

async function download(id: string): Promise<Buffer> {
  const d = await api.get(`/download/${id}?redirect=false`);
  expect(d.status).toBe(200);
  return Buffer.from(await (await fetch(d.body.url)).arrayBuffer());
}

/** A pending upload of `data` with part 1 PUT and recorded. */
async function pendingWithFirstPart(data: Buffer, name: string) {
  const parts = planParts(data, [5 * MiB, data.length - 5 * MiB]);
  const init = await api.post("/upload/init", { name, size: data.length, parts: [parts[0]] });
  expect(init.status).toBe(200);
  expect(init.body).toMatchObject({ status: "uploading", resumed: false, deduplicated: false });
  expect(init.body.file.sha256).toBe("");
  expect(init.body.presigned.map((s: Signed) => s.partNumber)).toEqual([1]);
  const id = init.body.transferId as string;
  const r1 = await put(data, parts[0] as PlannedPart, init.body.presigned[0]);
  expect((await api.post(`/upload/${id}/parts/done`, { parts: [r1] })).status).toBe(200);
  return { id, parts };
}

describe("an upload whose content is pending", () => {
  it("starts at once; assembly waits for its SHA-256; named, it is recorded, findable and checked", async () => {
    const data = randomFile(5 * MiB + 4321);
    const { id, parts } = await pendingWithFirstPart(data, "pending.bin");
    // Nothing finds it by content yet.
    const found = await api.get(`/api/files?status=uploading&sha256=${sha256(data)}&size=${data.length}`);
    expect(found.body.items.map((t: { id: string }) => t.id)).not.toContain(id);

    const p2 = await api.post(`/upload/${id}/parts`, { parts: [parts[1]] });
    const r2 = await put(data, parts[1] as PlannedPart, p2.body.parts[0]);
    const early = await api.post(`/assemble/${id}`, { parts: [r2] });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe("CONTENT_PENDING");
    expect(early.body.error.message).toMatch(/no SHA-256 yet/);

    const named = await api.post(`/upload/${id}/content`, { sha256: sha256(data) });
    expect(named.status).toBe(200);
    expect(named.body).toMatchObject({ action: "continue", transferId: id });
    expect(named.body.file.sha256).toBe(sha256(data));
    // Asked again (an answer lost): the same answer.
    expect((await api.post(`/upload/${id}/content`, { sha256: sha256(data) })).body.action).toBe("continue");
    const now = await api.get(`/api/files?status=uploading&sha256=${sha256(data)}&size=${data.length}`);
    expect(now.body.items.map((t: { id: string }) => t.id)).toContain(id);

    const done = await api.post(`/assemble/${id}`, { parts: [r2] });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: "complete", sha256: sha256(data) });
    expect((await download(id)).equals(data)).toBe(true);
    // Complete: another content for it is refused; the same is done.
    const other = await api.post(`/upload/${id}/content`, { sha256: sha256(randomFile(10)) });
    expect(other.status).toBe(409);
    expect((await api.post(`/upload/${id}/content`, { sha256: sha256(data) })).body.action).toBe("done");
  });

  it("stored already: done, its multipart upload released in storage, the file points at the copy", async () => {
    const data = randomFile(5 * MiB + 99);
    const first = await pendingWithFirstPart(data, "stored.bin");
    await api.post(`/upload/${first.id}/content`, { sha256: sha256(data) });
    const p2 = await api.post(`/upload/${first.id}/parts`, { parts: [first.parts[1]] });
    const r2 = await put(data, first.parts[1] as PlannedPart, p2.body.parts[0]);
    expect((await api.post(`/assemble/${first.id}`, { parts: [r2] })).status).toBe(200);

    const { id } = await pendingWithFirstPart(data, "again.bin");
    expect(await uploadsOf(id)).toBe(1);
    const named = await api.post(`/upload/${id}/content`, { sha256: sha256(data) });
    expect(named.status).toBe(200);
    expect(named.body).toMatchObject({ action: "done", transferId: id, deduplicated: true });
    expect(await uploadsOf(id)).toBe(0);
    const info = await api.get(`/api/files/${id}`);
    expect(info.body).toMatchObject({
      status: "complete",
      deduplicatedFrom: first.id,
      sha256: sha256(data),
      bytesDone: data.length,
      parts: [],
    });
    expect((await download(id)).equals(data)).toBe(true);
  });

  it("an unfinished upload of the same content: switch to it; the new one is given up and released", async () => {
    const data = randomFile(10 * MiB + 5);
    const parts = planParts(data, [5 * MiB, 5 * MiB, 5]);
    const old = await api.post("/upload/init", {
      name: "old.bin",
      size: data.length,
      sha256: sha256(data),
      parts: [parts[0]],
    });
    const oldId = old.body.transferId as string;
    const r1 = await put(data, parts[0] as PlannedPart, old.body.presigned[0]);
    await api.post(`/upload/${oldId}/parts/done`, { parts: [r1] });

    const { id } = await pendingWithFirstPart(data, "new.bin");
    const named = await api.post(`/upload/${id}/content`, { sha256: sha256(data) });
    expect(named.status).toBe(200);
    expect(named.body).toMatchObject({ action: "switch", transferId: oldId });
    expect(named.body.init).toMatchObject({ transferId: oldId, resumed: true, status: "uploading" });
    expect(named.body.init.missing).toEqual([
      { offset: 5 * MiB, size: data.length - 5 * MiB, firstPart: 2, lastPart: 10_000 },
    ]);
    const given = await api.get(`/api/files/${id}`);
    expect(given.body.status).toBe("aborted");
    expect(given.body.lastError).toContain(oldId);
    expect(await uploadsOf(id)).toBe(0);
    // Asked again (the answer lost): the same switch.
    expect((await api.post(`/upload/${id}/content`, { sha256: sha256(data) })).body).toMatchObject({
      action: "switch",
      transferId: oldId,
    });
  });
});

describe("a batch entry whose content is pending", () => {
  it("goes multipart with its first parts presigned; a single PUT without sha256 is refused", async () => {
    const data = randomFile(9 * MiB);
    const parts = planParts(data, [5 * MiB]);
    const files = [{ path: "big/one.bin", size: data.length }];
    const body = {
      name: "pending-batch",
      digest: sha256(Buffer.from(manifestText(files))),
      fileCount: 1,
      totalBytes: data.length,
    };
    const refused = await api.post("/batch", {
      ...body,
      files: [{ path: "big/one.bin", size: data.length, upload: "single" }],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/sent in parts/);
    const r = await api.post("/batch", {
      ...body,
      files: [{ path: "big/one.bin", size: data.length, upload: "multipart", parts }],
    });
    expect(r.status).toBe(200);
    const a = r.body.files[0];
    expect(a).toMatchObject({ action: "multipart", path: "big/one.bin" });
    expect(a.init.presigned.map((s: Signed) => s.partNumber)).toEqual([1]);
    expect(a.init.file).toMatchObject({ sha256: "", batchId: r.body.batchId, path: "big/one.bin" });
    // The same entry again, with its resumeId: the same upload goes on.
    const again = await api.post(`/batch/${r.body.batchId}/files`, {
      files: [{ path: "big/one.bin", size: data.length, upload: "multipart", resumeId: a.transferId }],
    });
    expect(again.body.files[0]).toMatchObject({ action: "multipart", transferId: a.transferId });
    expect(again.body.files[0].init.resumed).toBe(true);
    // Without its resumeId (no journal), the upload whose content was never named cannot be trusted to
    // hold this file: a new one replaces it, and the path lists one upload.
    const blind = await api.post(`/batch/${r.body.batchId}/files`, {
      files: [{ path: "big/one.bin", size: data.length, upload: "multipart" }],
    });
    const fresh = blind.body.files[0];
    expect(fresh.action).toBe("multipart");
    expect(fresh.transferId).not.toBe(a.transferId);
    expect((await api.get(`/api/files/${a.transferId}`)).body.status).toBe("aborted");
    const listed = await api.get(`/api/batches/${r.body.batchId}/files`);
    expect(listed.body.items.map((t: { id: string }) => t.id)).toEqual([fresh.transferId]);
    await api.del(`/upload/${fresh.transferId}`);
  });
});
