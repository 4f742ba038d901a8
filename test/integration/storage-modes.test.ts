/**
 * The coordinator under a storage profile other than the server's own, on the stack's S3 server and table:
 * `generic` (Content-MD5 signed per part and single PUT, uniform parts). MD5s are required where storage
 * checks them; the upload's one part size is fixed at creation, answered and kept across resumes, and
 * parts off its positions are refused; a whole upload goes through the HTTP routes with presigned PUTs
 * sent by fetch and the stored object's SHA-256 matches; a part sent again with other bytes (which
 * storage's ListParts cannot tell by SHA-256 here) is caught by its ETag at assembly (on a server that
 * keeps each upload of a number, partReupload "keeps-each", assembly takes the recorded bytes). Every new record
 * says what storage checked (storageCheck).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import { AppError } from "../../functions/core/errors.js";
import { TransferService } from "../../functions/core/transfer-service.js";
import { type Api, apiClient, initTransfer, MiB, randomFile, rawPut, sha256 } from "../helpers/api.js";

const stack = inject("stack");
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("base64");

/** Parts cut positionally by `partSize`, each with its SHA-256 and MD5. */
function cut(data: Uint8Array, partSize: number) {
  const parts = [];
  for (let offset = 0, n = 1; offset < data.length; offset += partSize, n++) {
    const bytes = data.subarray(offset, Math.min(offset + partSize, data.length));
    parts.push({ partNumber: n, offset, size: bytes.length, sha256: sha256(bytes), md5: md5(bytes) });
  }
  return parts;
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

const generic = createCoordinator(
  loadConfig({ ...stack.env, SFTS_STORAGE_PROFILE: "generic", SFTS_STATS_FLUSH_MS: "0" }),
);
afterAll(() => generic.adapters.destroy());
const svc = generic.service;
const init = (data: Uint8Array, extra: Record<string, unknown> = {}) =>
  svc.init({ name: "g.bin", size: data.length, sha256: sha256(data), priority: "normal", ...extra });

describe("md5 mode: each part and single PUT carries its MD5", () => {
  it("refuses init parts, presigned parts and batch entries without md5, naming the rule", async () => {
    const data = randomFile(6 * MiB);
    const [p1] = cut(data, 5 * MiB);
    const { md5: _, ...bare } = p1!;
    const e1 = await refusal(init(data, { partSizeHint: 5 * MiB, parts: [bare] }));
    expect(e1.code).toBe("INVALID_INPUT");
    expect(e1.message).toMatch(/generic profile\) checks parts by Content-MD5: give each part's md5/);

    const r = await init(data, { partSizeHint: 5 * MiB });
    const e2 = await refusal(svc.presignParts(r.transferId, [bare]));
    expect(e2.code).toBe("INVALID_INPUT");
    expect(e2.message).toMatch(/Content-MD5.*part 1 has none/);
    const withMd5 = await svc.presignParts(r.transferId, [p1!]);
    expect(withMd5.parts[0]?.headers["content-md5"]).toBe(p1!.md5);
    expect(withMd5.parts[0]?.headers["x-amz-checksum-sha256"]).toBeUndefined();
    await svc.abort(r.transferId);

    const small = randomFile(1000);
    const entry = { path: `md5/${Date.now()}.txt`, size: small.length, sha256: sha256(small) };
    const e3 = await refusal(
      generic.batches.create({
        name: "md5",
        digest: sha256(Buffer.from(`md5-batch-${Date.now()}`)),
        priority: "normal",
        fileCount: 1,
        totalBytes: small.length,
        files: [entry],
      } as never),
    );
    expect(e3.code).toBe("INVALID_INPUT");
    expect(e3.message).toMatch(/File ".*": This storage .* Content-MD5: give the file's md5/);
  });

  it("a damaged part is refused by storage against the signed Content-MD5", async () => {
    const data = randomFile(6 * MiB);
    const r = await init(data, { partSizeHint: 5 * MiB });
    const [p1] = cut(data, r.partSize);
    const { parts } = await svc.presignParts(r.transferId, [p1!]);
    const damaged = Buffer.from(data.subarray(0, p1!.size));
    damaged[4242] = (damaged[4242] ?? 0) ^ 0x01;
    const put = await rawPut(parts[0]!.url, parts[0]!.headers, damaged);
    expect(put.status).toBe(400);
    expect(put.text).toMatch(/BadDigest|InvalidDigest/);
    await svc.abort(r.transferId);
  });
});

describe("uniform parts: one part size per upload", () => {
  const data = randomFile(12 * MiB + 5);
  let id: string;
  beforeAll(async () => {
    const r = await init(data, { partSizeHint: 5 * MiB });
    id = r.transferId;
    expect(r.partSize).toBe(5 * MiB);
    expect(r.file.storageCheck).toBe("md5");
    expect(r.missing).toEqual([{ offset: 0, size: data.length, firstPart: 1, lastPart: 3 }]);
  });
  afterAll(() => svc.abort(id));

  it("refuses parts off the positions the part size fixes", async () => {
    const parts = cut(data, 5 * MiB);
    const wrongSize = { ...parts[0]!, size: 6 * MiB };
    const wrongOffset = { ...parts[2]!, offset: 10 * MiB - 1 };
    const shortOfTheEnd = { ...parts[2]!, size: parts[2]!.size - 1 };
    for (const bad of [wrongSize, wrongOffset, shortOfTheEnd]) {
      const e = await refusal(svc.presignParts(id, [bad]));
      expect(e.code).toBe("INVALID_PART");
      expect(e.message).toMatch(/part size|5242880 bytes/);
    }
    // A last part shorter than the others is the rule, not a breach of it.
    const ok = await svc.presignParts(id, [parts[1]!, parts[2]!]);
    expect(ok.parts.map((p) => p.partNumber)).toEqual([2, 3]);
  });

  it("keeps the part size on resume, whatever the new hint, and names missing parts by position", async () => {
    const [p1] = cut(data, 5 * MiB);
    const { parts } = await svc.presignParts(id, [p1!]);
    const put = await fetch(parts[0]!.url, {
      method: "PUT",
      headers: parts[0]!.headers,
      body: data.subarray(0, p1!.size),
    });
    expect(put.status).toBe(200);
    await svc.partDone(id, 1, { ...p1!, etag: put.headers.get("etag") ?? "" });

    const again = await init(data, { partSizeHint: 16 * MiB, resumeId: id });
    expect(again.transferId).toBe(id);
    expect(again.resumed).toBe(true);
    expect(again.partSize).toBe(5 * MiB);
    expect(again.missing).toEqual([
      { offset: 5 * MiB, size: data.length - 5 * MiB, firstPart: 2, lastPart: 3 },
    ]);
    const missing = await svc.missing(id);
    expect(missing.missing).toEqual(again.missing);
    // Parts asked for at the new hint's size do not fit this upload: they are not presigned.
    const other = await init(data, {
      partSizeHint: 16 * MiB,
      resumeId: id,
      parts: [
        {
          partNumber: 2,
          offset: 5 * MiB,
          size: data.length - 5 * MiB,
          sha256: "0".repeat(64),
          md5: md5(data),
        },
      ],
    });
    expect(other.presigned).toEqual([]);
  });
});

describe("a whole upload in md5 mode through the HTTP routes", () => {
  const api = (path: string, body?: unknown) =>
    generic.app.request(path, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  it("completes, and the stored object's SHA-256 is the file's", async () => {
    const data = randomFile(11 * MiB + 77);
    const r = await api("/upload/init", {
      name: "whole.bin",
      size: data.length,
      sha256: sha256(data),
      partSizeHint: 5 * MiB,
    });
    expect(r.status).toBe(200);
    const initBody = (await r.json()) as { transferId: string; partSize: number };
    const parts = cut(data, initBody.partSize);
    const signed = await api(`/upload/${initBody.transferId}/parts`, { parts });
    expect(signed.status).toBe(200);
    const urls = ((await signed.json()) as { parts: { url: string; headers: Record<string, string> }[] })
      .parts;
    const done = [];
    for (const [i, p] of parts.entries()) {
      const put = await fetch(urls[i]!.url, {
        method: "PUT",
        headers: urls[i]!.headers,
        body: data.subarray(p.offset, p.offset + p.size),
      });
      expect(put.status).toBe(200);
      done.push({
        partNumber: p.partNumber,
        offset: p.offset,
        size: p.size,
        sha256: p.sha256,
        etag: put.headers.get("etag"),
      });
    }
    const assembled = await api(`/assemble/${initBody.transferId}`, { parts: done });
    expect(assembled.status).toBe(200);
    const file = (await assembled.json()) as { status: string; storageCheck?: string };
    expect(file.status).toBe("complete");
    expect(file.storageCheck).toBe("md5");
    const link = await api(`/download/${initBody.transferId}?redirect=false`);
    expect(link.status).toBe(200);
    const got = await fetch(((await link.json()) as { url: string }).url);
    expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(data));
  });

  // Whether this server replaces a part uploaded again (S3) or keeps each upload (partReupload, SeaweedFS).
  const keepsEach = loadConfig(stack.env).storage.profile.partReupload === "keeps-each";
  const resent = keepsEach
    ? "a part sent again with other bytes after it was recorded does not displace it: assembly takes the recorded bytes"
    : "a part sent again with other bytes after it was recorded is caught at assembly by its ETag";
  it(resent, async () => {
    const data = randomFile(6 * MiB);
    const r = await init(data, { partSizeHint: 5 * MiB });
    const parts = cut(data, r.partSize);
    const { parts: urls } = await svc.presignParts(r.transferId, parts);
    for (const [i, p] of parts.entries()) {
      const put = await fetch(urls[i]!.url, {
        method: "PUT",
        headers: urls[i]!.headers,
        body: data.subarray(p.offset, p.offset + p.size),
      });
      await svc.partDone(r.transferId, p.partNumber, { ...p, etag: put.headers.get("etag") ?? "" });
    }
    // Part 2 overwritten in storage with other bytes of its size (a second sender, say): ListParts here
    // has no SHA-256 to compare, but the part's ETag (its MD5) changed.
    const t = await generic.adapters.repo.getTransfer(r.transferId);
    const other = randomFile(parts[1]!.size);
    const req = await generic.adapters.store.presignUploadPart(
      t!.objectKey,
      t!.uploadId!,
      { partNumber: 2, size: other.length, sha256Base64: "", md5Base64: md5(other) },
      60,
    );
    expect((await fetch(req.url, { method: "PUT", headers: req.headers, body: other })).status).toBe(200);
    if (keepsEach) {
      // Both uploads of part 2 are kept: Complete, given the recorded ETag, assembles the recorded bytes.
      expect((await svc.assemble(r.transferId)).status).toBe("complete");
      const { url } = await svc.download(r.transferId);
      expect(sha256(new Uint8Array(await (await fetch(url)).arrayBuffer()))).toBe(sha256(data));
      return;
    }
    const e = await refusal(svc.assemble(r.transferId));
    expect(e.code).toBe("CHECKSUM_MISMATCH");
    expect(e.message).toMatch(/parts 2 as recorded/);
    const missing = await svc.missing(r.transferId);
    expect(missing.parts.map((p) => p.partNumber)).toEqual([1]);
    await svc.abort(r.transferId);
  });
});

describe("storageCheck on new records", () => {
  it("is the profile's check, or what the coordinator's storageCheck says (none while serving unverified storage)", async () => {
    const own = loadConfig(stack.env).storage.profile;
    const api: Api = apiClient(stack);
    const data = randomFile(1234);
    const r = await initTransfer(api, data);
    const got = await api.get(`/api/files/${r.transferId}`);
    expect(got.body.storageCheck).toBe(own.partCheck);

    const unverified = new TransferService({
      repo: generic.adapters.repo,
      store: generic.adapters.store,
      config: { presignExpiresSeconds: 60, downloadExpiresSeconds: 60, version: "t", statsFlushMs: 0 },
      storage: loadConfig({ ...stack.env, SFTS_STORAGE_PROFILE: "generic" }).storage.profile,
      storageCheck: () => "none",
    });
    const d2 = randomFile(6 * MiB);
    const r2 = await unverified.init({ name: "u.bin", size: d2.length, sha256: sha256(d2), priority: "low" });
    expect(r2.file.storageCheck).toBe("none");
    await unverified.abort(r2.transferId);
  });
});
