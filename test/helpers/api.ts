/** Small helpers for driving the coordinator over HTTP in tests, with plain fetch. */
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import type { StackInfo } from "./stack.js";

export const MiB = 1024 * 1024;
export const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

export interface ApiResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export function apiClient(stack: StackInfo, token: string | null = stack.token) {
  async function call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === "string" ? body : JSON.stringify(body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers,
      body: payload ?? null,
      redirect: "manual",
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    call,
    get: <T = any>(path: string) => call<T>("GET", path),
    post: <T = any>(path: string, body?: unknown) => call<T>("POST", path, body),
    del: <T = any>(path: string) => call<T>("DELETE", path),
  };
}

export type Api = ReturnType<typeof apiClient>;

export interface PlannedPart {
  partNumber: number;
  offset: number;
  size: number;
  sha256: string;
}

export function planParts(data: Uint8Array, sizes: readonly number[]): PlannedPart[] {
  let offset = 0;
  return sizes.map((size, i) => {
    const p = { partNumber: i + 1, offset, size, sha256: sha256(data.subarray(offset, offset + size)) };
    offset += size;
    return p;
  });
}

export function randomFile(size: number): Buffer {
  return randomBytes(size);
}

export async function initTransfer(api: Api, data: Uint8Array, extra: Record<string, unknown> = {}) {
  const r = await api.post("/upload/init", {
    name: "file.bin",
    size: data.length,
    sha256: sha256(data),
    ...extra,
  });
  if (r.status !== 200) throw new Error(`init failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { transferId: string; status: string; deduplicated: boolean; partSize: number };
}

/** Presigns, PUTs (plain fetch, straight to storage) and reports the given parts; returns each PUT's ETag. */
export async function sendParts(
  api: Api,
  id: string,
  data: Uint8Array,
  parts: readonly PlannedPart[],
  done = true,
) {
  const r = await api.post(`/upload/${id}/parts`, { parts });
  if (r.status !== 200) throw new Error(`presign failed: ${r.status} ${JSON.stringify(r.body)}`);
  const etags: string[] = [];
  for (const [i, signed] of (r.body.parts as { url: string; headers: Record<string, string> }[]).entries()) {
    const p = parts[i] as PlannedPart;
    const put = await fetch(signed.url, {
      method: "PUT",
      headers: signed.headers,
      body: data.subarray(p.offset, p.offset + p.size),
    });
    if (put.status !== 200) throw new Error(`PUT part ${p.partNumber}: ${put.status} ${await put.text()}`);
    const etag = put.headers.get("etag") ?? "";
    etags.push(etag);
    if (done) {
      const d = await api.post(`/upload/${id}/parts/${p.partNumber}/done`, {
        offset: p.offset,
        size: p.size,
        sha256: p.sha256,
        etag,
      });
      if (d.status !== 200) throw new Error(`done ${p.partNumber}: ${d.status} ${JSON.stringify(d.body)}`);
    }
  }
  return etags;
}

/** JSON with object keys sorted at every depth, so equal items print equal. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

/** Every item of the table, sorted, as JSON: for "nothing changed" assertions. */
export async function tableSnapshot(stack: StackInfo): Promise<string> {
  const ddb = new DynamoDBClient({
    endpoint: stack.dynamodbEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const items: string[] = [];
  let start: Record<string, any> | undefined;
  do {
    const r = await ddb.send(
      new ScanCommand({ TableName: stack.table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    // The activity log (timelines, recent errors, per-minute counters) records rejected requests on
    // purpose; it is a log, not state, so "nothing changed" is about everything else.
    for (const i of r.Items ?? [])
      if (!["event", "error"].includes(String(i.type?.S)) && i.PK?.S !== "SERIES")
        items.push(canonicalJson(i));
    start = r.LastEvaluatedKey;
  } while (start);
  ddb.destroy();
  return items.sort().join("\n");
}

/**
 * A PUT that reports the server's answer even when the server answers and closes before the body is sent
 * (S3 servers reject bad signatures early; fetch then only sees ECONNRESET).
 */
export function rawPut(
  url: string | URL,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method: "PUT", headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

/** Every documented operation but the public ones, with its path parameters filled in. */
export async function protectedOperations(on: StackInfo): Promise<{ method: string; path: string }[]> {
  const doc = (await apiClient(on, null).get("/openapi.json")).body as {
    paths: Record<string, Record<string, unknown>>;
  };
  const open = new Set(["/health", "/openapi.json", "/s/{token}", "/s/{token}/{fileId}"]);
  const fill = (path: string) =>
    path
      .replace(
        "{id}",
        path.startsWith("/batch") || path.startsWith("/api/batches")
          ? "bt_00000000000000000000000000"
          : "tr_00000000000000000000000000",
      )
      .replace("{n}", "1")
      .replace("{shareId}", "sh_00000000000000000000")
      .replace("{keyId}", "key_0000000000000000");
  return Object.entries(doc.paths)
    .filter(([path]) => !open.has(path))
    .flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: fill(path) })),
    );
}
