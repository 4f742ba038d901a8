/**
 * The lean upload protocol against the real emulators: find-or-create init (by content, by resumeId) with
 * the first parts presigned, records carried on presign and assemble or sent in bulk, stored parts nobody
 * recorded found again without a resend, giving up (fail, fail + abort), sharded stats and the writes a
 * part costs (counted on the coordinator's own DynamoDB client).
 */

import { createHash } from "node:crypto";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { HeadObjectCommand, ListPartsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { DynamoCall } from "../../functions/adapters/clients.js";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import { manifestText } from "../../functions/contract/batches.js";
import type { TransferRecord, TransferRepo } from "../../functions/core/ports.js";
import { type EndedStatus, TransferService } from "../../functions/core/transfer-service.js";
import { ensureTable } from "../../local/bootstrap.js";
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

// A coordinator of its own on a table of its own (same emulators), whose DynamoDB requests are counted and
// whose stats no other test moves.
const calls: DynamoCall[] = [];
const ownConfig = loadConfig({ ...stack.env, SFTS_TABLE: "sfts-test-lean", SFTS_STATS_FLUSH_MS: "60000" });
const own = createCoordinator(ownConfig, undefined, { onDynamoCall: (c) => calls.push(c) });

beforeAll(async () => {
  api = apiClient(stack);
  await ensureTable(own.adapters.dynamodb, ownConfig.table);
});
afterAll(() => {
  s3.destroy();
  own.adapters.destroy();
});

type Signed = { partNumber: number; url: string; headers: Record<string, string> };

/** PUTs a part to its presigned URL (straight to storage) and returns the record to send for it. */
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

const initBody = (data: Buffer, extra: Record<string, unknown> = {}) => ({
  name: "lean.bin",
  size: data.length,
  sha256: sha256(data),
  ...extra,
});

async function download(id: string): Promise<Buffer> {
  const d = await api.get(`/download/${id}?redirect=false`);
  expect(d.status).toBe(200);
  return Buffer.from(await (await fetch(d.body.url)).arrayBuffer());
}

describe("init presigns the first parts; records ride on presign and assemble", () => {
  it("a new upload misses the whole file, its first parts PUT at once, and completes in three calls", async () => {
    const data = randomFile(5 * MiB + 1000);
    const parts = planParts(data, [5 * MiB, 1000]);
    const init = await api.post("/upload/init", initBody(data, { parts }));
    expect(init.status).toBe(200);
    expect(init.body).toMatchObject({ status: "uploading", resumed: false, deduplicated: false, parts: [] });
    expect(init.body.missing).toEqual([{ offset: 0, size: data.length, firstPart: 1, lastPart: 10_000 }]);
    expect(init.body.unrecorded).toEqual([]);
    expect(init.body.presigned.map((s: Signed) => s.partNumber)).toEqual([1, 2]);
    const id = init.body.transferId as string;
    const [r1, r2] = await Promise.all(parts.map((p, i) => put(data, p, init.body.presigned[i])));

    // Part 1's record rides on a presign call (here asking for nothing more).
    const pre = await api.post(`/upload/${id}/parts`, { parts: [], done: [r1] });
    expect(pre.status).toBe(200);
    expect(pre.body).toMatchObject({
      parts: [],
      recorded: [{ partNumber: 1, recorded: "new" }],
      partsDone: 1,
    });
    expect(pre.body.bytesDone).toBe(5 * MiB);

    // Part 2's record rides on the assemble.
    const done = await api.post(`/assemble/${id}`, { parts: [r2] });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: "complete", partsDone: 2, bytesDone: data.length });
    expect((await download(id)).equals(data)).toBe(true);
  });

  it("a presign whose records storage does not back is refused whole and records nothing", async () => {
    const data = randomFile(5 * MiB + 10);
    const parts = planParts(data, [5 * MiB, 10]);
    const init = await api.post("/upload/init", initBody(data, { parts: [parts[0]] }));
    const id = init.body.transferId as string;
    const r1 = await put(data, parts[0] as PlannedPart, init.body.presigned[0]);
    const bad = await api.post(`/upload/${id}/parts`, {
      parts: [parts[1]],
      done: [{ ...r1, etag: '"0123456789abcdef0123456789abcdef"' }],
    });
    expect(bad.status).toBe(409);
    expect(bad.body.error.code).toBe("PART_NOT_STORED");
    const info = await api.get(`/api/files/${id}`);
    expect(info.body).toMatchObject({ partsDone: 0, bytesDone: 0, parts: [] });
    // The same call with the true ETag records part 1 and presigns part 2.
    const good = await api.post(`/upload/${id}/parts`, { parts: [parts[1]], done: [r1] });
    expect(good.status).toBe(200);
    expect(good.body.recorded).toEqual([{ partNumber: 1, recorded: "new" }]);
    expect(good.body.parts.map((s: Signed) => s.partNumber)).toEqual([2]);
    // Recording it again is idempotent ("existing"), also in bulk.
    const again = await api.post(`/upload/${id}/parts/done`, { parts: [r1] });
    expect(again.body).toMatchObject({ recorded: [{ partNumber: 1, recorded: "existing" }], partsDone: 1 });
    // An empty assemble body (a JSON type and no bytes) assembles as a missing one: here, parts are missing.
    const early = await fetch(`${stack.apiUrl}/assemble/${id}`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/json" },
      body: "",
    });
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe("PARTS_MISSING");
    await api.del(`/upload/${id}`);
  });
});

