/**
 * Security properties not tested elsewhere: stages do not accept each other's tokens, a refused request
 * changes neither the table nor the bucket, presigned URLs live no longer than configured, the body cap
 * holds without a Content-Length, and rate limits are per key. Elsewhere already: 401 on every protected
 * operation (reading), user keys cannot manage keys (keys), 413 and 415 (bad-input), 429 with Retry-After
 * (rate-limit), expired and altered part URLs refused by storage (storage-verification), no token or
 * signature in the API log (reading, and test/e2e/secrets for a whole session).
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import {
  DEFAULT_PRESIGN_EXPIRES_SECONDS,
  MAX_JSON_BODY_BYTES,
  SHARE_REDIRECT_SECONDS,
} from "../../functions/contract/limits.js";
import { hashToken, newApiToken, newKeyId } from "../../functions/core/ids.js";
import { ensureBucket, ensureDevKey, ensureTable } from "../../local/bootstrap.js";
import {
  type Api,
  type ApiResult,
  apiClient,
  initTransfer,
  MiB,
  planParts,
  protectedOperations,
  randomFile,
  sendParts,
  sha256,
} from "../helpers/api.js";
import type { StackInfo } from "../helpers/stack.js";
import { type StateSnapshotter, stateSnapshotter } from "../helpers/state-digest.js";

const stack = inject("stack");
const api = apiClient(stack);

interface Stage {
  info: StackInfo;
  close(): Promise<void>;
}

/**
 * Another stage: its own table and bucket (what separates stages; each is its own deployment) with its
 * own first key, on the same emulators, served over HTTP like the stack's API.
 */
async function startStage(name: string): Promise<Stage> {
  const id = `sfts-${name}-${randomBytes(4).toString("hex")}`;
  const env = { ...stack.env, SFTS_TABLE: id, SFTS_BUCKET: id };
  const c = createCoordinator(loadConfig(env));
  await ensureTable(c.adapters.dynamodb, id);
  await ensureBucket(c.adapters.s3, id, ["http://127.0.0.1"]);
  const token = await ensureDevKey(c.adapters.repo, undefined);
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: c.app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    info: { ...stack, apiUrl, token, table: id, bucket: id, env },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      c.adapters.destroy();
    },
  };
}

const sendAll = async (on: StackInfo, token: string | null, ops: { method: string; path: string }[]) => {
  const out: [string, string, number, string][] = [];
  for (const { method, path } of ops) {
    const body = ["POST", "PUT", "PATCH"].includes(method) ? {} : undefined;
    const r = await apiClient(on, token).call(method, path, body);
    out.push([method, path, r.status, r.body?.error?.code]);
  }
  return out;
};

let stageB: Stage;
let stateB: StateSnapshotter;

beforeAll(async () => {
  stageB = await startStage("stage-b");
  stateB = stateSnapshotter(stageB.info);
});
afterAll(async () => {
  stateB?.close();
  await stageB?.close();
});

describe("stages", () => {
  it("each stage accepts its own token (control)", async () => {
    expect((await apiClient(stageB.info).get("/api/stats")).status).toBe(200);
    expect((await api.get("/api/stats")).status).toBe(200);
  });

  it("refuse each other's tokens on every protected operation, and a refused request changes nothing", async () => {
    const opsB = await protectedOperations(stageB.info);
    expect(opsB.length).toBeGreaterThanOrEqual(20);
    const before = await stateB.lines();
    for (const token of [stack.token, null, "sfts_not-a-real-token"]) {
      const answers = await sendAll(stageB.info, token, opsB);
      expect(answers).toEqual(opsB.map(({ method, path }) => [method, path, 401, "UNAUTHORIZED"]));
    }
    expect(await stateB.lines()).toEqual(before);

    const opsA = await protectedOperations(stack);
    const answers = await sendAll(stack, stageB.info.token, opsA);
    expect(answers).toEqual(opsA.map(({ method, path }) => [method, path, 401, "UNAUTHORIZED"]));
  });
});

