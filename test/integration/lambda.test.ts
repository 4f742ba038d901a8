import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
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
import { httpApiEvent, lambdaContext } from "../helpers/lambda-event.js";

const stack = inject("stack");
let api: Api;
type Handler = (event: unknown, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;
let handler: Handler;

beforeAll(async () => {
  api = apiClient(stack);
  // The real entry point, configured from the environment exactly as a Lambda would be.
  Object.assign(process.env, stack.env, { SFTS_LOG_LEVEL: "warn" });
  handler = (await import("../../functions/api/lambda.js")).handler as unknown as Handler;
});

async function viaLambda(method: string, path: string, body?: unknown, token: string | null = stack.token) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const event = httpApiEvent(method, path, {
    headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const res = await handler(event, lambdaContext);
  const text = res.isBase64Encoded
    ? Buffer.from(res.body ?? "", "base64").toString("utf8")
    : (res.body ?? "");
  return {
    status: res.statusCode ?? 0,
    body: text ? JSON.parse(text) : undefined,
    headers: res.headers ?? {},
  };
}

/** Fields that differ between two calls by nature (clock, request id). */
const volatile = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v, (k, x) =>
      ["generatedAt", "time", "latencyMs", "expiresAt", "url"].includes(k) ? "·" : x,
    ),
  );

describe("the Lambda entry point answers as the local server does", () => {
  let id: string;
  const data = randomFile(6 * MiB + 10);

  it("drives a whole upload through API Gateway v2 events", async () => {
    const init = await viaLambda("POST", "/upload/init", {
      name: "lambda.bin",
      size: data.length,
      sha256: sha256(data),
    });
    expect(init.status).toBe(200);
    id = init.body.transferId;
    const parts = planParts(data, [6 * MiB, 10]);
    const presign = await viaLambda("POST", `/upload/${id}/parts`, { parts });
    expect(presign.status).toBe(200);
    for (const [i, signed] of presign.body.parts.entries()) {
      const p = parts[i]!;
      const put = await fetch(signed.url, {
        method: "PUT",
        headers: signed.headers,
        body: data.subarray(p.offset, p.offset + p.size),
      });
      expect(put.status).toBe(200);
      const done = await viaLambda("POST", `/upload/${id}/parts/${p.partNumber}/done`, {
        offset: p.offset,
        size: p.size,
        sha256: p.sha256,
        etag: put.headers.get("etag"),
      });
      expect(done.status).toBe(200);
    }
    const assembled = await viaLambda("POST", `/assemble/${id}`);
    expect(assembled.status).toBe(200);
    expect(assembled.body.status).toBe("complete");
  });

  it.each([
    ["GET", () => `/api/files/${id}`],
    ["GET", () => `/upload/missing/${id}`],
    ["GET", () => "/api/files?limit=5"],
    ["GET", () => "/api/stats"],
    ["GET", () => "/health"],
    ["GET", () => `/download/${id}?redirect=false`],
    ["POST", () => `/assemble/${id}`],
    ["GET", () => "/api/files/tr_00000000000000000000000000"],
    ["GET", () => "/api/files?limit=0"],
    ["POST", () => "/upload/init"],
  ])("%s %s", async (method, path) => {
    const p = path();
    const body = method === "POST" && p === "/upload/init" ? { name: "" } : undefined;
    const local = await api.call(method, p, body);
    const lambda = await viaLambda(method, p, body);
    expect(lambda.status).toBe(local.status);
    expect(volatile(lambda.body)).toEqual(volatile(local.body));
  });

  it("redirects a download the same way", async () => {
    const lambda = await viaLambda("GET", `/download/${id}`);
    expect(lambda.status).toBe(302);
    const location = String(lambda.headers.location);
    const got = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(sha256(got)).toBe(sha256(data));
  });

  it("refuses a request without a token", async () => {
    const r = await viaLambda("GET", "/api/stats", undefined, null);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("UNAUTHORIZED");
  });

  it("data written through the local server is read through Lambda and the reverse", async () => {
    const small = randomFile(10);
    const { transferId } = await initTransfer(api, small);
    await sendParts(api, transferId, small, planParts(small, [10]));
    expect((await viaLambda("POST", `/assemble/${transferId}`)).status).toBe(200);
    expect((await api.get(`/api/files/${transferId}`)).body.status).toBe("complete");
  });
});
