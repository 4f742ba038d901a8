import { beforeAll, describe, expect, inject, it } from "vitest";
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
beforeAll(() => {
  api = apiClient(stack);
});

describe("an upload driven with plain fetch on presigned URLs", () => {
  const sizes = [6 * MiB, 5 * MiB, 1024];
  const data = randomFile(sizes.reduce((a, b) => a + b, 0));
  let id: string;

  it("starts, presigns, stores three unequal parts and assembles them", async () => {
    const init = await initTransfer(api, data, { name: "three-parts.bin", priority: "high" });
    expect(init.status).toBe("uploading");
    expect(init.deduplicated).toBe(false);
    id = init.transferId;

    await sendParts(api, id, data, planParts(data, sizes));

    const missing = await api.get(`/upload/missing/${id}`);
    expect(missing.status).toBe(200);
    expect(missing.body.missing).toEqual([]);
    expect(missing.body.partsDone).toBe(3);
    expect(missing.body.bytesDone).toBe(data.length);

    const done = await api.post(`/assemble/${id}`);
    expect(done.status).toBe(200);
    expect(done.body.status).toBe("complete");
    expect(done.body.sha256).toBe(sha256(data));
    expect(done.body.compositeChecksum).toMatch(/^[A-Za-z0-9+/]{43}=-3$/);
  });

  it("assembling again is idempotent", async () => {
    const again = await api.post(`/assemble/${id}`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe("complete");
  });

  it("downloads byte-identical bytes through /download/{id}", async () => {
    const r = await api.get(`/download/${id}`);
    expect(r.status).toBe(302);
    const location = r.headers.get("location") ?? "";
    expect(location).toContain("X-Amz-Signature=");
    // The redirect target is storage, reached without the API token.
    const got = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(got.length).toBe(data.length);
    expect(sha256(got)).toBe(sha256(data));
    expect(got.equals(data)).toBe(true);
  });

  it("a client following the redirect itself gets the file too", async () => {
    const res = await fetch(`${stack.apiUrl}/download/${id}`, {
      headers: { authorization: `Bearer ${stack.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toContain('filename="three-parts.bin"');
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(data));
  });

  it("file info lists the parts with their checksums", async () => {
    const r = await api.get(`/api/files/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.parts.map((p: { size: number }) => p.size)).toEqual(sizes);
    expect(r.body.parts[1].sha256).toBe(sha256(data.subarray(6 * MiB, 11 * MiB)));
    expect(r.body.priority).toBe("high");
  });

  it("a second init of the same SHA-256 and size completes at once and uploads nothing", async () => {
    const statsBefore = (await api.get("/api/stats")).body;
    const again = await initTransfer(api, data, { name: "copy.bin" });
    expect(again.status).toBe("complete");
    expect(again.deduplicated).toBe(true);
    expect(again.transferId).not.toBe(id);
    const info = await api.get(`/api/files/${again.transferId}`);
    expect(info.body.deduplicatedFrom).toBe(id);
    expect(info.body.parts).toEqual([]);
    const statsAfter = (await api.get("/api/stats")).body;
    expect(statsAfter.bytes.received).toBe(statsBefore.bytes.received);
    expect(statsAfter.dedupeHits).toBe(statsBefore.dedupeHits + 1);
    expect(statsAfter.bytes.deduplicated).toBe(statsBefore.bytes.deduplicated + data.length);
    // …and it downloads under its own name, with the same bytes.
    const d = await api.get(`/download/${again.transferId}?redirect=false`);
    expect(d.body.name).toBe("copy.bin");
    const res = await fetch(d.body.url);
    expect(res.headers.get("content-disposition")).toContain('filename="copy.bin"');
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(data));
  });
});

describe("an empty file", () => {
  it("is stored with one plain PUT and completes at init", async () => {
    const empty = Buffer.alloc(0);
    const init = await initTransfer(api, empty, { name: `empty-${Date.now()}.txt` });
    expect(["complete"]).toContain(init.status);
    const d = await api.get(`/download/${init.transferId}?redirect=false`);
    expect(d.status).toBe(200);
    const res = await fetch(d.body.url);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});

describe("presign checks a part against the recorded parts around it, however far in number", () => {
  const data = randomFile(80 * MiB + 1024);
  const part = (partNumber: number, offsetMiB: number, sizeMiB: number, extra = 0) => {
    const offset = offsetMiB * MiB;
    const size = sizeMiB * MiB + extra;
    return { partNumber, offset, size, sha256: sha256(data.subarray(offset, offset + size)) };
  };
  let id: string;

  beforeAll(async () => {
    id = (await initTransfer(api, data)).transferId;
    // Recorded: part 1 = MiB 0–10, part 3 = MiB 20–25, part 20 = MiB 75 to the end.
    await sendParts(api, id, data, [part(1, 0, 10), part(3, 20, 5), part(20, 75, 5, 1024)]);
  });

  it.each([
    ["one part at a time (neighbour lookups)", false],
    ["in a batch of five (the whole part list)", true],
  ])("%s: fitting parts are signed, overlapping or unfillable ones refused", async (_name, batch) => {
    // Four parts that fit (MiB 30–50), sent along so the batch is large enough to read the whole list.
    const fillers = [part(5, 30, 5), part(6, 35, 5), part(7, 40, 5), part(8, 45, 5)];
    const check = async (p: ReturnType<typeof part>) => {
      const r = await api.post(`/upload/${id}/parts`, { parts: batch ? [p, ...fillers] : [p] });
      return { status: r.status, message: String(r.body?.error?.message ?? "") };
    };
    expect(await check(part(2, 10, 10))).toEqual({ status: 200, message: "" });
    expect(await check(part(2, 9, 5))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/overlaps part 1 /),
    });
    expect(await check(part(2, 16, 5))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/overlaps part 3 /),
    });
    expect(await check(part(19, 71, 5))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/overlaps part 20 /),
    });
    // Part 19 ending 1 MiB before part 20 leaves a gap with no part number left to fill it.
    expect(await check(part(19, 65, 9))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/cannot be filled/),
    });
  });
});
