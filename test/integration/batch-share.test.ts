/**
 * A batch's share link: GET /s/{token} lists the batch's complete files (not counted), each downloaded
 * at /s/{token}/{transferId} (counted: maxDownloads counts file downloads), with the expiry and revoke
 * rules of file links.
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient, sha256 } from "../helpers/api.js";
import { createRequest, entry, file, mustOk, sendBatch } from "../helpers/batch.js";

const stack = inject("stack");
let api: Api;
const files = [file("report.pdf", 3000), file("data/table 1.csv", 2000), file("data/ünï.txt", 1000)];
let batchId: string;
let ids: Map<string, string>;
let pending: string; // a file of the batch that was never sent

beforeAll(async () => {
  api = apiClient(stack);
  const sent = await sendBatch(api, files, { dirs: ["data/empty"], name: "shared folder", fileCount: 4 });
  batchId = sent.created.batchId;
  ids = new Map(sent.created.files.map((a: { path: string; transferId: string }) => [a.path, a.transferId]));
  const late = file("late.bin", 10);
  const added = await mustOk(api.post(`/batch/${batchId}/files`, { files: [entry(late)] }));
  pending = added.files[0].transferId;
});

const share = async (body: Record<string, unknown> = {}) => {
  const r = await api.post(`/api/batches/${batchId}/share`, body);
  expect(r.status).toBe(200);
  return r.body as { token: string; url: string; shareId: string; fileId: string; maxDownloads?: number };
};
const open = (url: string) => fetch(url, { redirect: "manual" });
const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;

describe("a batch's share link", () => {
  it("lists the batch's complete files without counting, each at its own url", async () => {
    const s = await share({ maxDownloads: 5 });
    expect(s.fileId).toBe(batchId);
    expect(s.url).toBe(`${stack.apiUrl}/s/${s.token}`);
    for (let i = 0; i < 3; i++) {
      const r = await open(s.url);
      expect(r.status).toBe(200);
      const listing = (await r.json()) as {
        batchId: string;
        name: string;
        fileCount: number;
        dirs: string[];
        files: { path: string; size: number; sha256: string; url: string }[];
        nextCursor: string | null;
      };
      expect(listing).toMatchObject({ batchId, name: "shared folder", fileCount: 4, dirs: ["data/empty"] });
      expect(listing.nextCursor).toBeNull();
      expect(listing.files.map((f) => f.path).sort()).toEqual(files.map((f) => f.path).sort());
      for (const f of listing.files) expect(f.url).toBe(`${stack.apiUrl}/s/${s.token}/${ids.get(f.path)}`);
    }
    const [mine] = (await mustOk(api.get(`/api/batches/${batchId}/shares`))).items.filter(
      (i: { shareId: string }) => i.shareId === s.shareId,
    );
    expect(mine).toMatchObject({ downloads: 0, maxDownloads: 5, state: "active", fileId: batchId });
  });

  it("downloads a file of the batch byte for byte and counts it", async () => {
    const s = await share();
    const f = files[1] as { path: string; data: Buffer };
    const r = await open(`${s.url}/${ids.get(f.path)}`);
    expect(r.status).toBe(302);
    expect(r.headers.get("cache-control")).toBe("no-store");
    const got = await fetch(r.headers.get("location") ?? "");
    expect(got.headers.get("content-disposition")).toContain('filename="table 1.csv"');
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(f.data));
    const [mine] = (await mustOk(api.get(`/api/batches/${batchId}/shares`))).items.filter(
      (i: { shareId: string }) => i.shareId === s.shareId,
    );
    expect(mine.downloads).toBe(1);
  });

  it("maxDownloads counts file downloads, whichever files: the third of two is refused, and so is the listing", async () => {
    const s = await share({ maxDownloads: 2 });
    expect((await open(`${s.url}/${ids.get("report.pdf")}`)).status).toBe(302);
    expect((await open(`${s.url}/${ids.get("data/ünï.txt")}`)).status).toBe(302);
    const third = await open(`${s.url}/${ids.get("data/table 1.csv")}`);
    expect(third.status).toBe(410);
    expect(await code(third)).toBe("SHARE_USED_UP");
    const listing = await open(s.url);
    expect(listing.status).toBe(410);
    expect(await code(listing)).toBe("SHARE_USED_UP");
  });

  it("expires", async () => {
    const s = await share({ expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 1200));
    expect(await code(await open(s.url))).toBe("SHARE_EXPIRED");
    expect(await code(await open(`${s.url}/${ids.get("report.pdf")}`))).toBe("SHARE_EXPIRED");
  });

  it("is revoked by its id: listing and files refused", async () => {
    const s = await share();
    const r = await api.del(`/api/batches/${batchId}/shares/${s.shareId}`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe("revoked");
    expect(await code(await open(s.url))).toBe("SHARE_REVOKED");
    expect(await code(await open(`${s.url}/${ids.get("report.pdf")}`))).toBe("SHARE_REVOKED");
  });

  it("serves only complete files of its own batch, and counts none it refuses", async () => {
    const s = await share({ maxDownloads: 1 });
    const other = await sendBatch(api, [file("elsewhere.bin", 50)]);
    const foreign = other.created.files[0].transferId;
    for (const id of [foreign, pending, "tr_00000000000000000000000000"]) {
      const r = await open(`${s.url}/${id}`);
      expect([id, r.status, await code(r)]).toEqual([id, 404, "SHARE_NOT_FOUND"]);
    }
    // Nothing was counted: the one download allowed is still there.
    expect((await open(`${s.url}/${ids.get("report.pdf")}`)).status).toBe(302);
  });

  it("a file's link does not open files by id, and a batch needs to exist to be shared", async () => {
    const single = await sendBatch(api, [file("single.bin", 20)]);
    const fileShare = await mustOk(api.post(`/api/files/${single.created.files[0].transferId}/share`, {}));
    expect((await open(`${fileShare.url}/${ids.get("report.pdf")}`)).status).toBe(404);
    expect((await open(fileShare.url)).status).toBe(302);
    expect((await open(`${fileShare.url}?utm_source=mail`)).status).toBe(302); // other parameters ignored
    expect((await api.post("/api/batches/bt_00000000000000000000000000/share", {})).status).toBe(404);
    expect((await api.get("/api/batches/bt_00000000000000000000000000/shares")).status).toBe(404);
  });

  it("a cancelled batch cannot be shared", async () => {
    const b = await mustOk(api.post("/batch", createRequest([file("gone.bin", 5)])));
    await mustOk(api.del(`/batch/${b.batchId}`));
    expect((await api.post(`/api/batches/${b.batchId}/share`, {})).status).toBe(409);
  });
});
