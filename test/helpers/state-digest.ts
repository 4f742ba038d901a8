/**
 * The durable state of a stack, as sorted lines, and a tiny HTTP server that hands out its digest: what
 * the fuzz test's schemathesis hooks (test/fuzz/state_hooks.py) compare around every request to check
 * that a rejected request changed nothing.
 *
 * State is everything a later request's answer can depend on: every table item (transfers, part
 * records, dedupe entries, API keys and their id pointers, share links and their pointers, the stats
 * totals, the per-minute throughput counters) and, in the bucket, every object (key, size, ETag) and
 * every open multipart upload. Left out, on purpose:
 *  - the parts stored in each open upload: only a PUT to storage writes one, and the API never sends one
 *    (it presigns, clients PUT); the API's only ways to remove parts, abort and assemble, end the upload,
 *    which the upload lines show. Listing them costs one request per open upload per digest, which
 *    would double the fuzz test's time for nothing it could see;
 *  - `event` items (T#<id> / E#…), a transfer's timeline, and
 *  - `error` items (ERRORS / …), the recent-failures list.
 * Both are the activity log: an append-only record of what happened, which the dashboard shows and no
 * transfer logic reads. A rejected part report (PART_NOT_STORED) is written there by design, so the
 * dashboard can say why a part was refused. Nothing else is left out. In-memory things (rate-limit
 * buckets, the API-key cache) are not durable, so they are not here to begin with.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { buildAdapters } from "../../functions/adapters/clients.js";
import { loadConfig } from "../../functions/api/config.js";
import { canonicalJson } from "./api.js";
import type { StackInfo } from "./stack.js";

/** The activity log's item types: records of what happened, not state (see the header). */
const ACTIVITY_LOG_TYPES = new Set(["event", "error"]);

export interface StateSnapshotter {
  /** Every piece of durable state as one sorted line each. */
  lines(): Promise<string[]>;
  close(): void;
}

export function stateSnapshotter(stack: Pick<StackInfo, "env">): StateSnapshotter {
  const config = loadConfig(stack.env);
  const { s3, dynamodb, destroy } = buildAdapters(config);
  const { bucket, table } = config;

  async function tableLines(): Promise<string[]> {
    const out: string[] = [];
    let start: Record<string, any> | undefined;
    do {
      const r = await dynamodb.send(
        new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      for (const item of r.Items ?? [])
        if (!ACTIVITY_LOG_TYPES.has(String(item.type?.S))) out.push(`item ${canonicalJson(item)}`);
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async function objectLines(): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of r.Contents ?? []) out.push(`object ${o.Key} ${o.Size} ${o.ETag}`);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async function uploadLines(): Promise<string[]> {
    const out: string[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const r = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
      );
      for (const u of r.Uploads ?? []) out.push(`upload ${u.Key} ${u.UploadId}`);
      if (!r.IsTruncated) return out;
      keyMarker = r.NextKeyMarker;
      idMarker = r.NextUploadIdMarker;
    }
  }

  return {
    async lines() {
      const all = (await Promise.all([tableLines(), objectLines(), uploadLines()])).flat();
      return all.sort();
    },
    close: destroy,
  };
}

export interface StateDigestServer {
  /** GET {url}/digest → { digest }; GET {url}/diff?from=…&to=… → { added, removed } (recent digests only). */
  url: string;
  /** How many digests were asked for: a fuzz run that asked none did not check anything. */
  requests(): number;
  close(): Promise<void>;
}

/** Serves the stack's state digest on a free loopback port, for a process outside vitest (schemathesis). */
export async function serveStateDigest(stack: Pick<StackInfo, "env">): Promise<StateDigestServer> {
  const snapshotter = stateSnapshotter(stack);
  // Recent snapshots by digest, so a failing check can be told what changed, not only that something did.
  const recent = new Map<string, string[]>();
  let served = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    (async () => {
      if (url.pathname === "/digest") {
        const lines = await snapshotter.lines();
        const digest = createHash("sha256").update(lines.join("\n")).digest("hex");
        recent.delete(digest);
        recent.set(digest, lines);
        if (recent.size > 20) recent.delete(recent.keys().next().value as string);
        served++;
        return reply(200, { digest, lines: lines.length });
      }
      if (url.pathname === "/diff") {
        const from = recent.get(url.searchParams.get("from") ?? "");
        const to = recent.get(url.searchParams.get("to") ?? "");
        if (!from || !to) return reply(404, { error: "unknown digest" });
        const [a, b] = [new Set(from), new Set(to)];
        return reply(200, {
          added: to.filter((l) => !a.has(l)).slice(0, 10),
          removed: from.filter((l) => !b.has(l)).slice(0, 10),
        });
      }
      return reply(404, { error: "no such route" });
    })().catch((err: unknown) => reply(500, { error: err instanceof Error ? err.message : String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => served,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      snapshotter.close();
    },
  };
}
