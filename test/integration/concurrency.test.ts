import { beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient, initTransfer, MiB, planParts, randomFile, sendParts } from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
beforeAll(() => {
  api = apiClient(stack);
});

describe("parallel part-done calls", () => {
  it("50 parts reported in parallel (each twice) leave exact counters", async () => {
    const count = 50;
    const data = randomFile(count * 5 * MiB);
    const parts = planParts(
      data,
      Array.from({ length: count }, () => 5 * MiB),
    );
    const { transferId: id } = await initTransfer(api, data, { name: "fifty.bin" });
    const etags = await sendParts(api, id, data, parts, false);

    const calls = [...parts, ...parts].map((p) =>
      api.post(`/upload/${id}/parts/${p.partNumber}/done`, {
        offset: p.offset,
        size: p.size,
        sha256: p.sha256,
        etag: etags[p.partNumber - 1],
      }),
    );
    const results = await Promise.all(calls);
    expect(results.map((r) => r.status)).toEqual(Array(2 * count).fill(200));
    expect(results.filter((r) => r.body.recorded === "new")).toHaveLength(count);

    const info = await api.get(`/api/files/${id}`);
    expect(info.body.partsDone).toBe(count);
    expect(info.body.bytesDone).toBe(data.length);
    expect(info.body.parts).toHaveLength(count);

    const done = await api.post(`/assemble/${id}`);
    expect(done.status).toBe(200);
    expect(done.body.compositeChecksum).toMatch(/-50$/);
  }, 120_000);
});
