import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import { hashToken, newApiToken, newKeyId } from "../../functions/core/ids.js";
import { getFreePort } from "../../local/ports.js";
import {
  type Api,
  apiClient,
  initTransfer,
  planParts,
  protectedOperations,
  randomFile,
  sendParts,
  sha256,
  tableSnapshot,
} from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
beforeAll(() => {
  api = apiClient(stack);
});

async function completeFile(bytes: number, priority: string, name = "f.bin") {
  const data = randomFile(bytes);
  const { transferId } = await initTransfer(api, data, { priority, name });
  await sendParts(api, transferId, data, planParts(data, [bytes]));
  await api.post(`/assemble/${transferId}`);
  return transferId;
}

describe("listing files", () => {
  const tag = `list-${Date.now()}`;
  const ids: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) ids.push(await completeFile(100 + i, i % 2 ? "high" : "low", `${tag}-${i}`));
    const open = randomFile(6 * 1024 * 1024);
    ids.push((await initTransfer(api, open, { priority: "high", name: `${tag}-open` })).transferId);
  });

  it("pages newest first with an opaque cursor, without repeats, to the end", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const r = await api.get(`/api/files?limit=2${q}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items.map((i: { id: string }) => i.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 500);
    expect(new Set(seen).size).toBe(seen.length);
    const mine = seen.filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].reverse());
  });

  it("filters by status and by priority", async () => {
    const uploading = await api.get("/api/files?status=uploading&limit=1000");
    expect(uploading.body.items.every((i: { status: string }) => i.status === "uploading")).toBe(true);
    expect(uploading.body.items.map((i: { id: string }) => i.id)).toContain(ids[4]);
    const highComplete = await api.get("/api/files?status=complete&priority=high&limit=1000");
    const names = highComplete.body.items.map((i: { name: string }) => i.name);
    expect(names).toEqual(expect.arrayContaining([`${tag}-1`, `${tag}-3`]));
    expect(names).not.toContain(`${tag}-0`);
    expect(highComplete.body.items.every((i: { priority: string }) => i.priority === "high")).toBe(true);
  });

  it("finds transfers by content (sha256 and size)", async () => {
    const info = await api.get(`/api/files/${ids[0]}`);
    const r = await api.get(`/api/files?sha256=${info.body.sha256}&size=${info.body.size}`);
    expect(r.body.items.map((i: { id: string }) => i.id)).toEqual([ids[0]]);
  });

  it("keeps internal storage names out of answers", async () => {
    const r = await api.get(`/api/files/${ids[0]}`);
    expect(r.body).not.toHaveProperty("objectKey");
    expect(r.body).not.toHaveProperty("uploadId");
    expect(r.body).not.toHaveProperty("PK");
  });
});

describe("stats", () => {
  it("counts by status and priority, bytes and success rate move with transfers", async () => {
    const before = (await api.get("/api/stats")).body;
    await completeFile(1234, "high");
    const after = (await api.get("/api/stats")).body;
    expect(after.transfers.byStatus.complete).toBe(before.transfers.byStatus.complete + 1);
    expect(after.transfers.byPriority.high).toBe(before.transfers.byPriority.high + 1);
    expect(after.transfers.total).toBe(before.transfers.total + 1);
    expect(after.bytes.stored).toBe(before.bytes.stored + 1234);
    expect(after.bytes.received).toBe(before.bytes.received + 1234);
    expect(after.successRate).toBeGreaterThan(0);
    expect(after.successRate).toBeLessThanOrEqual(1);
    expect(after.meanSpeedBps).toBeGreaterThan(0);
  });
});

describe("health and the API description", () => {
  it("reports S3 and DynamoDB, without a token", async () => {
    const r = await apiClient(stack, null).get("/health");
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ok");
    expect(r.body.checks.s3.ok).toBe(true);
    expect(r.body.checks.dynamodb.ok).toBe(true);
  });

  it("says which dependency is down (503)", async () => {
    const closed = await getFreePort();
    const broken = createCoordinator(
      loadConfig({ ...stack.env, SFTS_DYNAMODB_ENDPOINT: `http://127.0.0.1:${closed}` }),
    );
    const res = await broken.app.request("/health");
    expect(res.status).toBe(503);
    const body = (await res.json()) as {
      status: string;
      checks: { s3: { ok: boolean }; dynamodb: { ok: boolean; error: string } };
    };
    expect(body.status).toBe("degraded");
    expect(body.checks.s3.ok).toBe(true);
    expect(body.checks.dynamodb.ok).toBe(false);
    expect(body.checks.dynamodb.error).toMatch(/database/i);
    // …and a request that needs the table answers 503 with the catalogue's code, not a stack trace.
    const r = await broken.app.request("/api/stats", { headers: { authorization: `Bearer ${stack.token}` } });
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("DATABASE_UNAVAILABLE");
    broken.adapters.destroy();
  });

  it("serves an OpenAPI 3.1 document naming every route", async () => {
    const r = await apiClient(stack, null).get("/openapi.json");
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    expect(Object.keys(r.body.paths)).toEqual(
      expect.arrayContaining([
        "/api/files",
        "/api/files/{id}",
        "/api/files/{id}/share",
        "/api/files/{id}/shares",
        "/api/files/{id}/shares/{shareId}",
        "/api/shares/revoke",
        "/s/{token}",
        "/api/stats",
        "/assemble/{id}",
        "/download/{id}",
        "/health",
        "/upload/init",
        "/upload/missing/{id}",
        "/upload/{id}",
        "/upload/{id}/parts",
        "/upload/{id}/parts/{n}/done",
        "/api/stats/series",
        "/api/files/{id}/events",
        "/api/errors",
      ]),
    );
    expect(r.body.components.securitySchemes.bearer.scheme).toBe("bearer");
  });
});