describe("find-or-create by content", () => {
  it("a second init of the same content resumes it: recorded parts, missing ranges, the rest presigned", async () => {
    const data = randomFile(10 * MiB + 1024);
    const parts = planParts(data, [5 * MiB, 5 * MiB, 1024]);
    const first = await api.post("/upload/init", initBody(data, { parts: [parts[0]] }));
    const id = first.body.transferId as string;
    const r1 = await put(data, parts[0] as PlannedPart, first.body.presigned[0]);
    expect((await api.post(`/upload/${id}/parts/done`, { parts: [r1] })).status).toBe(200);

    // Another run (no journal): same content, asks for every part.
    const again = await api.post("/upload/init", initBody(data, { name: "again.bin", parts }));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      transferId: id,
      resumed: true,
      status: "uploading",
      deduplicated: false,
    });
    expect(again.body.parts).toEqual([{ partNumber: 1, offset: 0, size: 5 * MiB, sha256: parts[0]?.sha256 }]);
    expect(again.body.missing).toEqual([
      { offset: 5 * MiB, size: data.length - 5 * MiB, firstPart: 2, lastPart: 10_000 },
    ]);
    expect(again.body.unrecorded).toEqual([]);
    // Part 1 is recorded: only parts 2 and 3 are presigned.
    expect(again.body.presigned.map((s: Signed) => s.partNumber)).toEqual([2, 3]);
    const rest = await Promise.all(
      [parts[1], parts[2]].map((p, i) => put(data, p as PlannedPart, again.body.presigned[i])),
    );
    // Bulk record of k parts: one call.
    const bulk = await api.post(`/upload/${id}/parts/done`, { parts: rest });
    expect(bulk.status).toBe(200);
    expect(bulk.body).toEqual({
      recorded: [
        { partNumber: 2, recorded: "new" },
        { partNumber: 3, recorded: "new" },
      ],
      partsDone: 3,
      bytesDone: data.length,
    });
    const done = await api.post(`/assemble/${id}`);
    expect(done.body.status).toBe("complete");
    expect((await download(id)).equals(data)).toBe(true);
    // Complete now: a third init is a dedupe, not a resume.
    const third = await api.post("/upload/init", initBody(data));
    expect(third.body).toMatchObject({ status: "complete", deduplicated: true, resumed: false });
  });

  it("resumeId names which of two open uploads of one content to go on with; batch files keep their own", async () => {
    const data = randomFile(5 * MiB + 77);
    const base = { name: "b.bin", size: data.length, sha256: sha256(data), priority: "normal" as const };
    const bt = (c: string) => `bt_${c.repeat(26)}`;
    // Two batches send the same content: each file gets its own upload (a batch never takes another's).
    const a = await own.service.init({ ...base, batchId: bt("a"), path: "x/a.bin" });
    const b = await own.service.init({ ...base, batchId: bt("b"), path: "y/b.bin" });
    expect(b.transferId).not.toBe(a.transferId);
    expect(a.file).toMatchObject({ batchId: bt("a"), path: "x/a.bin", upload: "multipart" });
    // The same file of batch a again: its own upload.
    const a2 = await own.service.init({ ...base, batchId: bt("a"), path: "x/a.bin" });
    expect(a2).toMatchObject({ transferId: a.transferId, resumed: true });
    // A plain init with resumeId goes on with that one, without resumeId with the newest.
    const byId = await own.service.init({ ...base, resumeId: a.transferId });
    expect(byId).toMatchObject({ transferId: a.transferId, resumed: true });
    const byContent = await own.service.init({ ...base });
    expect(byContent).toMatchObject({ transferId: b.transferId, resumed: true });
    // A resumeId of other content is not taken.
    const other = randomFile(6 * MiB);
    const o = await own.service.init({ ...base, size: other.length, sha256: sha256(other) });
    const wrong = await own.service.init({ ...base, resumeId: o.transferId });
    expect(wrong.transferId).not.toBe(o.transferId);
    for (const id of [a.transferId, b.transferId, o.transferId]) await own.service.abort(id);
  });
});

