/**
 * The storage probe and gate against the test stack's real S3 server (whichever SFTS_TEST_STORAGE
 * selects) and DynamoDB Local: the probe verifies the store under SHA-256 (the server's own profile) and
 * MD5 with uniform parts (generic); a store made to ignore checksums (the test-only setting) is found
 * unverified, and then transfers are refused with the reason, or served as unverified when allowed; the
 * result is kept in the table per configuration, so a second coordinator does not probe again.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { DynamoCall } from "../../functions/adapters/clients.js";
import { StoreProbeTarget } from "../../functions/adapters/store-probe-target.js";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator, probeConfiguration } from "../../functions/api/coordinator.js";
import type { StorageInfo } from "../../functions/contract/storage.js";
import { probeConfigKey } from "../../functions/core/probe-results.js";
import { PROBE_KEY_PREFIX, runStorageProbe } from "../../functions/core/storage-probe.js";
import { getFreePort } from "../../local/ports.js";
import { sha256 } from "../helpers/api.js";
import { httpApiEvent, lambdaContext } from "../helpers/lambda-event.js";

const stack = inject("stack");
/** The profile of the stack's own server (the stack sets it; versitygw's before it did). */
const ownProfile = stack.env.SFTS_STORAGE_PROFILE ?? "versitygw";
const DIGEST = /^400 (BadDigest|InvalidDigest|XAmzContentChecksumMismatch)$/;

type Coordinator = ReturnType<typeof createCoordinator>;
const made: Coordinator[] = [];
afterAll(() => {
  for (const c of made) c.adapters.destroy();
});

function coordinator(env: Record<string, string>, onDynamoCall?: (c: DynamoCall) => void): Coordinator {
  const c = createCoordinator(
    loadConfig({ ...stack.env, SFTS_STORAGE_PROFILE: ownProfile, ...env }),
    undefined,
    onDynamoCall ? { onDynamoCall } : {},
  );
  made.push(c);
  return c;
}

/** A configuration no other test (nor an earlier run) has kept a result for. */
const unique = () => ({ SFTS_VERSION: `probe-test-${randomUUID()}` });

async function call(c: Coordinator, method: string, path: string, body?: unknown) {
  const res = await c.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.token}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** What storage holds under one run's keys: objects and unfinished uploads. */
async function leftUnder(c: Coordinator, prefix: string) {
  const objects = await c.adapters.s3.send(
    new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: prefix }),
  );
  const uploads = await c.adapters.s3.send(
    new ListMultipartUploadsCommand({ Bucket: stack.bucket, Prefix: prefix }),
  );
  return [...(objects.Contents ?? []).map((o) => o.Key), ...(uploads.Uploads ?? []).map((u) => u.Key)];
}

describe("the probe on the stack's store", () => {
  it(`verifies it under SHA-256 (the ${ownProfile} profile), and leaves nothing behind`, async () => {
    const c = coordinator(unique());
    const profile = c.storage.info().rules;
    expect(profile.partCheck).toBe("sha256");
    const runId = randomUUID();
    const probe = await runStorageProbe(
      new StoreProbeTarget(c.adapters.store.internal()),
      { partCheck: "sha256", uniformParts: profile.uniformParts, minPartSize: profile.minPartSize },
      { runId },
    );
    expect(probe.message).toMatch(/refused damaged bytes under the signed SHA-256/);
    expect(probe.state).toBe("verified");
    expect(probe.damagedPart).toMatch(DIGEST);
    expect(probe.damagedObject).toMatch(DIGEST);
    // Storage runs on this machine: its clock is ours, to the Date header's one-second resolution.
    expect(Math.abs(probe.clockSkewMs ?? Number.NaN)).toBeLessThan(2000);
    expect(await leftUnder(c, `${PROBE_KEY_PREFIX}${runId}/`)).toEqual([]);
  });

  it("verifies it under MD5 with uniform parts (the generic profile): the uniform upload assembles, and is deleted", async () => {
    const c = coordinator({ ...unique(), SFTS_STORAGE_PROFILE: "generic" });
    const runId = randomUUID();
    const probe = await runStorageProbe(
      new StoreProbeTarget(c.adapters.store.internal()),
      { partCheck: "md5", uniformParts: true, minPartSize: c.storage.info().rules.minPartSize },
      { runId },
    );
    expect(probe.message).toMatch(/refused damaged bytes under the signed MD5/);
    expect(probe.state).toBe("verified");
    expect(probe.partCheck).toBe("md5");
    expect(probe.damagedPart).toMatch(DIGEST);
    expect(probe.damagedObject).toMatch(DIGEST);
    expect(probe.uniformAssembled).toBe(true);
    expect(await leftUnder(c, `${PROBE_KEY_PREFIX}${runId}/`)).toEqual([]);
  });

  it("the gate serves after a verified probe, and GET /api/storage says so", async () => {
    const c = coordinator({ ...unique(), SFTS_STORAGE_PROFILE: "generic" });
    const r = await call(c, "GET", "/api/storage");
    expect(r.status).toBe(200);
    const info = r.body as StorageInfo;
    expect(info).toMatchObject({
      rules: { profile: "generic", partCheck: "md5", uniformParts: true },
      probe: { state: "verified", partCheck: "md5", uniformAssembled: true },
      serving: true,
      allowUnverified: false,
    });
    const health = await c.app.request("/health");
    expect(health.status).toBe(200);
    expect(((await health.json()) as { storage: object }).storage).toMatchObject({
      profile: "generic",
      probe: "verified",
      serving: true,
    });
  });
});

