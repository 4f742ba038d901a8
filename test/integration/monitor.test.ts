import { beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient, initTransfer, MiB, planParts, randomFile, sendParts } from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
beforeAll(() => {
  api = apiClient(stack);
});

describe("what the dashboard reads", () => {
  it("a transfer's timeline: created, a rejected part, a client's error, assembled", async () => {
    const data = randomFile(6 * MiB);
    const [part] = planParts(data, [data.length]);
    const { transferId: id } = await initTransfer(api, data, { name: "timeline.bin" });
    // A part reported before it is stored is rejected and shows in the timeline and the errors.
    const { partNumber: _n, ...spec } = part as NonNullable<typeof part>;
    expect((await api.post(`/upload/${id}/parts/1/done`, { ...spec, etag: "x" })).status).toBe(409);
    const r = await api.post(`/upload/${id}/parts`, { parts: [part] });
    const put = await fetch(r.body.parts[0].url, {
      method: "PUT",
      headers: r.body.parts[0].headers,
      body: data,
    });
    const done = await api.post(`/upload/${id}/parts/1/done`, {
      ...spec,
      etag: put.headers.get("etag"),
      client: { retries: 2, speedBps: 1000, lastError: "ECONNRESET: Sending the part failed (ECONNRESET)" },
    });
    expect(done.status).toBe(200);
    expect((await api.post(`/assemble/${id}`)).status).toBe(200);
    const t = await api.get(`/api/files/${id}/events`);
    expect(t.status).toBe(200);
    expect(t.body.items.map((e: { kind: string }) => e.kind)).toEqual([
      "created",
      "part-rejected",
      "client-error",
      "assembled",
    ]);
    expect(t.body.items[1]).toMatchObject({ code: "PART_NOT_STORED", partNumber: 1 });
    const errors = await api.get("/api/errors?limit=20");
    const mine = errors.body.items.filter((e: { transferId: string }) => e.transferId === id);
    expect(mine.map((e: { kind: string }) => e.kind)).toEqual(["client-error", "part-rejected"]); // newest first
    expect(mine[0].name).toBe("timeline.bin");
    const info = await api.get(`/api/files/${id}`);
    expect(info.body).toMatchObject({ retries: 2, speedBps: 1000 });
  });

  it("throughput per minute, zero-filled, with the last full minute's rate", async () => {
    const data = randomFile(7 * MiB);
    const { transferId } = await initTransfer(api, data);
    await sendParts(api, transferId, data, planParts(data, [5 * MiB, 2 * MiB]));
    await api.post(`/assemble/${transferId}`);
    const s = await api.get("/api/stats/series?minutes=5");
    expect(s.status).toBe(200);
    expect(s.body.points).toHaveLength(5);
    const last = s.body.points[4];
    expect(last.bytes).toBeGreaterThanOrEqual(7 * MiB);
    expect(last.parts).toBeGreaterThanOrEqual(2);
    expect(last.completed).toBeGreaterThanOrEqual(1);
    expect(typeof s.body.throughputBps).toBe("number");
    expect((await api.get("/api/stats/series?minutes=0")).status).toBe(400);
  });

  it("an uploading transfer shows an ETA from the sender's reported speed", async () => {
    const data = randomFile(11 * MiB);
    const { transferId } = await initTransfer(api, data);
    const [first] = planParts(data, [5 * MiB, 6 * MiB]);
    const r = await api.post(`/upload/${transferId}/parts`, { parts: [first] });
    const put = await fetch(r.body.parts[0].url, {
      method: "PUT",
      headers: r.body.parts[0].headers,
      body: data.subarray(0, 5 * MiB),
    });
    const { partNumber: _n, ...spec } = first as NonNullable<typeof first>;
    await api.post(`/upload/${transferId}/parts/1/done`, {
      ...spec,
      etag: put.headers.get("etag"),
      client: { speedBps: MiB },
    });
    expect((await api.get(`/api/files/${transferId}`)).body.etaSeconds).toBe(6);
  });
});