/**
 * An unrecorded part is offered to the client only when storage vouches for its bytes: ListParts gives its
 * SHA-256 (the profile's listPartsChecksum). Where it does not (SeaweedFS), none is offered and the client
 * sends those ranges again: each test shows what its server does.
 */
const listsChecksums = loadConfig(stack.env).storage.profile.listPartsChecksum;
const uploadIdOf = (signed: Signed) => new URL(signed.url).searchParams.get("uploadId") ?? "";

describe("a stored part nobody recorded (a crash between PUT and record)", () => {
  it("is reported with its offset by missing and by a resumed init, then recorded without a resend (or sent again where storage gives no SHA-256)", async () => {
    const data = randomFile(10 * MiB + 5000);
    const parts = planParts(data, [5 * MiB, 5 * MiB, 5000]);
    const init = await api.post("/upload/init", initBody(data, { parts }));
    const id = init.body.transferId as string;
    const records = await Promise.all(parts.map((p, i) => put(data, p, init.body.presigned[i])));
    // Only part 1 was recorded before the sender died.
    await api.post(`/upload/${id}/parts/done`, { parts: [records[0]] });

    if (!listsChecksums) {
      // Storage holds parts 2 and 3 but says nothing of their SHA-256: nothing is offered, they go again.
      const listed = await s3.send(
        new ListPartsCommand({
          Bucket: stack.bucket,
          Key: `objects/${id}`,
          UploadId: uploadIdOf(init.body.presigned[0]),
        }),
      );
      expect([...new Set((listed.Parts ?? []).map((p) => p.PartNumber))].sort()).toEqual([1, 2, 3]);
      expect((listed.Parts ?? []).every((p) => p.ChecksumSHA256 === undefined)).toBe(true);
      const m = await api.get(`/upload/missing/${id}`);
      expect(m.body.unrecorded).toEqual([]);
      expect(m.body.missing).toEqual([
        { offset: 5 * MiB, size: data.length - 5 * MiB, firstPart: 2, lastPart: 10_000 },
      ]);
      const again = await api.post(`/upload/${id}/parts`, { parts: [parts[1], parts[2]] });
      const resent = await Promise.all(
        [parts[1], parts[2]].map((p, i) => put(data, p as PlannedPart, again.body.parts[i])),
      );
      expect((await api.post(`/assemble/${id}`, { parts: resent })).body.status).toBe("complete");
      expect((await download(id)).equals(data)).toBe(true);
      return;
    }

    const expected = [parts[1], parts[2]].map((p, i) => ({
      partNumber: p?.partNumber,
      offset: p?.offset,
      size: p?.size,
      sha256: p?.sha256,
      etag: records[i + 1]?.etag.replace(/"/g, ""),
    }));
    const m = await api.get(`/upload/missing/${id}`);
    expect(m.status).toBe(200);
    expect(m.body.unrecorded).toEqual(expected);
    expect(m.body.missing).toEqual([
      { offset: 5 * MiB, size: data.length - 5 * MiB, firstPart: 2, lastPart: 10_000 },
    ]);
    const resumed = await api.post("/upload/init", initBody(data));
    expect(resumed.body).toMatchObject({ transferId: id, resumed: true, unrecorded: expected });

    // The client hashed its file at those offsets, the SHA-256s match: it records them, sends nothing.
    const rec = await api.post(`/upload/${id}/parts/done`, {
      parts: m.body.unrecorded.map((u: Record<string, unknown>) => ({ ...u })),
    });
    expect(rec.status).toBe(200);
    expect(rec.body.partsDone).toBe(3);
    expect((await api.get(`/upload/missing/${id}`)).body).toMatchObject({ missing: [], unrecorded: [] });
    expect((await api.post(`/assemble/${id}`)).body.status).toBe("complete");
    expect((await download(id)).equals(data)).toBe(true);
  });

  it("is left out when the part before it is not stored (its offset is unknown)", async () => {
    const data = randomFile(10 * MiB + 10);
    const parts = planParts(data, [5 * MiB, 5 * MiB, 10]);
    const init = await api.post("/upload/init", initBody(data, { parts: [parts[0], parts[2]] }));
    const id = init.body.transferId as string;
    const r1 = await put(data, parts[0] as PlannedPart, init.body.presigned[0]);
    await put(data, parts[2] as PlannedPart, init.body.presigned[1]);
    // Part 1 stored, not recorded, part 2 never sent, part 3 stored.
    const m = await api.get(`/upload/missing/${id}`);
    if (!listsChecksums) {
      // Nothing is offered where storage gives no SHA-256, whatever the offsets.
      expect(m.body.unrecorded).toEqual([]);
      await api.del(`/upload/${id}`);
      return;
    }
    expect(m.body.unrecorded.map((u: { partNumber: number }) => u.partNumber)).toEqual([1]);
    expect(m.body.unrecorded[0]).toMatchObject({ offset: 0, size: 5 * MiB, etag: r1.etag.replace(/"/g, "") });
    await api.del(`/upload/${id}`);
  });
});

describe("giving up", () => {
  it("fail: the transfer is failed with the reason, shown in its timeline; resumable by its id only", async () => {
    const data = randomFile(5 * MiB + 3);
    const init = await api.post("/upload/init", initBody(data));
    const id = init.body.transferId as string;
    const reason = "the file changed while it was being sent";
    const r = await api.post(`/upload/${id}/fail`, { reason });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ transferId: id, status: "failed" });
    const info = await api.get(`/api/files/${id}`);
    expect(info.body).toMatchObject({ status: "failed", lastError: reason });
    expect(info.body).not.toHaveProperty("etaSeconds");
    const events = (await api.get(`/api/files/${id}/events`)).body.items as {
      kind: string;
      message: string;
    }[];
    expect(events.map((e) => e.kind)).toEqual(["created", "failed"]);
    expect(events[1]?.message).toContain(reason);
    // Idempotent; a later init of the content without its id starts a new upload…
    expect((await api.post(`/upload/${id}/fail`, { reason })).body.status).toBe("failed");
    const next = await api.post("/upload/init", initBody(data));
    expect(next.body.resumed).toBe(false);
    expect(next.body.transferId).not.toBe(id);
    await api.del(`/upload/${next.body.transferId}`);
    // …and one with its id (the sender's journal) goes on with it: the upload stayed in storage.
    const back = await api.post("/upload/init", initBody(data, { resumeId: id }));
    expect(back.body).toMatchObject({ transferId: id, resumed: true, status: "uploading" });
    expect((await api.get(`/api/files/${id}`)).body.status).toBe("uploading");
    expect((await api.post(`/upload/${id}/fail`, { reason: "again" })).body.status).toBe("failed");
    // Bad bodies are refused.
    expect((await api.post(`/upload/${id}/fail`, {})).status).toBe(400);
  });

  it("fail with abort releases storage and ends aborted; a complete transfer cannot be given up", async () => {
    const data = randomFile(5 * MiB + 4);
    const parts = planParts(data, [5 * MiB, 4]);
    const init = await api.post("/upload/init", initBody(data, { parts: [parts[0]] }));
    const id = init.body.transferId as string;
    await put(data, parts[0] as PlannedPart, init.body.presigned[0]);
    const r = await api.post(`/upload/${id}/fail`, { reason: "disk unreadable", abort: true });
    expect(r.body).toEqual({ transferId: id, status: "aborted" });
    expect((await api.get(`/api/files/${id}`)).body).toMatchObject({
      status: "aborted",
      lastError: "disk unreadable",
    });
    const url = new URL(init.body.presigned[0].url);
    const uploadId = url.searchParams.get("uploadId") ?? "";
    await expect(
      s3.send(new ListPartsCommand({ Bucket: stack.bucket, Key: `objects/${id}`, UploadId: uploadId })),
    ).rejects.toThrow();

    const tiny = randomFile(10);
    const small = await api.post("/upload/init", initBody(tiny, { parts: planParts(tiny, [10]) }));
    const sid = small.body.transferId as string;
    const rec = await put(tiny, planParts(tiny, [10])[0] as PlannedPart, small.body.presigned[0]);
    await api.post(`/assemble/${sid}`, { parts: [rec] });
    const refused = await api.post(`/upload/${sid}/fail`, { reason: "too late" });
    expect(refused.status).toBe(409);
    expect((await api.get(`/api/files/${sid}`)).body.status).toBe("complete");
  });
});

describe("a single-PUT file of a batch", () => {
  it("has no parts to presign or record, and fail with abort deletes its object", async () => {
    const body = randomFile(3000);
    const file = { path: `single/${sha256(body).slice(0, 8)}.bin`, size: body.length, sha256: sha256(body) };
    const digest = createHash("sha256")
      .update(manifestText([file]))
      .digest("hex");
    const created = await api.post("/batch", {
      name: "single",
      digest,
      fileCount: 1,
      totalBytes: body.length,
      files: [file],
    });
    expect(created.status).toBe(200);
    const answer = created.body.files[0];
    expect(answer.action).toBe("put");
    const id = answer.transferId as string;
    expect((await fetch(answer.put.url, { method: "PUT", headers: answer.put.headers, body })).status).toBe(
      200,
    );
    const spec = { partNumber: 1, offset: 0, size: body.length, sha256: sha256(body) };
    for (const r of [
      await api.post(`/upload/${id}/parts`, { parts: [spec] }),
      await api.post(`/upload/${id}/parts/done`, { parts: [{ ...spec, etag: "x" }] }),
      await api.get(`/upload/missing/${id}`),
      await api.post(`/assemble/${id}`),
    ]) {
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe("INVALID_STATE");
    }
    const r = await api.post(`/upload/${id}/fail`, { reason: "cancelled", abort: true });
    expect(r.body).toEqual({ transferId: id, status: "aborted" });
    // Storage had the object (the PUT above); it is gone now.
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: `objects/${id}` })),
    ).rejects.toThrow();
  });
});