describe("a refused request changes neither the table nor the bucket", () => {
  const b = () => apiClient(stageB.info);
  let uploading: string; // a 12 MiB transfer with nothing sent
  let complete: string; // an empty file, complete at once
  let user: Api; // a user-role key of stage B
  let adminKeyId: string;

  beforeAll(async () => {
    uploading = (await initTransfer(b(), randomFile(12 * MiB))).transferId;
    complete = (await initTransfer(b(), Buffer.alloc(0), { name: "empty.txt" })).transferId;
    const created = await b().post("/api/keys", { name: "user", role: "user" });
    user = apiClient(stageB.info, created.body.token);
    adminKeyId = (await b().get("/api/keys/me")).body.keyId;
  });

  const goodSha = sha256(Buffer.from("x"));
  const cases: { name: string; send: () => Promise<ApiResult>; status: number; code: string }[] = [
    {
      // Found by the fuzz test: the empty object was stored before the checksum was compared.
      name: "an empty file whose SHA-256 is not the empty one",
      send: () => b().post("/upload/init", { name: "e.txt", size: 0, sha256: goodSha }),
      status: 400,
      code: "INVALID_INPUT",
    },
    {
      name: "an unknown priority",
      send: () => b().post("/upload/init", { name: "a", size: 10, sha256: goodSha, priority: "urgent" }),
      status: 400,
      code: "INVALID_INPUT",
    },
    {
      name: "presigning for an unknown transfer",
      send: () =>
        b().post("/upload/tr_00000000000000000000000000/parts", {
          parts: [{ partNumber: 1, offset: 0, size: 10, sha256: goodSha }],
        }),
      status: 404,
      code: "NOT_FOUND",
    },
    {
      name: "a part reported done that storage does not hold",
      send: () =>
        b().post(`/upload/${uploading}/parts/1/done`, {
          offset: 0,
          size: 5 * MiB,
          sha256: goodSha,
          etag: '"0123456789abcdef0123456789abcdef"',
        }),
      status: 409,
      code: "PART_NOT_STORED",
    },
    {
      name: "assembling with parts missing",
      send: () => b().post(`/assemble/${uploading}`),
      status: 409,
      code: "PARTS_MISSING",
    },
    {
      name: "sharing a file that is not complete",
      send: () => b().post(`/api/files/${uploading}/share`, {}),
      status: 409,
      code: "INVALID_STATE",
    },
    {
      name: "aborting a complete file",
      send: () => b().del(`/upload/${complete}`),
      status: 409,
      code: "INVALID_STATE",
    },
    {
      name: "revoking a share by an unknown token",
      send: () => b().post("/api/shares/revoke", { token: "x".repeat(32) }),
      status: 404,
      code: "SHARE_NOT_FOUND",
    },
    {
      name: "a user key creating a key",
      send: () => user.post("/api/keys", { name: "sneaky", role: "admin" }),
      status: 403,
      code: "FORBIDDEN",
    },
    {
      name: "an admin key revoking itself",
      send: () => b().del(`/api/keys/${adminKeyId}`),
      status: 409,
      code: "INVALID_STATE",
    },
    {
      name: "a body over the cap",
      send: () =>
        b().post("/upload/init", { name: "n".repeat(MAX_JSON_BODY_BYTES), size: 1, sha256: goodSha }),
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
    },
    {
      name: "a body that is not JSON",
      send: () =>
        b().call("POST", "/upload/init", "name=a", { "content-type": "application/x-www-form-urlencoded" }),
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "a method the route does not answer",
      send: () => b().call("PUT", "/api/stats", {}),
      status: 405,
      code: "METHOD_NOT_ALLOWED",
    },
  ];

  it.each(cases)("$name → $status $code", async (c) => {
    const before = await stateB.lines();
    const r = await c.send();
    expect([r.status, r.body?.error?.code]).toEqual([c.status, c.code]);
    expect(await stateB.lines()).toEqual(before);
  });

  it("(control) an accepted request shows in the state: a new upload in the bucket", async () => {
    const before = await stateB.lines();
    const { transferId } = await initTransfer(b(), randomFile(100));
    const added = (await stateB.lines()).filter((l) => !before.includes(l));
    expect(added).toContainEqual(expect.stringMatching(new RegExp(`^upload objects/${transferId} `)));
    expect(added).toContainEqual(expect.stringMatching(new RegExp(`^item .*"T#${transferId}"`)));
  });
});

