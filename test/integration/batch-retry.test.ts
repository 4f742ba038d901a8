/**
 * A batch's files call sent again after its answer was lost (no resumeId: the sender never saw the
 * first answer): every entry meets the record the first call wrote, so the batch lists one record per
 * path and counts each file once, for single PUTs (before and after their bytes went), empty files,
 * dedupe hits and multipart files.
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient, MiB, planParts } from "../helpers/api.js";
import { createRequest, entry, file, mustOk, type PutAnswer, putFile, sendBatch } from "../helpers/batch.js";

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

describe("a files call sent twice (the first answer lost)", () => {
  it("ends with one record per path, each file counted once", async () => {
    // Content stored by an earlier batch: the new batch's entry of it is a dedupe hit.
    const stored = file("elsewhere/orig.bin", 777);
    await sendBatch(api, [stored]);

    const sent = file("r/sent-before-retry.bin", 1000);
    const later = file("r/sent-after-retry.bin", 2000);
    const empty = file("r/empty.txt", 0);
    const dup = file("r/dup.bin", stored.data);
    const big = file("r/big.bin", 11 * MiB);
    const files = [sent, later, empty, dup, big];
    const parts = planParts(big.data, [6 * MiB, 5 * MiB]);
    const created = await mustOk(api.post("/batch", createRequest(files)));
    const id = created.batchId as string;
    const body = {
      files: [
        entry(sent),
        entry(later),
        entry(empty),
        entry(dup),
        entry(big, { upload: "multipart", parts }),
      ],
    };

    const first = (await mustOk(api.post(`/batch/${id}/files`, body))).files;
    expect(first.map((a: { action: string }) => a.action)).toEqual([
      "put",
      "put",
      "done",
      "done",
      "multipart",
    ]);
    // One file's bytes went before the answer was lost.
    expect((await putFile(first[0] as PutAnswer, sent.data)).status).toBe(200);

    const second = (await mustOk(api.post(`/batch/${id}/files`, body))).files;
    expect(second.map((a: { transferId: string }) => a.transferId)).toEqual(
      first.map((a: { transferId: string }) => a.transferId),
    );
    expect(second.map((a: { action: string }) => a.action)).toEqual([
      "put",
      "put",
      "done",
      "done",
      "multipart",
    ]);
    expect(second[0]).toMatchObject({ stored: true });
    expect(second[1]).toMatchObject({ stored: false });
    expect(second[3]).toMatchObject({ deduplicated: true });
    expect(second[4].init).toMatchObject({ resumed: true });

    // The sender goes on with the second answer.
    expect((await putFile(second[1] as PutAnswer, later.data)).status).toBe(200);
    const done = await mustOk(
      api.post(`/batch/${id}/complete`, {
        files: [{ transferId: second[0].transferId }, { transferId: second[1].transferId }],
      }),
    );
    expect(done.files.map((f: { status: string }) => f.status)).toEqual(["complete", "complete"]);
    const records = [];
    for (const p of parts) {
      const signed = (second[4].init.presigned as Presigned[]).find((s) => s.partNumber === p.partNumber);
      if (!signed) throw new Error(`part ${p.partNumber} not presigned`);
      const r = await fetch(signed.url, {
        method: "PUT",
        headers: signed.headers,
        body: big.data.subarray(p.offset, p.offset + p.size),
      });
      expect(r.status).toBe(200);
      records.push({ ...p, etag: r.headers.get("etag") ?? "" });
    }
    expect((await mustOk(api.post(`/assemble/${second[4].transferId}`, { parts: records }))).status).toBe(
      "complete",
    );

    const listed = await mustOk(api.get(`/api/batches/${id}/files`));
    const paths = listed.items.map((f: { path: string }) => f.path).sort();
    expect(paths).toEqual(files.map((f) => f.path).sort());
    expect(listed.items.map((f: { status: string }) => f.status)).toEqual(files.map(() => "complete"));
    const batch = await mustOk(api.get(`/api/batches/${id}`));
    expect(batch).toMatchObject({
      status: "complete",
      filesComplete: files.length,
      bytesComplete: files.reduce((a, f) => a + f.data.length, 0),
      filesFailed: 0,
    });
  });

  it("a single PUT given up on and then aborted is replaced by one new record, not listed twice", async () => {
    const f = file("ab/x.bin", 500);
    const created = await mustOk(api.post("/batch", createRequest([f])));
    const id = created.batchId as string;
    const body = { files: [entry(f)] };
    const first = (await mustOk(api.post(`/batch/${id}/files`, body))).files[0];
    expect((await api.del(`/upload/${first.transferId}`)).status).toBe(200);
    const second = (await mustOk(api.post(`/batch/${id}/files`, body))).files[0];
    expect(second.action).toBe("put");
    expect(second.transferId).not.toBe(first.transferId);
    expect((await putFile(second as PutAnswer, f.data)).status).toBe(200);
    const done = await mustOk(
      api.post(`/batch/${id}/complete`, { files: [{ transferId: second.transferId }] }),
    );
    expect(done.batch).toMatchObject({ status: "complete", filesComplete: 1 });
    const listed = await mustOk(api.get(`/api/batches/${id}/files`));
    expect(listed.items.map((t: { id: string }) => t.id)).toEqual([second.transferId]);
  });

  it("an entry replacing a complete file (changed since) counts once when its call is sent again", async () => {
    const before = file("ch/file.bin", 600);
    const run1 = await sendBatch(api, [before]);
    const old = run1.created.files[0].transferId as string;
    const after = file("ch/file.bin", 600); // same path and size: same manifest, other content
    const body = { ...createRequest([after]), files: [entry(after, { resumeId: old })] };
    const first = (await mustOk(api.post("/batch", body))).files[0];
    const second = (await mustOk(api.post("/batch", body))).files[0];
    expect(second).toMatchObject({ action: "put", transferId: first.transferId });
    expect(second.transferId).not.toBe(old);
    expect((await putFile(second as PutAnswer, after.data)).status).toBe(200);
    const done = await mustOk(
      api.post(`/batch/${run1.created.batchId}/complete`, { files: [{ transferId: second.transferId }] }),
    );
    expect(done.batch).toMatchObject({ status: "complete", filesComplete: 1, bytesComplete: 600 });
    const listed = await mustOk(api.get(`/api/batches/${run1.created.batchId}/files`));
    expect(listed.items.map((t: { id: string }) => t.id)).toEqual([second.transferId]);
  });
});