const file = Buffer.from("bytes storage would not verify");
const init = { name: "x.bin", size: file.length, sha256: sha256(file) };

it("GET /api/storage is described in the OpenAPI document, behind a token", async () => {
  const c = coordinator(unique());
  const doc = (await (await c.app.request("/openapi.json")).json()) as any;
  const get = doc.paths["/api/storage"]?.get;
  expect(get.security).toEqual([{ bearer: [] }]);
  expect(get.responses["200"].content["application/json"].schema).toEqual({
    $ref: "#/components/schemas/StorageInfo",
  });
  expect(Object.keys(doc.components.schemas)).toEqual(
    expect.arrayContaining(["StorageInfo", "StorageProbe", "StorageRules"]),
  );
  expect((await c.app.request("/api/storage")).status).toBe(401);
});

it("POST /api/storage/probe probes again now for an admin key (sfts doctor), and refuses any other key", async () => {
  const c = coordinator(unique());
  const first = await call(c, "GET", "/api/storage");
  expect(first.body.probe.state).toBe("verified");
  await new Promise((r) => setTimeout(r, 5));
  const again = await call(c, "POST", "/api/storage/probe");
  expect(again.status).toBe(200);
  expect(again.body.probe.state).toBe("verified");
  expect(Date.parse(again.body.probe.checkedAt)).toBeGreaterThan(Date.parse(first.body.probe.checkedAt));
  // The new result is the one kept: GET answers it.
  expect((await call(c, "GET", "/api/storage")).body.probe.checkedAt).toBe(again.body.probe.checkedAt);

  const created = await call(c, "POST", "/api/keys", { name: "a sender", role: "user" });
  expect(created.status).toBe(200);
  const asUser = await c.app.request("/api/storage/probe", {
    method: "POST",
    headers: { authorization: `Bearer ${created.body.token}` },
  });
  expect(asUser.status).toBe(403);
  expect(((await asUser.json()) as any).error.code).toBe("FORBIDDEN");
  expect((await c.app.request("/api/storage/probe", { method: "POST" })).status).toBe(401);
  expect((await call(c, "GET", "/api/storage")).body.probe.checkedAt).toBe(again.body.probe.checkedAt);
});

