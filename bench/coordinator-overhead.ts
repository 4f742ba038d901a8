/**
 * What does the coordinator cost? The same uploads to the same versitygw, two ways, in one run:
 *   sfts  — POST /upload/init → POST parts (presign) → PUT to the presigned URLs → part done → assemble
 *   s3    — the AWS SDK straight to storage: CreateMultipartUpload → UploadPart → CompleteMultipartUpload
 * (both with per-part SHA-256 checked by storage). Prints wall time per transfer and the ratio sfts/s3.
 * Usage: npm run bench:coordinator [-- --rounds 3 --small 40 --large-mib 64]
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { startLocalStack } from "../harness/local-stack.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const MiB = 1024 * 1024;
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    small: { type: "string", default: "40" },
    "large-mib": { type: "string", default: "64" },
    "part-mib": { type: "string", default: "8" },
    concurrency: { type: "string", default: "4" },
  },
});
const rounds = Number(values.rounds);
const smallCount = Number(values.small);
const largeSize = Number(values["large-mib"]) * MiB;
const partSize = Number(values["part-mib"]) * MiB;
const concurrency = Number(values.concurrency);

const sha = (b: Uint8Array) => createHash("sha256").update(b);
const hex = (b: Uint8Array) => sha(b).digest("hex");
const b64 = (b: Uint8Array) => sha(b).digest("base64");

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
    }),
  );
}

function slices(size: number) {
  const out: { partNumber: number; offset: number; size: number }[] = [];
  for (let offset = 0, n = 1; offset < size || (size === 0 && n === 1); offset += partSize, n++)
    out.push({ partNumber: n, offset, size: Math.min(partSize, size - offset) });
  return out;
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "sfts-bench-"));
  const _host = "127.0.0.1";
  const stack = await startLocalStack({ name: "bench", dataDir: dir, log: (l) => console.error(l) });
  const auth = { authorization: `Bearer ${stack.token}`, "content-type": "application/json" };
  const api = async (path: string, body?: unknown) => {
    const r = await fetch(`${stack.apiUrl}${path}`, {
      method: "POST",
      headers: auth,
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as Record<string, unknown>;
  };
  const s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: stack.s3Credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
  });

  async function viaSfts(data: Buffer, name: string) {
    const parts = slices(data.length).map((p) => ({
      ...p,
      sha256: hex(data.subarray(p.offset, p.offset + p.size)),
    }));
    const init = await api("/upload/init", { name, size: data.length, sha256: hex(data) });
    const id = String(init.transferId);
    const signed = (await api(`/upload/${id}/parts`, { parts })).parts as {
      url: string;
      headers: Record<string, string>;
    }[];
    await pool(parts, concurrency, async (p) => {
      const s = signed[p.partNumber - 1];
      if (!s) throw new Error(`no URL for part ${p.partNumber}`);
      const put = await fetch(s.url, {
        method: "PUT",
        headers: s.headers,
        body: data.subarray(p.offset, p.offset + p.size),
      });
      if (!put.ok) throw new Error(`PUT ${put.status}`);
      await api(`/upload/${id}/parts/${p.partNumber}/done`, {
        offset: p.offset,
        size: p.size,
        sha256: p.sha256,
        etag: put.headers.get("etag"),
      });
    });
    await api(`/assemble/${id}`);
  }

  async function viaS3(data: Buffer, key: string) {
    const Bucket = stack.bucket;
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key: key, ChecksumAlgorithm: "SHA256" }),
    );
    const done: { PartNumber: number; ETag: string; ChecksumSHA256: string }[] = [];
    await pool(slices(data.length), concurrency, async (p) => {
      const body = data.subarray(p.offset, p.offset + p.size);
      const ChecksumSHA256 = b64(body);
      const r = await s3.send(
        new UploadPartCommand({
          Bucket,
          Key: key,
          UploadId,
          PartNumber: p.partNumber,
          Body: body,
          ChecksumSHA256,
        }),
      );
      done.push({ PartNumber: p.partNumber, ETag: r.ETag ?? "", ChecksumSHA256 });
    });
    done.sort((a, b) => a.PartNumber - b.PartNumber);
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }),
    );
  }

  type Way = "sfts" | "s3";
  const ways: Record<Way, (d: Buffer, n: string) => Promise<void>> = { sfts: viaSfts, s3: viaS3 };
  const small: Record<Way, number[]> = { sfts: [], s3: [] };
  const large: Record<Way, number[]> = { sfts: [], s3: [] };
  const results = {
    [`small (64 KiB, 1 part) ×${smallCount}`]: small,
    [`large (${largeSize / MiB} MiB, ${partSize / MiB} MiB parts)`]: large,
  };
  let seq = 0;
  for (let round = 0; round < rounds; round++) {
    // Alternate which way goes first, so neither always meets a warmer cache.
    const order: Way[] = round % 2 ? ["s3", "sfts"] : ["sfts", "s3"];
    for (const way of order) {
      const files = Array.from({ length: smallCount }, () => randomBytes(64 * 1024));
      let t = performance.now();
      for (const d of files) await ways[way](d, `bench-${seq++}`);
      small[way].push((performance.now() - t) / smallCount);
      const big = randomBytes(largeSize);
      t = performance.now();
      await ways[way](big, `bench-${seq++}`);
      large[way].push(performance.now() - t);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  console.log(
    `\nCoordinator overhead, ${rounds} rounds, concurrency ${concurrency}, one machine (medians)\n`,
  );
  console.log("| upload | sfts (presigned, via coordinator) | s3 (SDK, direct) | ratio sfts/s3 |");
  console.log("| --- | --- | --- | --- |");
  for (const [what, r] of Object.entries(results)) {
    const a = median(r.sfts);
    const b = median(r.s3);
    console.log(`| ${what} | ${a.toFixed(1)} ms | ${b.toFixed(1)} ms | ${(a / b).toFixed(2)} |`);
  }
  s3.destroy();
  await stack.stop();
  // Where the coordinator's time goes: server-side latency per route, from its own access log.
  const perRoute = new Map<string, number[]>();
  for (const line of (await readFile(stack.logFiles.api, "utf8")).split("\n")) {
    if (!line.includes('"msg":"request"')) continue;
    const { method, path, ms } = JSON.parse(line) as { method: string; path: string; ms: number };
    const route = `${method} ${path.replace(/tr_[0-9a-z]{26}/, "{id}").replace(/\/parts\/\d+\//, "/parts/{n}/")}`;
    perRoute.set(route, [...(perRoute.get(route) ?? []), ms]);
  }
  console.log("\n| route | calls | median ms (server side) |\n| --- | --- | --- |");
  for (const [route, ms] of perRoute) console.log(`| ${route} | ${ms.length} | ${median(ms)} |`);
  await rm(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
