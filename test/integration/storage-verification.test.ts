import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import {
  type Api,
  apiClient,
  initTransfer,
  MiB,
  planParts,
  randomFile,
  rawPut,
  sha256,
} from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
beforeAll(() => {
  api = apiClient(stack);
});

async function presignOne(id: string, part: object) {
  const r = await api.post(`/upload/${id}/parts`, { parts: [part] });
  expect(r.status).toBe(200);
  return r.body.parts[0] as { url: string; headers: Record<string, string> };
}

describe("storage verifies what the coordinator signed", () => {
  const data = randomFile(6 * MiB);
  const [part] = planParts(data, [6 * MiB]);
  // Requests refused on their signature are answered before the body is read; a small body is sent
  // whole before that answer, so the test reads the refusal rather than racing a connection reset.
  const small = randomFile(1024);
  const [smallPart] = planParts(small, [small.length]);

  it("rejects a part whose bytes do not match the signed SHA-256 (BadDigest), and it is never counted", async () => {
    const { transferId: id } = await initTransfer(api, data);
    const signed = await presignOne(id, part!);
    const corrupt = Buffer.from(data);
    corrupt[12345] = (corrupt[12345] ?? 0) ^ 0xff;
    const put = await rawPut(signed.url, signed.headers, corrupt);
    expect(put.status).toBe(400);
    expect(put.text).toContain("BadDigest");

    // A client that claims it anyway is refused: the coordinator asks storage, not the client.
    const done = await api.post(`/upload/${id}/parts/1/done`, {
      offset: 0,
      size: data.length,
      sha256: part!.sha256,
      etag: '"0123456789abcdef0123456789abcdef"',
    });
    expect(done.status).toBe(409);
    expect(done.body.error.code).toBe("PART_NOT_STORED");
    const missing = await api.get(`/upload/missing/${id}`);
    expect(missing.body.partsDone).toBe(0);
    expect(missing.body.bytesDone).toBe(0);
    expect(missing.body.missing).toEqual([{ offset: 0, size: data.length, firstPart: 1, lastPart: 10000 }]);

    // The right bytes on the same URL go through.
    const good = await fetch(signed.url, { method: "PUT", headers: signed.headers, body: data });
    expect(good.status).toBe(200);
  });

  it("rejects a PUT whose checksum header differs from the signed one", async () => {
    const { transferId: id } = await initTransfer(api, small);
    const signed = await presignOne(id, smallPart!);
    const other = sha256(Buffer.from("something else"));
    const headers = {
      ...signed.headers,
      "x-amz-checksum-sha256": Buffer.from(other, "hex").toString("base64"),
    };
    const put = await rawPut(signed.url, headers, small);
    expect(put.status).toBe(403);
    expect(put.text).toContain("SignatureDoesNotMatch");
  });

  it("rejects a URL whose signature was altered", async () => {
    const { transferId: id } = await initTransfer(api, small);
    const signed = await presignOne(id, smallPart!);
    const url = new URL(signed.url);
    const sig = url.searchParams.get("X-Amz-Signature") ?? "";
    url.searchParams.set("X-Amz-Signature", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
    const put = await rawPut(url, signed.headers, small);
    expect(put.status).toBe(403);
    expect(put.text).toContain("SignatureDoesNotMatch");
  });

  describe("with presigned URLs that live one second", () => {
    // A second coordinator over the same emulators, configured for very short-lived URLs.
    const short = createCoordinator(loadConfig({ ...stack.env, SFTS_PRESIGN_EXPIRES: "1" }));
    afterAll(() => short.adapters.destroy());

    it("rejects a presigned URL used after it expired", async () => {
      const bytes = randomFile(1024);
      const init = await short.service.init({
        name: "x",
        size: bytes.length,
        sha256: sha256(bytes),
        priority: "low",
      });
      const [p] = planParts(bytes, [bytes.length]);
      const {
        parts: [signed],
      } = await short.service.presignParts(init.transferId, [p!]);
      await new Promise((r) => setTimeout(r, 2100));
      const put = await rawPut(signed!.url, signed!.headers, bytes);
      expect(put.status).toBe(403);
      expect(put.text).toMatch(/expired/i);
    });
  });
});