describe("a store that accepts damaged bytes (SFTS_TEST_STORAGE_IGNORES_CHECKSUM=1)", () => {
  it("is found unverified: transfer routes answer 503 STORAGE_UNVERIFIED saying why, reads stay up, health is degraded", async () => {
    const c = coordinator({ ...unique(), SFTS_TEST_STORAGE_IGNORES_CHECKSUM: "1" });
    const info = await c.storage.ensure();
    expect(info.probe.state).toBe("unverified");
    expect(info.probe.damagedPart).toBe("200");
    expect(info.serving).toBe(false);
    expect(c.storage.phase).toBe("refused");

    for (const [method, path, body] of [
      ["POST", "/upload/init", init],
      ["POST", "/batch", { name: "b", files: [] }],
      ["POST", "/upload/tr_00000000000000000000000000/parts", { parts: [] }],
      ["GET", "/upload/missing/tr_00000000000000000000000000", undefined],
      ["POST", "/assemble/tr_00000000000000000000000000", undefined],
    ] as const) {
      const r = await call(c, method, path, body);
      expect({ path, status: r.status, code: r.body.error?.code }).toEqual({
        path,
        status: 503,
        code: "STORAGE_UNVERIFIED",
      });
      expect(r.body.error.message).toMatch(
        /^Storage accepted a part and an object whose bytes did not match/,
      );
      expect(r.body.error.message).toMatch(/SFTS_ALLOW_UNVERIFIED_STORAGE=1/);
    }
    expect((await call(c, "GET", "/api/files?limit=1")).status).toBe(200);
    const storage = await call(c, "GET", "/api/storage");
    expect(storage.status).toBe(200);
    expect(storage.body).toMatchObject({ serving: false, probe: { state: "unverified" } });
    const stats = await call(c, "GET", "/api/stats");
    expect(stats.status).toBe(200);
    expect(stats.body.storage).toMatchObject({ probe: "unverified", serving: false });

    const health = await c.app.request("/health");
    expect(health.status).toBe(503);
    const h = (await health.json()) as { status: string; checks: { s3: { ok: boolean } }; storage: any };
    expect(h.status).toBe("degraded");
    expect(h.checks.s3.ok).toBe(true); // storage is up; it just does not verify
    expect(h.storage).toMatchObject({ profile: ownProfile, probe: "unverified", serving: false });
    expect(h.storage.message).toMatch(
      /accepted .* whose bytes did not match the signed SHA-256.*Transfers are refused/,
    );
  });

  it("with SFTS_ALLOW_UNVERIFIED_STORAGE=1 too, serves transfers, and their records say storageCheck none", async () => {
    const c = coordinator({
      ...unique(),
      SFTS_TEST_STORAGE_IGNORES_CHECKSUM: "1",
      SFTS_ALLOW_UNVERIFIED_STORAGE: "1",
    });
    const r = await call(c, "POST", "/upload/init", { ...init, sha256: sha256(Buffer.from(randomUUID())) });
    expect(r.status).toBe(200);
    expect(c.storage.phase).toBe("unverified-allowed");
    expect(r.body.file.storageCheck).toBe("none");
    expect((await call(c, "GET", `/api/files/${r.body.transferId}`)).body.storageCheck).toBe("none");
    const health = await c.app.request("/health");
    expect(health.status).toBe(200);
    const h = (await health.json()) as { storage: { probe: string; serving: boolean; message: string } };
    expect(h.storage).toMatchObject({ probe: "unverified", serving: true });
    expect(h.storage.message).toMatch(/served anyway/);
  });

  it("a verified store's records say which check storage made", async () => {
    const c = coordinator(unique());
    const r = await call(c, "POST", "/upload/init", { ...init, sha256: sha256(Buffer.from(randomUUID())) });
    expect(r.status).toBe(200);
    expect(r.body.file.storageCheck).toBe("sha256");
  });
});