describe("presigned URLs are short-lived", () => {
  const config = loadConfig(stack.env);
  const expiresParam = (url: string) => Number(new URL(url).searchParams.get("X-Amz-Expires"));

  it("part URLs carry X-Amz-Expires of the configured lifetime (by default 15 minutes), no more", async () => {
    expect(config.presignExpiresSeconds).toBe(DEFAULT_PRESIGN_EXPIRES_SECONDS);
    const data = randomFile(6 * MiB);
    const init = await api.post("/upload/init", { name: "p.bin", size: data.length, sha256: sha256(data) });
    expect(init.body.limits.presignExpiresSeconds).toBe(config.presignExpiresSeconds);
    const asked = Date.now();
    const r = await api.post(`/upload/${init.body.transferId}/parts`, {
      parts: planParts(data, [5 * MiB, data.length - 5 * MiB]),
    });
    expect(r.status).toBe(200);
    for (const p of r.body.parts as { url: string; expiresAt: string }[]) {
      expect(expiresParam(p.url)).toBe(config.presignExpiresSeconds);
      const lifetime = (Date.parse(p.expiresAt) - asked) / 1000;
      expect(lifetime).toBeGreaterThan(config.presignExpiresSeconds - 5);
      expect(lifetime).toBeLessThanOrEqual(config.presignExpiresSeconds + 1);
    }
  });

  it("download URLs carry the download lifetime, share redirects five minutes", async () => {
    const data = randomFile(100);
    const { transferId } = await initTransfer(api, data);
    await sendParts(api, transferId, data, planParts(data, [data.length]));
    expect((await api.post(`/assemble/${transferId}`)).status).toBe(200);

    const json = await api.get(`/download/${transferId}?redirect=false`);
    expect(expiresParam(json.body.url)).toBe(config.downloadExpiresSeconds);
    const redirect = await api.get(`/download/${transferId}`);
    expect(redirect.status).toBe(302);
    expect(expiresParam(redirect.headers.get("location") ?? "")).toBe(config.downloadExpiresSeconds);

    const share = await api.post(`/api/files/${transferId}/share`, {});
    const opened = await fetch(share.body.url, { redirect: "manual" });
    expect(opened.status).toBe(302);
    expect(expiresParam(opened.headers.get("location") ?? "")).toBe(SHARE_REDIRECT_SECONDS);
  });

  describe("with download URLs that live one second", () => {
    // A second coordinator over the same emulators, configured for very short-lived download URLs.
    const short = createCoordinator(loadConfig({ ...stack.env, SFTS_DOWNLOAD_EXPIRES: "1" }));
    afterAll(() => short.adapters.destroy());

    it("storage serves a download URL at once and refuses it once expired", async () => {
      const data = randomFile(100);
      const { transferId } = await initTransfer(api, data);
      await sendParts(api, transferId, data, planParts(data, [data.length]));
      expect((await api.post(`/assemble/${transferId}`)).status).toBe(200);
      const { url } = await short.service.download(transferId);
      expect(expiresParam(url)).toBe(1);
      const fresh = await fetch(url);
      expect(fresh.status).toBe(200);
      expect(sha256(Buffer.from(await fresh.arrayBuffer()))).toBe(sha256(data));
      await new Promise((r) => setTimeout(r, 2100));
      const late = await fetch(url);
      expect(late.status).toBe(403);
      expect(await late.text()).toMatch(/expired/i);
    });
  });
});

describe("the body cap", () => {
  it("holds for a body sent without Content-Length (chunked)", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_JSON_BODY_BYTES + 64 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${stack.apiUrl}/upload/init`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("rate limits", () => {
  it("are per API key: one key's spent burst does not slow another", async () => {
    // The same emulators, behind a coordinator that allows one request a second per key (burst 2).
    const c = createCoordinator(loadConfig({ ...stack.env, SFTS_RATE_LIMIT: "1", SFTS_RATE_BURST: "2" }));
    try {
      const other = newApiToken();
      await c.adapters.repo.createApiKey(hashToken(other), {
        keyId: newKeyId(),
        name: "other",
        role: "user",
        createdAt: new Date().toISOString(),
      });
      const call = (token: string) =>
        c.app.request("/api/stats", { headers: { authorization: `Bearer ${token}` } });
      const first: number[] = [];
      for (let i = 0; i < 3; i++) first.push((await call(stack.token)).status);
      expect(first).toEqual([200, 200, 429]);
      expect((await call(other)).status).toBe(200);
      expect((await call(stack.token)).status).toBe(429);
    } finally {
      c.adapters.destroy();
    }
  });
});
