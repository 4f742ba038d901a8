import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  type Api,
  apiClient,
  initTransfer,
  planParts,
  randomFile,
  sendParts,
  sha256,
} from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
let fileId: string;
const data = randomFile(4096);

beforeAll(async () => {
  api = apiClient(stack);
  fileId = (await initTransfer(api, data, { name: "shared report.pdf" })).transferId;
  await sendParts(api, fileId, data, planParts(data, [data.length]));
  expect((await api.post(`/assemble/${fileId}`)).status).toBe(200);
});

const share = async (body: Record<string, unknown> = {}) => {
  const r = await api.post(`/api/files/${fileId}/share`, body);
  expect(r.status).toBe(200);
  return r.body as { token: string; url: string; shareId: string; expiresAt: string; maxDownloads?: number };
};
/** A browser or curl: no token, follows nothing; the redirect target is checked separately. */
const open = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { redirect: "manual", headers });

describe("share links", () => {
  it("are unguessable, point at /s/{token}, and download the file without an API token", async () => {
    const s = await share();
    expect(s.token).toMatch(/^[A-Za-z0-9_-]{32}$/); // 192 random bits
    expect(s.url).toBe(`${stack.apiUrl}/s/${s.token}`);
    const r = await open(s.url);
    expect(r.status).toBe(302);
    const got = await fetch(r.headers.get("location") ?? "");
    expect(got.headers.get("content-disposition")).toContain('filename="shared report.pdf"');
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(data));
  });

  it("--max-downloads 2 allows two downloads and the third gets 410", async () => {
    const s = await share({ maxDownloads: 2 });
    expect((await open(s.url)).status).toBe(302);
    expect((await open(s.url)).status).toBe(302);
    const third = await open(s.url);
    expect(third.status).toBe(410);
    const body = (await third.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("SHARE_USED_UP");
    expect(body.error.message).toContain("allowed 2 download(s)");
  });

  it("counts with a conditional write: 10 parallel downloads of a 3-download link let exactly 3 through", async () => {
    const s = await share({ maxDownloads: 3 });
    const results = await Promise.all(Array.from({ length: 10 }, () => open(s.url)));
    expect(results.filter((r) => r.status === 302)).toHaveLength(3);
    expect(results.filter((r) => r.status === 410)).toHaveLength(7);
    const list = await api.get(`/api/files/${fileId}/shares`);
    const mine = list.body.items.find((i: { shareId: string }) => i.shareId === s.shareId);
    expect(mine).toMatchObject({ downloads: 3, maxDownloads: 3, state: "used-up" });
  });

  it("an expired link gets 410", async () => {
    const s = await share({ expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 1200));
    const r = await open(s.url);
    expect(r.status).toBe(410);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("SHARE_EXPIRED");
  });

  it("a revoked link gets 410, by token or by id", async () => {
    const a = await share();
    expect((await api.post("/api/shares/revoke", { token: a.token })).body.state).toBe("revoked");
    expect(((await (await open(a.url)).json()) as { error: { code: string } }).error.code).toBe(
      "SHARE_REVOKED",
    );
    const b = await share();
    const r = await api.del(`/api/files/${fileId}/shares/${b.shareId}`);
    expect(r.status).toBe(200);
    expect((await open(b.url)).status).toBe(410);
  });

  it("a made-up token gets 404", async () => {
    const r = await open(`${stack.apiUrl}/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("SHARE_NOT_FOUND");
  });

  it("a resumed range of a used-up link is served, a fresh download is not", async () => {
    const s = await share({ maxDownloads: 1 });
    expect((await open(s.url)).status).toBe(302);
    expect((await open(s.url, { range: "bytes=1000-" })).status).toBe(302);
    expect((await open(s.url, { range: "bytes=0-" })).status).toBe(410);
    expect((await open(s.url)).status).toBe(410);
  });

  it("lists a file's links without their tokens; creating one needs a complete file and a token", async () => {
    const list = await api.get(`/api/files/${fileId}/shares`);
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThan(3);
    expect(JSON.stringify(list.body)).not.toMatch(/"token"/);
    const open = (await initTransfer(api, randomFile(6 * 1024 * 1024))).transferId;
    expect((await api.post(`/api/files/${open}/share`, {})).status).toBe(409);
    expect((await apiClient(stack, null).post(`/api/files/${fileId}/share`, {})).status).toBe(401);
    expect((await api.post(`/api/files/${fileId}/share`, { expiresIn: 31 * 24 * 3600 })).status).toBe(400);
  });
});