describe("writes that scale (own coordinator and table, writes counted)", () => {
  const ownStats = () => own.service.stats();

  it("a part costs at most 2 item writes; stats and series are not written per part", async () => {
    const svc = own.service;
    const data = randomFile(15 * MiB + 100);
    const parts = planParts(data, [5 * MiB, 5 * MiB, 5 * MiB, 100]);
    await svc.flushStats();
    const mark = calls.length;
    const init = await svc.init({ ...initBody(data), priority: "normal", parts });
    const id = init.transferId;
    const recs = await Promise.all(parts.map((p, i) => put(data, p, init.presigned[i] as Signed)));
    await svc.presignParts(id, [], recs.slice(0, 3));
    await svc.assemble(id, { parts: recs.slice(3) });
    const written = calls.slice(mark).flatMap((c) => itemsWritten(c));
    const mine = written.filter((k) => k.startsWith(`T#${id}|`));
    const partWrites = mine.filter((k) => k.includes("|P#")).length;
    const metaWrites = mine.filter((k) => k.endsWith("|META")).length;
    expect(partWrites).toBe(parts.length);
    // META: created, one counter update per record call (2), uploading → assembling → complete (2).
    expect(metaWrites).toBe(5);
    expect((partWrites + 2) / parts.length).toBeLessThanOrEqual(2);
    expect(written.filter((k) => k.startsWith("STATS|") || k.startsWith("SERIES|"))).toEqual([]);
    // The buffered counters go out in one flush: one stats shard, one series point (per minute touched).
    const before = calls.length;
    await svc.flushStats();
    const flushed = calls.slice(before).flatMap((c) => itemsWritten(c));
    expect(flushed.filter((k) => k.startsWith("STATS|TOTALS#"))).toHaveLength(1);
    expect(flushed.filter((k) => k.startsWith("SERIES|")).length).toBeLessThanOrEqual(2);
  });

  it("stats sum every shard and the legacy TOTALS item", async () => {
    const repo = own.adapters.repo;
    const before = await ownStats();
    for (let i = 0; i < 40; i++) await repo.addStats({ bytesReceived: 1, dedupeHits: 1 });
    await own.adapters.dynamodb.send(
      new PutItemCommand({
        TableName: ownConfig.table,
        Item: { PK: { S: "STATS" }, SK: { S: "TOTALS" }, s_complete: { N: "1000" }, bytesStored: { N: "7" } },
      }),
    );
    const after = await ownStats();
    expect(after.bytes.received - before.bytes.received).toBe(40);
    expect(after.dedupeHits - before.dedupeHits).toBe(40);
    // The legacy item (this table had none) is counted with the shards.
    expect(after.transfers.byStatus.complete - before.transfers.byStatus.complete).toBe(1000);
    expect(after.bytes.stored - before.bytes.stored).toBe(7);
    const shards = calls.filter(
      (c) => c.operation === "UpdateItem" && keyOf(c.input.Key).startsWith("STATS|"),
    );
    expect(new Set(shards.map((c) => keyOf(c.input.Key))).size).toBeGreaterThan(1);
  });

  it("abort moves the counter of the status the transfer really left (here: failed by a concurrent call)", async () => {
    const ended: [string, EndedStatus][] = [];
    let service: TransferService | undefined;
    let raced = false;
    // The real repo, with a concurrent fail slipped in just before abort's first transition.
    const real = own.adapters.repo;
    const repo = new Proxy(real, {
      get(target, key) {
        if (key === "transition")
          return async (...args: Parameters<TransferRepo["transition"]>) => {
            if (args[2] === "aborted" && !raced) {
              raced = true;
              await service?.fail(args[0], { reason: "concurrent give-up" });
            }
            return target.transition(...args);
          };
        const v = Reflect.get(target, key) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as TransferRepo;
    service = new TransferService({
      repo,
      store: own.adapters.store,
      config: { presignExpiresSeconds: 900, downloadExpiresSeconds: 900, version: "t", statsFlushMs: 0 },
      onTransferEnded: async (t: TransferRecord, status) => {
        ended.push([t.id, status]);
      },
    });
    const data = randomFile(5 * MiB + 9);
    const s0 = await service.stats();
    const { transferId: id } = await service.init({ ...initBody(data), priority: "low" });
    const s1 = await service.stats();
    expect(s1.transfers.byStatus.uploading - s0.transfers.byStatus.uploading).toBe(1);
    expect((await service.abort(id)).status).toBe("aborted");
    const s2 = await service.stats();
    const delta = (k: "uploading" | "failed" | "aborted") =>
      s2.transfers.byStatus[k] - s0.transfers.byStatus[k];
    // Uploading +1 (init) −1 (fail); failed +1 (fail) −1 (abort left it); aborted +1.
    expect([delta("uploading"), delta("failed"), delta("aborted")]).toEqual([0, 0, 1]);
    expect(ended).toEqual([
      [id, "failed"],
      [id, "aborted"],
    ]);
  });
});

/** "PK|SK" of every item a DynamoDB write request touches. */
function itemsWritten(c: DynamoCall): string[] {
  const input = c.input as Record<string, unknown>;
  switch (c.operation) {
    case "PutItem":
      return [keyOf(input.Item)];
    case "UpdateItem":
    case "DeleteItem":
      return [keyOf(input.Key)];
    case "TransactWriteItems":
      return ((input.TransactItems ?? []) as Record<string, { Item?: unknown; Key?: unknown }>[]).flatMap(
        (t) =>
          t.Put
            ? [keyOf(t.Put.Item)]
            : t.Update
              ? [keyOf(t.Update.Key)]
              : t.Delete
                ? [keyOf(t.Delete.Key)]
                : [],
      );
    default:
      return [];
  }
}

function keyOf(item: unknown): string {
  const i = item as { PK?: { S?: string }; SK?: { S?: string } } | undefined;
  return `${i?.PK?.S ?? ""}|${i?.SK?.S ?? ""}`;
}
