/**
 * Multipart files of a batch: the batch's files call delegates them to the transfer service's
 * find-or-create init (first parts presigned in the answer); they finish through POST /assemble/{id}
 * or through the batch's complete call, and either way count into the batch.
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient, MiB, planParts, rawPut, sha256 } from "../helpers/api.js";
import { createRequest, entry, file, mustOk, type PutAnswer, putFile } from "../helpers/batch.js";

const stack = inject("stack");
let api: Api;
beforeAll(() => {
  api = apiClient(stack);
});

interface Presigned {
  partNumber: number;
  url: string;
  headers: Record<string, string>;
}

/** PUTs the planned parts with the presigned URLs of an init answer; returns the part records. */
async function putParts(data: Buffer, parts: ReturnType<typeof planParts>, presigned: Presigned[]) {
  const records = [];
  for (const p of parts) {
    const signed = presigned.find((s) => s.partNumber === p.partNumber) as Presigned;
    const r = await fetch(signed.url, {
      method: "PUT",
      headers: signed.headers,
      body: data.subarray(p.offset, p.offset + p.size),
    });
    expect(r.status).toBe(200);
    records.push({ ...p, etag: r.headers.get("etag") ?? "" });
  }
  return records;
}

/**
 * A batch of one 12 MiB multipart file in two 6 MiB parts, of which the first is PUT and recorded: the
 * run a resume goes on from.
 */
async function firstPartSent(big: ReturnType<typeof file>) {
  const parts = planParts(big.data, [6 * MiB, 6 * MiB]);
  const run1 = await mustOk(
    api.post("/batch", { ...createRequest([big]), files: [entry(big, { upload: "multipart", parts })] }),
  );
  const first = run1.files[0];
  const [rec1] = await putParts(big.data, parts.slice(0, 1), first.init.presigned);
  await mustOk(api.post(`/upload/${first.transferId}/parts/done`, { parts: [rec1] }));
  return { parts, run1, first };
}