describe("secrets", () => {
  it("stores API keys hashed: the token appears nowhere in the table", async () => {
    const snapshot = await tableSnapshot(stack);
    expect(snapshot).toContain("KEY#");
    expect(snapshot).not.toContain(stack.token);
  });

  it("never writes tokens or presigned signatures to the API log", async () => {
    const r = await apiClient(stack, "sfts_thisIsAWrongTokenThatMustNotBeLogged").get("/api/stats");
    const requestId = r.headers.get("x-request-id") ?? "";
    // The log is written through a stream: wait until this request's line is there.
    let log = "";
    for (let i = 0; i < 50 && !log.includes(requestId); i++) {
      log = await readFile(join(stack.dataDir, "logs", "api.log"), "utf8");
      if (!log.includes(requestId)) await new Promise((w) => setTimeout(w, 50));
    }
    expect(log).toContain(`"requestId":"${requestId}","method":"GET","path":"/api/stats","status":401`);
    expect(log).not.toContain(stack.token);
    expect(log).not.toContain("thisIsAWrongTokenThatMustNotBeLogged");
    expect(log).not.toMatch(/X-Amz-Signature=[0-9a-f]{16}/);
  });
});

describe("finding an open upload by content", () => {
  it("lists only uploads still open for that SHA-256 and size, through the sparse index", async () => {
    const data = randomFile(6 * 1024 * 1024);
    const first = await api.post("/upload/init", {
      name: "first-host.bin",
      size: data.length,
      sha256: sha256(data),
    });
    expect(first.body.resumed).toBe(false);
    const a = first.body.transferId as string;
    // A second host sending the same content goes on with the open upload instead of starting another.
    const second = await api.post("/upload/init", {
      name: "second-host.bin",
      size: data.length,
      sha256: sha256(data),
    });
    expect(second.body).toMatchObject({ transferId: a, resumed: true, status: "uploading" });
    const q = `/api/files?status=uploading&sha256=${sha256(data)}&size=${data.length}`;
    expect((await api.get(q)).body.items.map((i: { id: string }) => i.id)).toEqual([a]);
    await api.del(`/upload/${a}`);
    expect((await api.get(q)).body.items).toEqual([]);
    // Once aborted it is not resumed: a new init starts afresh.
    const third = await api.post("/upload/init", {
      name: "third.bin",
      size: data.length,
      sha256: sha256(data),
    });
    expect(third.body.resumed).toBe(false);
    expect(third.body.transferId).not.toBe(a);
    await api.del(`/upload/${third.body.transferId}`);
  });
});

describe("the bucket's CORS rules", () => {
  it("let a browser on the API's origin PUT parts and read ETag and the checksum", async () => {
    const res = await fetch(`${stack.s3Endpoint}/${stack.bucket}/objects/x?partNumber=1&uploadId=y`, {
      method: "OPTIONS",
      headers: {
        origin: stack.apiUrl,
        "access-control-request-method": "PUT",
        "access-control-request-headers": "x-amz-checksum-sha256,content-type",
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(stack.apiUrl);
    expect(res.headers.get("access-control-allow-methods")).toContain("PUT");
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    expect(exposed).toContain("etag");
    expect(exposed).toContain("x-amz-checksum-sha256");
  });

  it("refuse an origin they do not name", async () => {
    const res = await fetch(`${stack.s3Endpoint}/${stack.bucket}/objects/x`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "PUT" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("API keys", () => {
  it("a key added to the table works; a revoked one is refused", async () => {
    const c = createCoordinator(loadConfig(stack.env));
    const good = newApiToken();
    const revoked = newApiToken();
    const now = new Date().toISOString();
    await c.adapters.repo.createApiKey(hashToken(good), { keyId: newKeyId(), name: "ops", createdAt: now });
    await c.adapters.repo.createApiKey(hashToken(revoked), {
      keyId: newKeyId(),
      name: "old",
      createdAt: now,
      revokedAt: now,
    });
    expect((await apiClient(stack, good).get("/api/stats")).status).toBe(200);
    const r = await apiClient(stack, revoked).get("/api/stats");
    expect(r.status).toBe(401);
    expect(r.body.error.message).toBe("The API token is not valid.");
    c.adapters.destroy();
  });
});

describe("every route but health, the API description and share links needs a valid token", () => {
  it("answers 401 without one and with a wrong one, on every documented operation", async () => {
    let checked = 0;
    for (const { method, path } of await protectedOperations(stack)) {
      for (const token of [null, "sfts_not-a-real-token"]) {
        const body = ["POST", "PUT", "PATCH"].includes(method) ? {} : undefined;
        const r = await apiClient(stack, token).call(method, path, body);
        expect([path, method, r.status]).toEqual([path, method, 401]);
        expect(r.body.error.code).toBe("UNAUTHORIZED");
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(40);
  });
});
