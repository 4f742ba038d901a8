/** Driving the batch protocol over HTTP in tests: manifests, file entries, and the PUTs the answers ask for. */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import { serve } from "@hono/node-server";
import type { DynamoCall } from "../../functions/adapters/clients.js";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import { manifestText } from "../../functions/contract/batches.js";
import { sha256OfObject } from "../../harness/files.js";
import { ensureDevKey, ensureTable } from "../../local/bootstrap.js";
import { type Api, rawPut, sha256 } from "./api.js";
import type { StackInfo } from "./stack.js";

export interface LocalFile {
  path: string;
  data: Buffer;
}

export const file = (path: string, size: number | Buffer): LocalFile => ({
  path,
  data: typeof size === "number" ? randomBytes(size) : size,
});

export const entry = (f: LocalFile, extra: Record<string, unknown> = {}) => ({
  path: f.path,
  size: f.data.length,
  sha256: sha256(f.data),
  ...extra,
});

export const digestOf = (files: readonly LocalFile[], dirs: readonly string[] = []) =>
  sha256(
    Buffer.from(
      manifestText(
        files.map((f) => ({ path: f.path, size: f.data.length })),
        dirs,
      ),
    ),
  );

/** A fresh manifest's create request (a random marker file keeps digests apart between tests). */
export function createRequest(files: readonly LocalFile[], extra: Record<string, unknown> = {}) {
  const dirs = (extra.dirs as string[] | undefined) ?? [];
  return {
    name: "test batch",
    digest: digestOf(files, dirs),
    fileCount: files.length,
    totalBytes: files.reduce((a, f) => a + f.data.length, 0),
    ...extra,
  };
}

export interface PutAnswer {
  action: "put";
  path: string;
  transferId: string;
  stored: boolean;
  put: { url: string; headers: Record<string, string> };
}

/** PUTs a file straight to storage with exactly the headers the answer gave. */
export async function putFile(
  answer: PutAnswer,
  data: Uint8Array,
): Promise<{ status: number; text: string }> {
  return rawPut(answer.put.url, answer.put.headers, data);
}

export async function mustOk<T = any>(p: Promise<{ status: number; body: T }>): Promise<T> {
  const r = await p;
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Creates a batch with its files and sends every `put` answer; returns the create answer. */
export async function sendBatch(api: Api, files: readonly LocalFile[], extra: Record<string, unknown> = {}) {
  const created = await mustOk(
    api.post("/batch", { ...createRequest(files, extra), files: files.map((f) => entry(f)) }),
  );
  const byPath = new Map(files.map((f) => [f.path, f]));
  const puts = (created.files as { action: string }[]).filter((a) => a.action === "put") as PutAnswer[];
  for (const a of puts) {
    const r = await putFile(a, (byPath.get(a.path) as LocalFile).data);
    if (r.status !== 200) throw new Error(`PUT ${a.path}: ${r.status} ${r.text}`);
  }
  const completed = puts.length
    ? await mustOk(
        api.post(`/batch/${created.batchId}/complete`, {
          files: puts.map((a) => ({ transferId: a.transferId })),
        }),
      )
    : undefined;
  return { created, completed };
}

export function s3Of(stack: StackInfo): S3Client {
  return new S3Client({
    endpoint: stack.s3Endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: {
      accessKeyId: stack.env.SFTS_S3_ACCESS_KEY_ID as string,
      secretAccessKey: stack.env.SFTS_S3_SECRET_ACCESS_KEY as string,
    },
  });
}

/** What storage holds under a transfer's object key, hashed. */
export async function storedHash(s3: S3Client, stack: StackInfo, key: string) {
  return sha256OfObject(s3, stack.bucket, key);
}

/**
 * A coordinator of its own over the stack's emulators, on a table of its own, served on a free port: what
 * it writes (and nothing any other test file does meanwhile) is in its table, and every DynamoDB request
 * it sends can be observed. Stats are written at once (no coalescing), so snapshots are exact.
 */
export async function isolatedStack(
  stack: StackInfo,
  table: string,
  onDynamoCall?: (call: DynamoCall) => void,
): Promise<{ info: StackInfo; close(): Promise<void> }> {
  const config = loadConfig({ ...stack.env, SFTS_TABLE: table, SFTS_STATS_FLUSH_MS: "0" });
  const c = createCoordinator(config, undefined, onDynamoCall ? { onDynamoCall } : {});
  await ensureTable(c.adapters.dynamodb, table);
  const token = await ensureDevKey(c.adapters.repo, undefined);
  // The storage probe keeps its verdict in the table; settled here, it is not a write of the test's.
  await c.storage.ensure();
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: c.app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    info: { ...stack, apiUrl, token, table },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await c.service.flushStats?.();
      c.adapters.destroy();
    },
  };
}