describe("a multipart file of a batch", () => {
  it("gets an init answer with its first parts presigned, assembles, and counts into the batch", async () => {
    const big = file("videos/big.bin", 12 * MiB);
    const small = file("notes.txt", 100);
    const parts = planParts(big.data, [6 * MiB, 6 * MiB]);
    const created = await mustOk(
      api.post("/batch", {
        ...createRequest([big, small]),
        files: [entry(big, { upload: "multipart", parts }), entry(small)],
      }),
    );
    const [mp, single] = created.files;
    expect(mp.action).toBe("multipart");
    expect(mp.init).toMatchObject({ status: "uploading", resumed: false });
    expect(mp.init.file).toMatchObject({
      batchId: created.batchId,
      path: "videos/big.bin",
      upload: "multipart",
    });
    expect(mp.init.presigned.map((p: Presigned) => p.partNumber)).toEqual([1, 2]);
    const records = await putParts(big.data, parts, mp.init.presigned);

    expect((await putFile(single as PutAnswer, small.data)).status).toBe(200);
    const half = await mustOk(
      api.post(`/batch/${created.batchId}/complete`, { files: [{ transferId: single.transferId }] }),
    );
    expect(half.batch).toMatchObject({ status: "open", filesComplete: 1 });

    const assembled = await mustOk(api.post(`/assemble/${mp.transferId}`, { parts: records }));
    expect(assembled.status).toBe("complete");
    const b = await mustOk(api.get(`/api/batches/${created.batchId}`));
    expect(b).toMatchObject({ status: "complete", filesComplete: 2, bytesComplete: 12 * MiB + 100 });
    const url = (await mustOk(api.get(`/download/${mp.transferId}?redirect=false`))).url;
    expect(sha256(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(sha256(big.data));
  });

  it("completes through the batch's complete call once its parts are recorded, counted once", async () => {
    const big = file("a/big.bin", 11 * MiB);
    const parts = planParts(big.data, [6 * MiB, 5 * MiB]);
    const created = await mustOk(
      api.post("/batch", { ...createRequest([big]), files: [entry(big, { upload: "multipart", parts })] }),
    );
    const mp = created.files[0];
    const records = await putParts(big.data, parts, mp.init.presigned);
    await mustOk(api.post(`/upload/${mp.transferId}/parts/done`, { parts: records }));
    const r = await mustOk(
      api.post(`/batch/${created.batchId}/complete`, { files: [{ transferId: mp.transferId }] }),
    );
    expect(r.files).toEqual([{ transferId: mp.transferId, status: "complete" }]);
    expect(r.batch).toMatchObject({ status: "complete", filesComplete: 1, bytesComplete: 11 * MiB });
    // Again: already complete, not counted twice.
    const again = await mustOk(
      api.post(`/batch/${created.batchId}/complete`, { files: [{ transferId: mp.transferId }] }),
    );
    expect(again.batch.filesComplete).toBe(1);
  });

  it("not ready to assemble: the file's answer says why, the call succeeds", async () => {
    const big = file("b/big.bin", 11 * MiB);
    const created = await mustOk(
      api.post("/batch", { ...createRequest([big]), files: [entry(big, { upload: "multipart" })] }),
    );
    const id = created.files[0].transferId;
    const r = await mustOk(api.post(`/batch/${created.batchId}/complete`, { files: [{ transferId: id }] }));
    expect(r.files[0]).toMatchObject({
      transferId: id,
      status: "uploading",
      error: { code: "PARTS_MISSING" },
    });
  });

  it("resumes with resumeId: the same transfer, the parts sent so far recorded, only the rest presigned", async () => {
    const big = file("c/big.bin", 12 * MiB);
    const { parts, run1, first } = await firstPartSent(big);
    const run2 = await mustOk(
      api.post("/batch", {
        ...createRequest([big]),
        files: [entry(big, { upload: "multipart", parts, resumeId: first.transferId })],
      }),
    );
    expect(run2.resumed).toBe(true);
    const again = run2.files[0];
    expect(again).toMatchObject({ action: "multipart", transferId: first.transferId });
    expect(again.init.resumed).toBe(true);
    expect(again.init.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1]);
    expect(again.init.presigned.map((p: Presigned) => p.partNumber)).toEqual([2]);
    const [rec2] = await putParts(big.data, parts.slice(1), again.init.presigned);
    expect((await mustOk(api.post(`/assemble/${first.transferId}`, { parts: [rec2] }))).status).toBe(
      "complete",
    );
    expect((await mustOk(api.get(`/api/batches/${run1.batchId}`))).status).toBe("complete");
  });

  it("resumes by content without a resumeId (another machine): the same transfer, only the rest sent", async () => {
    const big = file("d/big.bin", 12 * MiB);
    const { parts, run1, first } = await firstPartSent(big);
    // Part 2's PUT is cut half way (the page was closed): storage holds nothing of it.
    const p2 = first.init.presigned.find((s: Presigned) => s.partNumber === 2) as Presigned;
    const cut = new AbortController();
    const second = parts[1] as { offset: number };
    const body = new ReadableStream({
      start(c) {
        c.enqueue(big.data.subarray(second.offset, second.offset + MiB));
        setTimeout(() => cut.abort(), 200);
      },
    });
    await fetch(p2.url, {
      method: "PUT",
      headers: p2.headers,
      body,
      duplex: "half",
      signal: cut.signal,
    } as RequestInit).catch(() => {});
    const run2 = await mustOk(
      api.post("/batch", { ...createRequest([big]), files: [entry(big, { upload: "multipart", parts })] }),
    );
    expect(run2).toMatchObject({ resumed: true, batchId: run1.batchId });
    const again = run2.files[0];
    expect(again).toMatchObject({ action: "multipart", transferId: first.transferId });
    expect(again.init.resumed).toBe(true);
    expect(again.init.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1]);
    expect(again.init.presigned.map((p: Presigned) => p.partNumber)).toEqual([2]);
  });

  it("a file in the part size goes as one PUT by default; a bigger one as multipart", async () => {
    const f8 = file("exactly-8MiB.bin", 8 * MiB);
    const f9 = file("over.bin", 8 * MiB + 1);
    const created = await mustOk(
      api.post("/batch", { ...createRequest([f8, f9]), files: [entry(f8), entry(f9)] }),
    );
    expect(created.files.map((a: { action: string }) => a.action)).toEqual(["put", "multipart"]);
    const put = await rawPut(created.files[0].put.url, created.files[0].put.headers, f8.data);
    expect(put.status).toBe(200);
  });
});
