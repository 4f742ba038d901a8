/**
 * The batch protocol end to end against versitygw and DynamoDB Local: create or find by digest, files
 * answered put → PUT straight to storage → complete checked against storage, dedupe, resume, cancel, and
 * refusals that change nothing.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EMPTY_SHA256_HEX } from "../../functions/core/checksums.js";
import { type Api, apiClient, sha256, tableSnapshot } from "../helpers/api.js";
import {
  createRequest,
  entry,
  file,
  isolatedStack,
  mustOk,
  type PutAnswer,
  putFile,
  s3Of,
  sendBatch,
  storedHash,
} from "../helpers/batch.js";

const stack = inject("stack");
let api: Api;
const s3 = s3Of(stack);
beforeAll(() => {
  api = apiClient(stack);
});
afterAll(() => s3.destroy());

const puts = (answers: { action: string }[]) => answers.filter((a) => a.action === "put") as PutAnswer[];

describe("a batch", () => {
  it("is created once per manifest digest: the same digest finds the same batch (resumed)", async () => {
    const files = [file("a.txt", 10), file("b/c.txt", 20)];
    const first = await mustOk(api.post("/batch", createRequest(files, { dirs: ["empty dir"] })));
    expect(first.resumed).toBe(false);
    expect(first.batchId).toMatch(/^bt_[0-9a-z]{26}$/);
    expect(first.batch).toMatchObject({ status: "open", fileCount: 2, totalBytes: 30, filesComplete: 0 });
    expect(first.maxSinglePutSize).toBeGreaterThan(0);
    const again = await mustOk(api.post("/batch", createRequest(files, { dirs: ["empty dir"] })));
    expect(again).toMatchObject({ batchId: first.batchId, resumed: true });
    const detail = await mustOk(api.get(`/api/batches/${first.batchId}`));
    expect(detail).toMatchObject({ id: first.batchId, dirs: ["empty dir"], status: "open" });
  });

  it("two concurrent creates of one manifest end with one batch", async () => {
    const files = [file("race.bin", 5)];
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => mustOk(api.post("/batch", createRequest(files)))),
    );
    expect(new Set(answers.map((a) => a.batchId)).size).toBe(1);
    expect(answers.filter((a) => !a.resumed)).toHaveLength(1);
  });

  it("of small files goes files → PUT → complete, and storage holds each file byte for byte", async () => {
    const files = [
      file("one.bin", 1),
      file("nested/deeper/two.bin", 64 * 1024),
      file("nested/three.bin", 300_000),
      file("é n/ünïcødé 文件.txt", 4096),
      file(".hidden", 7),
    ];
    const { created, completed } = await sendBatch(api, files);
    const answers = created.files as PutAnswer[];
    expect(answers.map((a) => [a.path, a.action, a.stored])).toEqual(
      files.map((f) => [f.path, "put", false]),
    );
    // Signed: the checksum is a header the PUT must carry, not a query parameter.
    for (const a of answers) {
      expect(a.put.headers["x-amz-checksum-sha256"]).toBeTruthy();
      expect(a.put.url).not.toMatch(/x-amz-checksum-sha256=/i);
    }
    expect(completed.files.map((f: { status: string }) => f.status)).toEqual(files.map(() => "complete"));
    expect(completed.batch).toMatchObject({
      status: "complete",
      filesComplete: files.length,
      bytesComplete: files.reduce((a, f) => a + f.data.length, 0),
    });
    expect(completed.batch.completedAt).toBeTruthy();
    for (const [i, f] of files.entries()) {
      const got = await storedHash(s3, stack, `objects/${answers[i]?.transferId}`);
      expect(got).toEqual({ sha256: sha256(f.data), size: f.data.length });
      const summary = await mustOk(api.get(`/api/files/${answers[i]?.transferId}`));
      expect(summary).toMatchObject({
        status: "complete",
        sha256: sha256(f.data),
        name: f.path.split("/").pop(),
      });
    }
  });

  it("complete without a PUT answers PART_NOT_STORED for that file, which stays uploading", async () => {
    const files = [file("sent.bin", 100), file("not-sent.bin", 100)];
    const created = await mustOk(
      api.post("/batch", { ...createRequest(files), files: files.map((f) => entry(f)) }),
    );
    const [sent, notSent] = puts(created.files);
    expect((await putFile(sent as PutAnswer, files[0]?.data as Buffer)).status).toBe(200);
    const r = await mustOk(
      api.post(`/batch/${created.batchId}/complete`, {
        files: [{ transferId: sent?.transferId }, { transferId: notSent?.transferId }],
      }),
    );
    expect(r.files[0]).toEqual({ transferId: sent?.transferId, status: "complete" });
    expect(r.files[1]).toMatchObject({
      transferId: notSent?.transferId,
      status: "uploading",
      error: { code: "PART_NOT_STORED" },
    });
    expect(r.batch).toMatchObject({ status: "open", filesComplete: 1 });
    expect((await mustOk(api.get(`/api/files/${notSent?.transferId}`))).status).toBe("uploading");
    // Completing the complete one again changes nothing and counts nothing twice.
    const again = await mustOk(
      api.post(`/batch/${created.batchId}/complete`, { files: [{ transferId: sent?.transferId }] }),
    );
    expect(again.files[0].status).toBe("complete");
    expect(again.batch.filesComplete).toBe(1);
  });

  it("storage refuses damaged bytes (BadDigest) and the file cannot be completed", async () => {
    const f = file("damaged.bin", 2048);
    const created = await mustOk(api.post("/batch", { ...createRequest([f]), files: [entry(f)] }));
    const [a] = puts(created.files);
    const bad = Buffer.from(f.data);
    bad[100] = (bad[100] ?? 0) ^ 1;
    const put = await putFile(a as PutAnswer, bad);
    expect(put.status).toBe(400);
    expect(put.text).toContain("BadDigest");
    const r = await mustOk(
      api.post(`/batch/${created.batchId}/complete`, { files: [{ transferId: a?.transferId }] }),
    );
    expect(r.files[0]).toMatchObject({ status: "uploading", error: { code: "PART_NOT_STORED" } });
  });

  it("a PUT of other bytes of the right length under the signed checksum is refused too", async () => {
    const f = file("swap.bin", 512);
    const created = await mustOk(api.post("/batch", { ...createRequest([f]), files: [entry(f)] }));
    const [a] = puts(created.files);
    const headers = { ...(a as PutAnswer).put.headers };
    delete headers["x-amz-checksum-sha256"];
    // Without the signed header the signature no longer matches.
    expect(
      (await putFile({ ...(a as PutAnswer), put: { ...(a as PutAnswer).put, headers } }, f.data)).status,
    ).toBe(403);
  });

  it("dedupes within a batch and across batches: the same content answers done, deduplicatedFrom set", async () => {
    const content = file("orig.bin", 5000).data;
    const first = await sendBatch(api, [{ path: "orig.bin", data: content }]);
    const origin = (first.created.files[0] as PutAnswer).transferId;
    // Within the first batch: another file of the same content, added later.
    const within = await mustOk(
      api.post(`/batch/${first.created.batchId}/files`, {
        files: [entry({ path: "copy.bin", data: content })],
      }),
    );
    expect(within.files[0]).toMatchObject({ action: "done", deduplicated: true, path: "copy.bin" });
    expect(within.files[0].file.deduplicatedFrom).toBe(origin);
    // Across batches.
    const other = [{ path: "elsewhere/same.bin", data: content }, file("new.bin", 10)];
    const second = await mustOk(
      api.post("/batch", { ...createRequest(other), files: other.map((f) => entry(f)) }),
    );
    expect(second.files[0]).toMatchObject({ action: "done", deduplicated: true, path: "elsewhere/same.bin" });
    expect(second.files[0].file).toMatchObject({
      status: "complete",
      deduplicatedFrom: origin,
      batchId: second.batchId,
      path: "elsewhere/same.bin",
    });
    expect(second.files[1].action).toBe("put");
    // The deduplicated file counts into its batch at once.
    expect(second.batch.filesComplete).toBe(1);
    const url = (await mustOk(api.get(`/download/${second.files[0].transferId}?redirect=false`))).url;
    expect(sha256(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(sha256(content));
  });

  it("empty files are complete at once and share one empty object", async () => {
    const files = [file("e1", 0), file("dir/e2", 0), file("x.bin", 3)];
    const created = await mustOk(
      api.post("/batch", { ...createRequest(files), files: files.map((f) => entry(f)) }),
    );
    expect(created.files.map((a: { action: string }) => a.action)).toEqual(["done", "done", "put"]);
    expect(created.files[0].file).toMatchObject({ status: "complete", size: 0, sha256: EMPTY_SHA256_HEX });
    expect(created.batch.filesComplete).toBe(2);
    const url = (await mustOk(api.get(`/download/${created.files[1].transferId}?redirect=false`))).url;
    expect((await (await fetch(url)).arrayBuffer()).byteLength).toBe(0);
  });

  it("resumes with resumeId: a complete file is done (no new record), a PUT not completed is stored:true", async () => {
    const files = [file("r/done.bin", 1000), file("r/put-only.bin", 1000), file("r/never.bin", 1000)];
    const run1 = await mustOk(
      api.post("/batch", { ...createRequest(files), files: files.map((f) => entry(f)) }),
    );
    const [done, putOnly, never] = puts(run1.files) as PutAnswer[];
    expect((await putFile(done as PutAnswer, files[0]?.data as Buffer)).status).toBe(200);
    expect((await putFile(putOnly as PutAnswer, files[1]?.data as Buffer)).status).toBe(200);
    await mustOk(api.post(`/batch/${run1.batchId}/complete`, { files: [{ transferId: done?.transferId }] }));
    // The sender was killed here. Run 2: same manifest, the journal's ids.
    const ids = [done, putOnly, never].map((a) => a?.transferId);
    const run2 = await mustOk(
      api.post("/batch", {
        ...createRequest(files),
        files: files.map((f, i) => entry(f, { resumeId: ids[i] })),
      }),
    );
    expect(run2.batchId).toBe(run1.batchId);
    expect(run2.resumed).toBe(true);
    expect(run2.files.map((a: { action: string; transferId: string }) => [a.action, a.transferId])).toEqual([
      ["done", ids[0]],
      ["put", ids[1]],
      ["put", ids[2]],
    ]);
    expect(run2.files[1].stored).toBe(true);
    expect(run2.files[2].stored).toBe(false);
    // Only the missing file is sent; the stored one is completed as it is.
    expect((await putFile(run2.files[2], files[2]?.data as Buffer)).status).toBe(200);
    const fin = await mustOk(
      api.post(`/batch/${run1.batchId}/complete`, {
        files: [{ transferId: ids[1] }, { transferId: ids[2] }],
      }),
    );
    expect(fin.files.map((f: { status: string }) => f.status)).toEqual(["complete", "complete"]);
    expect(fin.batch).toMatchObject({ status: "complete", filesComplete: 3 });
    const listed = await mustOk(api.get(`/api/batches/${run1.batchId}/files`));
    expect(listed.items.map((f: { id: string }) => f.id).sort()).toEqual([...ids].sort());
  });

  it("without the journal, a complete file of the batch is found by its content: done, no second record", async () => {
    const files = [file("nj/a.bin", 321)];
    const run1 = await sendBatch(api, files);
    const run2 = await mustOk(
      api.post("/batch", { ...createRequest(files), files: files.map((f) => entry(f)) }),
    );
    expect(run2.files[0]).toMatchObject({ action: "done", transferId: run1.created.files[0].transferId });
    const listed = await mustOk(api.get(`/api/batches/${run2.batchId}/files`));
    expect(listed.items).toHaveLength(1);
  });

  it("a resumeId whose content changed: the old transfer is aborted and a new one takes its path", async () => {
    const before = file("changes.bin", 100);
    const run1 = await mustOk(api.post("/batch", { ...createRequest([before]), files: [entry(before)] }));
    const oldId = run1.files[0].transferId;
    const after = file("changes.bin", 100); // same size, other bytes: the same manifest
    const run2 = await mustOk(
      api.post("/batch", { ...createRequest([after]), files: [entry(after, { resumeId: oldId })] }),
    );
    expect(run2.batchId).toBe(run1.batchId);
    expect(run2.files[0].action).toBe("put");
    expect(run2.files[0].transferId).not.toBe(oldId);
    expect((await mustOk(api.get(`/api/files/${oldId}`))).status).toBe("aborted");
    const listed = await mustOk(api.get(`/api/batches/${run1.batchId}/files`));
    expect(listed.items.map((f: { id: string }) => f.id)).toEqual([run2.files[0].transferId]);
  });

  it("is cancelled: every unfinished file aborted, the batch aborted; a complete one stays", async () => {
    const files = [file("c/1.bin", 10), file("c/2.bin", 20), file("c/3.bin", 30)];
    const created = await mustOk(
      api.post("/batch", { ...createRequest(files), files: files.map((f) => entry(f)) }),
    );
    const [a, b] = puts(created.files);
    await putFile(a as PutAnswer, files[0]?.data as Buffer);
    await mustOk(api.post(`/batch/${created.batchId}/complete`, { files: [{ transferId: a?.transferId }] }));
    await putFile(b as PutAnswer, files[1]?.data as Buffer); // sent, never completed
    const r = await mustOk(api.del(`/batch/${created.batchId}`));
    expect(r.aborted).toBe(2);
    expect(r.batch.status).toBe("aborted");
    const statuses = (await mustOk(api.get(`/api/batches/${created.batchId}/files`))).items.map(
      (f: { status: string }) => f.status,
    );
    expect(statuses).toEqual(["complete", "aborted", "aborted"]);
    // Storage let go of the object sent but never completed; the complete one is kept.
    await expect(storedHash(s3, stack, `objects/${b?.transferId}`)).rejects.toThrow();
    expect((await storedHash(s3, stack, `objects/${a?.transferId}`)).size).toBe(10);
    // Adding to a cancelled batch is refused; the same manifest sent again starts a new batch.
    expect(
      (await api.post(`/batch/${created.batchId}/files`, { files: [entry(file("late", 1))] })).status,
    ).toBe(409);
    const again = await mustOk(api.post("/batch", createRequest(files)));
    expect(again.resumed).toBe(false);
    expect(again.batchId).not.toBe(created.batchId);
  });
});

describe("refusals change nothing", () => {
  // Its own coordinator and table: nothing another test file does lands in the snapshots.
  let own: Awaited<ReturnType<typeof isolatedStack>>;
  let iso: Api;
  const snapshot = () => tableSnapshot(own.info);
  beforeAll(async () => {
    own = await isolatedStack(stack, "sfts-test-batch-refusals");
    iso = apiClient(own.info);
  });
  afterAll(() => own.close());

  const bad: [string, Record<string, unknown>][] = [
    ["..", { path: "a/../b" }],
    ["absolute", { path: "/etc/passwd" }],
    ["NUL", { path: "a\u0000b" }],
    ["backslash", { path: "a\\b" }],
    ["drive letter", { path: "C:/x" }],
    ["empty segment", { path: "a//b" }],
  ];
  for (const [why, override] of bad)
    it(`a path that is ${why} is refused with 400`, async () => {
      const good = file("fine.bin", 10);
      const before = await snapshot();
      const r = await iso.post("/batch", {
        ...createRequest([good, good]),
        files: [entry(good), { ...entry(good), ...override }],
      });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("INVALID_INPUT");
      expect(await snapshot()).toBe(before);
    });

  it("as are duplicate paths, a single PUT over the limit, a wrong empty SHA-256, a bad media type, bad parts", async () => {
    const created = await mustOk(iso.post("/batch", createRequest([file("z", 1)])));
    const before = await snapshot();
    const f = file("dup.bin", 10);
    const mp = { path: "mp", size: 20 * 1024 * 1024, sha256: "b".repeat(64) };
    const cases: [string, unknown[]][] = [
      ["duplicate path", [entry(f), entry(f)]],
      [
        "single over the limit",
        [{ path: "big", size: 65 * 1024 * 1024, sha256: "a".repeat(64), upload: "single" }],
      ],
      ["empty with another SHA-256", [{ path: "empty", size: 0, sha256: "a".repeat(64) }]],
      ["not a media type", [entry(f, { contentType: "not a type" })]],
      [
        "first part under 5 MiB",
        [entry(f), { ...mp, parts: [{ partNumber: 1, offset: 0, size: 1024, sha256: "c".repeat(64) }] }],
      ],
    ];
    for (const [what, files] of cases) {
      const r = await iso.post(`/batch/${created.batchId}/files`, { files });
      expect([what, r.status]).toEqual([what, 400]);
    }
    const tooMany = await iso.post("/batch", { ...createRequest([f]), fileCount: 0, files: [entry(f)] });
    expect(tooMany.status).toBe(400);
    expect(await snapshot()).toBe(before);
  });

  it("an unknown batch answers 404, a file of another batch cannot be completed through this one", async () => {
    const o1 = file("o1", 3);
    const one = await mustOk(iso.post("/batch", { ...createRequest([o1]), files: [entry(o1)] }));
    const two = await mustOk(iso.post("/batch", createRequest([file("o2", 4)])));
    const before = await snapshot();
    const unknown = "bt_00000000000000000000000000";
    expect((await iso.get(`/api/batches/${unknown}`)).status).toBe(404);
    expect((await iso.get(`/api/batches/${unknown}/files`)).status).toBe(404);
    expect((await iso.del(`/batch/${unknown}`)).status).toBe(404);
    expect((await iso.post(`/batch/${unknown}/files`, { files: [entry(file("q", 1))] })).status).toBe(404);
    const r = await iso.post(`/batch/${two.batchId}/complete`, {
      files: [{ transferId: one.files[0].transferId }],
    });
    expect(r.status).toBe(404);
    expect(await snapshot()).toBe(before);
  });
});
