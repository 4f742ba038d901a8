/**
 * API keys over HTTP against the local stack: who am I, create (token once), list (no tokens), revoke;
 * only admin keys manage keys. The stack's development key predates roles, so it counts as admin.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import { hashToken } from "../../functions/core/ids.js";
import { type Api, apiClient } from "../helpers/api.js";

const stack = inject("stack");
let admin: Api;
let c: ReturnType<typeof createCoordinator>;

beforeAll(() => {
  admin = apiClient(stack);
  c = createCoordinator(loadConfig(stack.env));
});
afterAll(() => c.adapters.destroy());

/** A token's standing as a freshly started API instance sees it (no 30 s key cache in the way). */
async function freshStatus(token: string): Promise<number> {
  const fresh = createCoordinator(loadConfig(stack.env));
  try {
    const res = await fresh.app.request("/api/stats", { headers: { authorization: `Bearer ${token}` } });
    return res.status;
  } finally {
    fresh.adapters.destroy();
  }
}

describe("API keys", () => {
  let userToken: string;
  let userKeyId: string;

  it("tells a key who it is, never with a token", async () => {
    const me = await admin.get("/api/keys/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ keyId: expect.stringMatching(/^key_/), role: "admin" });
    expect(JSON.stringify(me.body)).not.toContain(stack.token);
  });

  it("an admin creates a user key; the token is in that answer only", async () => {
    const r = await admin.post("/api/keys", { name: "  ci runner  " });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: "ci runner", role: "user", token: expect.stringMatching(/^sfts_/) });
    userToken = r.body.token;
    userKeyId = r.body.keyId;
    const me = await apiClient(stack, userToken).get("/api/keys/me");
    expect(me.body).toMatchObject({
      keyId: userKeyId,
      role: "user",
      createdBy: expect.stringMatching(/^key_/),
    });
  });

  it("lists keys newest first, without tokens or their hashes", async () => {
    await admin.post("/api/keys", { name: "later", role: "user" });
    const r = await admin.get("/api/keys");
    expect(r.status).toBe(200);
    const names = r.body.items.map((k: { name: string }) => k.name);
    expect(names.indexOf("later")).toBeLessThan(names.indexOf("ci runner"));
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(userToken);
    expect(text).not.toContain(hashToken(userToken));
    expect(text).not.toContain('"token"');
  });

  it("a user key may transfer but not manage keys (403 FORBIDDEN)", async () => {
    const user = apiClient(stack, userToken);
    expect((await user.get("/api/stats")).status).toBe(200);
    for (const r of [
      await user.get("/api/keys"),
      await user.post("/api/keys", { name: "sneaky", role: "admin" }),
      await user.del(`/api/keys/${userKeyId}`),
    ]) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe("FORBIDDEN");
    }
  });

  it("refuses bad input with the catalogue's codes", async () => {
    expect((await admin.post("/api/keys", { name: "" })).body.error.code).toBe("INVALID_INPUT");
    expect((await admin.post("/api/keys", { name: "x", role: "root" })).status).toBe(400);
    expect((await admin.post("/api/keys", { name: "x", extra: 1 })).status).toBe(400);
    expect((await admin.del("/api/keys/not-a-key")).status).toBe(400);
    const missing = await admin.del("/api/keys/key_0000000000000000");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("NOT_FOUND");
    expect((await apiClient(stack, null).get("/api/keys")).status).toBe(401);
  });

  it("revokes a key: a fresh instance refuses it at once, others within the 30 s cache", async () => {
    const r = await admin.del(`/api/keys/${userKeyId}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ keyId: userKeyId, revokedAt: expect.any(String) });
    expect(await freshStatus(userToken)).toBe(401);
    const again = await admin.del(`/api/keys/${userKeyId}`);
    expect(again.body.revokedAt).toBe(r.body.revokedAt);
    const listed = (await admin.get("/api/keys")).body.items.find(
      (k: { keyId: string }) => k.keyId === userKeyId,
    );
    expect(listed.revokedAt).toBe(r.body.revokedAt);
  });

  it("an admin cannot revoke the key it is using (one admin key must be left)", async () => {
    const created = await admin.post("/api/keys", { name: "second admin", role: "admin" });
    const second = apiClient(stack, created.body.token);
    const r = await second.del(`/api/keys/${created.body.keyId}`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("INVALID_STATE");
  });

  it("is described in the OpenAPI document", async () => {
    const doc = (await admin.get("/openapi.json")).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/keys", "/api/keys/me", "/api/keys/{keyId}"]),
    );
  });
});

describe("the first admin key (from the SST secret)", () => {
  it("is stored once however many cold starts race, and a revoked one stays revoked", async () => {
    const token = `sfts_${randomBytes(32).toString("base64url")}`;
    const name = `first admin ${randomBytes(4).toString("hex")}`;
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => c.keys.ensureAdminKey(token, name)));
    expect(outcomes.filter((o) => o === "created")).toHaveLength(1);
    const mine = (await admin.get("/api/keys")).body.items.filter((k: { name: string }) => k.name === name);
    expect(mine).toHaveLength(1);
    expect(mine[0].role).toBe("admin");
    expect(await freshStatus(token)).toBe(200);

    expect((await admin.del(`/api/keys/${mine[0].keyId}`)).status).toBe(200);
    expect(await c.keys.ensureAdminKey(token, name)).toBe("exists");
    expect(await freshStatus(token)).toBe(401);
  });

  it("does nothing without a secret", async () => {
    expect(await c.keys.ensureAdminKey(undefined, "none")).toBe("none");
  });
});