describe("the result kept in the table", () => {
  const ddb = new DynamoDBClient({
    endpoint: stack.dynamodbEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  afterAll(() => ddb.destroy());

  const keptItem = async (c: Coordinator) => {
    const key = probeConfigKey(probeConfiguration(loadConfig({ ...stack.env, ...envOf(c) })));
    const r = await ddb.send(
      new GetItemCommand({ TableName: stack.table, Key: { PK: { S: `PROBE#${key}` }, SK: { S: "PROBE" } } }),
    );
    return r.Item;
  };
  const envs = new Map<Coordinator, Record<string, string>>();
  const envOf = (c: Coordinator) => envs.get(c) ?? {};
  const withEnv = (env: Record<string, string>, onDynamoCall?: (c: DynamoCall) => void) => {
    const c = coordinator(env, onDynamoCall);
    envs.set(c, { SFTS_STORAGE_PROFILE: ownProfile, ...env });
    return c;
  };

  it("a second coordinator of the same configuration takes it and does not probe", async () => {
    const env = unique();
    const first = withEnv(env);
    expect(await keptItem(first)).toBeUndefined();
    const a = await first.storage.ensure();
    expect(a.probe.state).toBe("verified");
    const item = await keptItem(first);
    expect(item?.probe?.M?.state?.S).toBe("verified");
    expect(item?.probe?.M?.checkedAt?.S).toBe(a.probe.checkedAt);

    const calls: DynamoCall[] = [];
    const second = withEnv(env, (call) => calls.push(call));
    const b = await second.storage.ensure();
    expect(b.probe).toEqual(a.probe); // the same result, checkedAt included: no probe ran
    expect(calls.map((x) => x.operation)).toEqual(["GetItem"]);
  });

  it("concurrent first coordinators keep one result between them", async () => {
    const env = unique();
    const [a, b] = await Promise.all([withEnv(env).storage.ensure(), withEnv(env).storage.ensure()]);
    const item = await keptItem(withEnv(env));
    expect(a.probe).toEqual(b.probe);
    expect(item?.probe?.M?.checkedAt?.S).toBe(a.probe.checkedAt);
  });

  it("ensure({ fresh: true }) probes again and replaces it (npm start)", async () => {
    const env = unique();
    const c = withEnv(env);
    const a = await c.storage.ensure();
    const b = await withEnv(env).storage.ensure({ fresh: true });
    expect(b.probe.checkedAt).not.toBe(a.probe.checkedAt);
    expect((await keptItem(c))?.probe?.M?.checkedAt?.S).toBe(b.probe.checkedAt);
  });

  it("a probe that could not finish is not kept, and health says why", async () => {
    const closed = await getFreePort();
    const env = { ...unique(), SFTS_S3_ENDPOINT: `http://127.0.0.1:${closed}` };
    const c = withEnv(env);
    const info = await c.storage.ensure();
    expect(info.probe.state).toBe("failed");
    expect(info.probe.message).toMatch(/^The storage probe could not finish: storage could not be reached/);
    expect(await keptItem(c)).toBeUndefined();
    const r = await call(c, "POST", "/upload/init", init);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("STORAGE_UNVERIFIED");
    expect(r.body.error.message).toMatch(/Transfers are refused until a probe succeeds/);
    const health = await c.app.request("/health");
    const h = (await health.json()) as { status: string; storage: { probe: string; message: string } };
    expect(h.status).toBe("degraded");
    expect(h.storage.probe).toBe("failed");
  });
});

describe("the Lambda entry point", () => {
  const ddb = new DynamoDBClient({
    endpoint: stack.dynamodbEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const saved = { ...process.env };
  afterAll(() => {
    ddb.destroy();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it("settles the gate before its first answer: the probe has run and its result is kept, and transfers are refused on storage that does not verify", async () => {
    const env = {
      ...stack.env,
      SFTS_STORAGE_PROFILE: ownProfile,
      SFTS_TEST_STORAGE_IGNORES_CHECKSUM: "1",
      SFTS_LOG_LEVEL: "warn",
      ...unique(),
    };
    const key = probeConfigKey(probeConfiguration(loadConfig(env)));
    const kept = async () =>
      (
        await ddb.send(
          new GetItemCommand({
            TableName: stack.table,
            Key: { PK: { S: `PROBE#${key}` }, SK: { S: "PROBE" } },
          }),
        )
      ).Item;
    expect(await kept()).toBeUndefined();
    Object.assign(process.env, env);
    const { handler } = await import("../../functions/api/lambda.js");
    const via = async (method: string, path: string, body?: unknown) => {
      const res = await handler(
        httpApiEvent(method, path, {
          headers: {
            authorization: `Bearer ${stack.token}`,
            ...(body !== undefined && { "content-type": "application/json" }),
          },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        }) as never,
        lambdaContext as never,
      );
      return { status: res.statusCode, body: JSON.parse(res.body ?? "null") };
    };
    // A read is served, and by the time it is answered the probe has run and its result is kept.
    expect((await via("GET", "/api/files?limit=1")).status).toBe(200);
    expect((await kept())?.probe?.M?.state?.S).toBe("unverified");
    const r = await via("POST", "/upload/init", init);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("STORAGE_UNVERIFIED");
    const h = await via("GET", "/health");
    expect(h.status).toBe(503);
    expect(h.body.storage).toMatchObject({ probe: "unverified", serving: false });
  });
});
