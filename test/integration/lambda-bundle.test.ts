/**
 * The Lambda bundles as `sst deploy` ships them (scripts/build-lambda.mjs: esbuild, ESM, node22), imported
 * and invoked with the environment SST gives a linked function — SST_RESOURCE_<Name> JSON variables, or the
 * encrypted resource.enc beside the bundle with SST_KEY — and no SFTS_BUCKET or SFTS_TABLE: the names come
 * from the links. Only the emulators' endpoints are added, as no AWS account is at hand.
 */
import { execFileSync } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { LINKS } from "../../functions/api/sst-links.js";
import { MiB, planParts, randomFile, sha256 } from "../helpers/api.js";
import { repoRoot } from "../helpers/build.js";
import { httpApiEvent, lambdaContext } from "../helpers/lambda-event.js";

const stack = inject("stack");
type Handler = (event: unknown, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;

let dir: string;
let bundles: { api: string; janitor: string };
const savedEnv = { ...process.env };
const adminToken = `sfts_${randomBytes(32).toString("base64url")}`;
const links = {
  [LINKS.bucket]: { name: stack.bucket, type: "sst.sst.Linkable" },
  [LINKS.table]: { name: stack.table, type: "sst.sst.Linkable" },
  [LINKS.adminKey]: { value: adminToken, type: "sst.sst.Secret" },
};

/** What SST sets on a deployed function, plus the emulators' endpoints (no bucket or table names). */
function lambdaEnvironment(): Record<string, string> {
  const emulators = Object.fromEntries(
    Object.entries(stack.env).filter(([k]) => k !== "SFTS_BUCKET" && k !== "SFTS_TABLE"),
  );
  return {
    ...emulators,
    AWS_LAMBDA_FUNCTION_NAME: "sfts-test-CoordinatorFunction",
    AWS_REGION: "us-east-1",
    SFTS_LOG_LEVEL: "warn",
    SST_RESOURCE_App: JSON.stringify({ name: "sfts", stage: "test" }),
  };
}

function setEnv(env: Record<string, string>) {
  for (const k of Object.keys(process.env))
    if (k.startsWith("SFTS_") || k.startsWith("SST_")) delete process.env[k];
  Object.assign(process.env, env);
}

/** A fresh module instance, as a new container would load it (the query makes a new ESM cache entry). */
const coldStart = async (file: string, instance: string) =>
  (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?${instance}`)) as { handler: Handler };

async function call(handler: Handler, method: string, path: string, body?: unknown, token = adminToken) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await handler(
    httpApiEvent(method, path, { headers, ...(body !== undefined && { body: JSON.stringify(body) }) }),
    lambdaContext,
  );
  const text = res.isBase64Encoded
    ? Buffer.from(res.body ?? "", "base64").toString("utf8")
    : (res.body ?? "");
  return { status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sfts-lambda-bundle-"));
  execFileSync(process.execPath, [join(repoRoot, "scripts", "build-lambda.mjs"), dir], { cwd: repoRoot });
  bundles = { api: join(dir, "api", "lambda.mjs"), janitor: join(dir, "janitor", "janitor-lambda.mjs") };
}, 120_000);

afterAll(async () => {
  setEnv({});
  Object.assign(process.env, savedEnv);
  await rm(dir, { recursive: true, force: true });
});

describe("the built API bundle, configured by SST_RESOURCE_* links", () => {
  let handler: Handler;
  beforeAll(async () => {
    setEnv({
      ...lambdaEnvironment(),
      ...Object.fromEntries(Object.entries(links).map(([k, v]) => [`SST_RESOURCE_${k}`, JSON.stringify(v)])),
    });
    handler = (await coldStart(bundles.api, "links")).handler;
  });

  it("stores the first admin key from the linked secret on its cold start", async () => {
    const me = await call(handler, "GET", "/api/keys/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ role: "admin", name: "first admin (AdminApiKey secret)" });
  });

  it("init → presign → PUT → part done → assemble, through API Gateway v2 events", async () => {
    const data = randomFile(5 * MiB + 123);
    const init = await call(handler, "POST", "/upload/init", {
      name: "bundle.bin",
      size: data.length,
      sha256: sha256(data),
    });
    expect(init.status).toBe(200);
    const id = init.body.transferId as string;
    const parts = planParts(data, [5 * MiB, 123]);
    const presign = await call(handler, "POST", `/upload/${id}/parts`, { parts });
    expect(presign.status).toBe(200);
    for (const [i, signed] of presign.body.parts.entries()) {
      const p = parts[i]!;
      const put = await fetch(signed.url, {
        method: "PUT",
        headers: signed.headers,
        body: data.subarray(p.offset, p.offset + p.size),
      });
      expect(put.status).toBe(200);
      const done = await call(handler, "POST", `/upload/${id}/parts/${p.partNumber}/done`, {
        offset: p.offset,
        size: p.size,
        sha256: p.sha256,
        etag: put.headers.get("etag"),
      });
      expect(done.status).toBe(200);
    }
    const assembled = await call(handler, "POST", `/assemble/${id}`);
    expect(assembled.status).toBe(200);
    expect(assembled.body.status).toBe("complete");
    const download = await call(handler, "GET", `/download/${id}?redirect=false`);
    const got = Buffer.from(await (await fetch(download.body.url)).arrayBuffer());
    expect(sha256(got)).toBe(sha256(data));
  });

  it("another cold start does not store the admin key again", async () => {
    const again = (await coldStart(bundles.api, "links-again")).handler;
    expect((await call(again, "GET", "/api/keys/me")).status).toBe(200);
    const list = await call(again, "GET", "/api/keys");
    const firsts = list.body.items.filter(
      (k: { name: string }) => k.name === "first admin (AdminApiKey secret)",
    );
    expect(firsts).toHaveLength(1);
  });
});

describe("the built API bundle, configured by SST's encrypted resource.enc (as deployed)", () => {
  it("reads bucket, table and admin key from the file SST_KEY decrypts", async () => {
    // SST writes the links as JSON, AES-256-GCM with a zero nonce and the tag appended (sst/resource.js).
    const key = randomBytes(32);
    const cipher = createCipheriv("aes-256-gcm", key, Buffer.alloc(12, 0));
    const sealed = Buffer.concat([cipher.update(JSON.stringify(links)), cipher.final(), cipher.getAuthTag()]);
    const file = join(dir, "api", "resource.enc");
    await writeFile(file, sealed);
    setEnv({ ...lambdaEnvironment(), SST_KEY: key.toString("base64"), SST_KEY_FILE: file });
    const { handler } = await coldStart(bundles.api, "enc");
    const health = await call(handler, "GET", "/health");
    expect(health.status).toBe(200);
    const stats = await call(handler, "GET", "/api/stats");
    expect(stats.status).toBe(200);
    expect(stats.body.transfers.byStatus.complete).toBeGreaterThanOrEqual(1);
  });
});

describe("the built janitor bundle", () => {
  it("runs on a schedule's event and logs one JSON line with the bytes held in incomplete uploads", async () => {
    setEnv({
      ...lambdaEnvironment(),
      AWS_LAMBDA_FUNCTION_NAME: "sfts-test-JanitorHandler",
      SFTS_LOG_LEVEL: "info",
      // Thresholds no transfer of the shared test stack reaches: this run must not act on other tests' work.
      SFTS_ABANDONED_AFTER_HOURS: "100000",
      SFTS_ASSEMBLING_STUCK_MINUTES: "100000",
      [`SST_RESOURCE_${LINKS.bucket}`]: JSON.stringify(links[LINKS.bucket]),
      [`SST_RESOURCE_${LINKS.table}`]: JSON.stringify(links[LINKS.table]),
    });
    const { handler } = (await coldStart(bundles.janitor, "janitor")) as unknown as {
      handler: (event: unknown) => Promise<Record<string, unknown>>;
    };
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let result: Record<string, unknown>;
    try {
      result = await handler({ source: "aws.events", "detail-type": "Scheduled Event" });
    } finally {
      spy.mockRestore();
    }
    expect(result).toMatchObject({ aborted: expect.any(Number), bytesHeld: expect.any(Number) });
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "janitor");
    expect(logged).toMatchObject({ level: "info", fn: "janitor", bytesHeld: result.bytesHeld });
  });
});
