/**
 * Load on the coordinator, against the local stack (versitygw + DynamoDB Local + the coordinator, on free
 * ports in a temp folder), in up to four phases:
 *   api    --transfers simulated transfers started at once, each straight through the API. --protocol lean
 *          (issue 11): POST /upload/init with the first --init-parts parts presigned in its answer → PUT each
 *          part → (POST /upload/{id}/parts for later parts, carrying the records so far) → POST /assemble/{id}
 *          carrying the last records. --protocol legacy: init → presign → PUT → one part-done per part →
 *          assemble. Parts are as small as S3 allows (one part of 4 KiB; with --parts N, N−1 parts of 5 MiB
 *          before it), so the coordinator is measured, not the bytes.
 *   parts  --part-transfers transfers of --many-parts parts: what each further part costs.
 *   batch  one batch of --files small files (--file-kib): POST /batch with the first files → POST
 *          /batch/{id}/files → PUT each → POST /batch/{id}/complete: API calls and item writes per small file.
 *   cli    --senders `sfts send FILE --json` processes started at once, each with its own random file and
 *          its own XDG_STATE_HOME/XDG_CONFIG_HOME: wall time, aggregate MiB/s, per-process duration, exit
 *          codes, the CLI's own retries; then every stored object is read back and hashed.
 * The simulated clients run in a child process (this script with --load-generator): the coordinator has this
 * process to itself, as under `npm start`, and the CPU each side uses can be told apart. After a warm-up
 * (DynamoDB Local's JVM is several times slower cold) and a reference measurement of DynamoDB Local alone, each
 * round reports wall time, transfers/s, API requests/s; per API operation: client-side latency percentiles,
 * server-side latency (its access log), errors by status and code; and the DynamoDB requests the coordinator
 * sent (counted by a hook on its client), ending with the item writes per one-part transfer, per part and per
 * small file that issue 11 sets goals for.
 * The per-key rate limit is the coordinator's default (200/s, burst 1000) unless SFTS_RATE_LIMIT and/or
 * SFTS_RATE_BURST are set for the bench. 429 answers are an error class of their own; the simulated clients
 * retry them with the CLI's policy (cli/engine/retry.ts); any other error fails the transfer at once.
 * Usage: npm run bench:load [-- --transfers 200 --parts 1 --rounds 3 --protocol lean --init-parts 32
 *        --part-transfers 10 --many-parts 4 --files 1000 --file-kib 4 --senders 20 --size-mib 64
 *        --phases api,parts,batch,cli --dir /tmp]
 */
import { type ChildProcess, execFile, fork, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter } from "../cli/engine/retry.js";
import type { DynamoCall } from "../functions/adapters/clients.js";
import { loadConfig } from "../functions/api/config.js";
import { manifestText } from "../functions/contract/batches.js";
import { KiB, MAX_INIT_PARTS, MIN_PART_SIZE, MiB } from "../functions/contract/limits.js";
import { repoRoot } from "../harness/cli-process.js";
import { sha256OfObject, writeRandomFile } from "../harness/files.js";
import { startLocalStack } from "../harness/local-stack.js";
import { cleanUpOnSignal } from "../harness/signals.js";
import { readRegistry } from "../local/pid-registry.js";
import type { RunningStack } from "../local/stack.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
/** The last (or only) part of a simulated transfer. */
const LAST_PART_SIZE = 4 * KiB;
/** Simulated transfers before the measured rounds. */
const WARM_UP_TRANSFERS = 50;
const log = (line: string) => console.error(line);
/** Set by Ctrl-C/SIGTERM: the run stops, cleans up and exits 130. */
let interrupted = false;

// ---------------------------------------------------------------------------------------------
// The simulated clients (a child process)

const LOAD_GENERATOR_FLAG = "--load-generator";

type Op = "init" | "presign" | "put" | "done" | "assemble" | "batch" | "files" | "complete";
const OPS: { op: Op; label: string }[] = [
  { op: "init", label: "init `POST /upload/init`" },
  { op: "presign", label: "presign `POST /upload/{id}/parts`" },
  { op: "put", label: "(storage PUT to the presigned URL, not the coordinator)" },
  { op: "done", label: "part done `POST /upload/{id}/parts/{n}/done` (legacy protocol)" },
  { op: "assemble", label: "assemble `POST /assemble/{id}`" },
  { op: "batch", label: "batch `POST /batch` (with the first files)" },
  { op: "files", label: "batch files `POST /batch/{id}/files`" },
  { op: "complete", label: "batch complete `POST /batch/{id}/complete`" },
];

/**
 * lean: the protocol of issue 11 — init presigns the first parts, records ride on later presigns and on
 * the assemble. legacy: init → presign → PUT → one part-done call per part → assemble (the old sender).
 */
type Protocol = "lean" | "legacy";

interface Sample {
  op: Op;
  ms: number;
  /** HTTP status; 0 for a network error. */
  status: number;
  /** The API's error code, S3's <Code>, or the network error's code. */
  code?: string;
}

interface GeneratorInput {
  apiUrl: string;
  token: string;
}

interface RoundRequest {
  /** Where and as whom; passed over IPC, never on a command line. */
  input: GeneratorInput;
  round: number;
  /** transfers: simulated uploads; batch: one batch of small single-PUT files. */
  kind: "transfers" | "batch";
  transfers: number;
  parts: number;
  protocol: Protocol;
  /** Parts presigned in the init answer (lean); the rest by presign calls carrying the records so far. */
  initParts: number;
  /** batch: the size of each file. */
  fileSize: number;
}

interface RoundResult {
  round: number;
  wallMs: number;
  samples: Sample[];
  ok: number;
  failures: string[];
}

class TransferFailed extends Error {}

const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function networkCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (cause && typeof cause.code === "string") return cause.code;
  return err instanceof Error ? err.name : "Error";
}

async function runRound(input: GeneratorInput, req: RoundRequest): Promise<RoundResult> {
  const samples: Sample[] = [];
  const big = req.parts > 1 ? randomBytes(MIN_PART_SIZE) : undefined;
  const bigSha = big ? sha256Hex(big) : "";
  let seq = 0;

  /** One API call; 429s are recorded and waited out like the CLI does, anything else not 2xx fails. */
  const api = async (op: Op, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${input.apiUrl}${path}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${input.token}`,
            "content-type": "application/json",
            // The coordinator logs it: its access log can be matched to this run.
            "x-request-id": `load-r${req.round}-${seq++}`,
          },
          body: body === undefined ? null : JSON.stringify(body),
        });
        text = await res.text();
      } catch (err) {
        const code = networkCode(err);
        samples.push({ op, ms: performance.now() - started, status: 0, code });
        throw new TransferFailed(`${op}: ${code}`);
      }
      const ms = performance.now() - started;
      if (res.ok) {
        samples.push({ op, ms, status: res.status });
        return JSON.parse(text) as Record<string, unknown>;
      }
      let code = "?";
      let message = text.slice(0, 200);
      try {
        const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
        code = e?.code ?? code;
        message = e?.message ?? message;
      } catch {}
      samples.push({ op, ms, status: res.status, code });
      if (res.status === 429 && attempt < DEFAULT_RETRY.maxRetries) {
        // The CLI's policy: exponential backoff with full jitter, never shorter than Retry-After.
        await sleep(backoffDelay(attempt, DEFAULT_RETRY, parseRetryAfter(res.headers.get("retry-after"))));
        continue;
      }
      throw new TransferFailed(`${op}: ${res.status} ${code}: ${message}`);
    }
  };

  const transfer = async (i: number): Promise<void> => {
    const bodies = [
      ...Array.from({ length: req.parts - 1 }, () => big as Buffer),
      randomBytes(LAST_PART_SIZE),
    ];
    let offset = 0;
    const parts = bodies.map((b, k) => {
      const spec = {
        partNumber: k + 1,
        offset,
        size: b.length,
        sha256: k < bodies.length - 1 ? bigSha : sha256Hex(b),
      };
      offset += b.length;
      return { spec, body: b };
    });
    const whole = createHash("sha256");
    for (const b of bodies) whole.update(b);
    const name = `load-${req.round}-${i}.bin`;
    const sha256 = whole.digest("hex");
    /** PUTs one part to its presigned URL; returns the record of it (with storage's ETag). */
    const putPart = async (
      p: (typeof parts)[number],
      s: { url: string; headers: Record<string, string> },
    ) => {
      const started = performance.now();
      let put: Response;
      let text: string;
      try {
        put = await fetch(s.url, { method: "PUT", headers: s.headers, body: p.body });
        text = await put.text();
      } catch (err) {
        const code = networkCode(err);
        samples.push({ op: "put", ms: performance.now() - started, status: 0, code });
        throw new TransferFailed(`put: ${code}`);
      }
      const code = put.ok ? undefined : (/<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? "?");
      samples.push({
        op: "put",
        ms: performance.now() - started,
        status: put.status,
        ...(code !== undefined && { code }),
      });
      if (!put.ok) throw new TransferFailed(`put: ${put.status} ${code}`);
      return { ...p.spec, etag: put.headers.get("etag") ?? "" };
    };
    type Signed = { partNumber: number; url: string; headers: Record<string, string> };
    const putAll = (batch: typeof parts, signed: Signed[]) =>
      Promise.all(
        batch.map((p, k) => {
          const s = signed[k];
          if (!s || s.partNumber !== p.spec.partNumber)
            throw new TransferFailed(`presign: no URL for part ${p.spec.partNumber}`);
          return putPart(p, s);
        }),
      );

    if (req.protocol === "lean") {
      const first = parts.slice(0, req.initParts);
      const init = await api("init", "/upload/init", {
        name,
        size: offset,
        sha256,
        parts: first.map((p) => p.spec),
      });
      if (init.deduplicated !== false || init.status !== "uploading" || init.resumed !== false)
        throw new TransferFailed(`init: not a fresh upload (${String(init.status)})`);
      const id = String(init.transferId);
      let pending = await putAll(first, init.presigned as Signed[]);
      // Further parts: each presign call carries the records of the parts sent since the last one.
      for (let k = first.length; k < parts.length; k += 500) {
        const batch = parts.slice(k, k + 500);
        const pre = await api("presign", `/upload/${id}/parts`, {
          parts: batch.map((p) => p.spec),
          done: pending,
        });
        pending = await putAll(batch, pre.parts as Signed[]);
      }
      const done = await api("assemble", `/assemble/${id}`, { parts: pending });
      if (done.status !== "complete") throw new TransferFailed(`assemble: status ${String(done.status)}`);
      return;
    }

    const init = await api("init", "/upload/init", { name, size: offset, sha256 });
    if (init.deduplicated !== false || init.status !== "uploading")
      throw new TransferFailed(`init: not a fresh upload (${String(init.status)})`);
    const id = String(init.transferId);
    const presigned = await api("presign", `/upload/${id}/parts`, { parts: parts.map((p) => p.spec) });
    const records = await putAll(parts, presigned.parts as Signed[]);
    for (const r of records) {
      const { partNumber, ...body } = r;
      await api("done", `/upload/${id}/parts/${partNumber}/done`, body);
    }
    const done = await api("assemble", `/assemble/${id}`);
    if (done.status !== "complete") throw new TransferFailed(`assemble: status ${String(done.status)}`);
  };

  if (req.kind === "batch") return runBatch(req, api, samples);

  const started = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: req.transfers }, (_, i) => transfer(i)));
  const wallMs = performance.now() - started;
  const failures = settled.flatMap((s) =>
    s.status === "rejected" ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : [],
  );
  return { round: req.round, wallMs, samples, ok: req.transfers - failures.length, failures };
}

type ApiCall = (op: Op, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/**
 * One batch of `req.transfers` small files, each one presigned PutObject: POST /batch (carrying the first
 * files) → POST /batch/{id}/files for the rest → PUT each file → POST /batch/{id}/complete.
 */
async function runBatch(req: RoundRequest, api: ApiCall, samples: Sample[]): Promise<RoundResult> {
  const CALL_FILES = 500;
  const files = Array.from({ length: req.transfers }, (_, i) => {
    const body = randomBytes(req.fileSize);
    return {
      path: `r${req.round}/dir-${i % 10}/file-${i}.bin`,
      size: body.length,
      sha256: sha256Hex(body),
      body,
    };
  });
  const digest = sha256Hex(Buffer.from(manifestText(files)));
  const entry = (f: (typeof files)[number]) => ({ path: f.path, size: f.size, sha256: f.sha256 });
  const started = performance.now();
  const failures: string[] = [];
  let ok = 0;
  try {
    const created = await api("batch", "/batch", {
      name: `load-${req.round}`,
      digest,
      fileCount: files.length,
      totalBytes: files.reduce((a, f) => a + f.size, 0),
      files: files.slice(0, CALL_FILES).map(entry),
    });
    const batchId = String(created.batchId);
    type Answer = {
      action: string;
      path: string;
      transferId: string;
      put?: { url: string; headers: Record<string, string> };
    };
    const answers = [...(created.files as Answer[])];
    for (let k = CALL_FILES; k < files.length; k += CALL_FILES) {
      const more = await api("files", `/batch/${batchId}/files`, {
        files: files.slice(k, k + CALL_FILES).map(entry),
      });
      answers.push(...(more.files as Answer[]));
    }
    const byPath = new Map(files.map((f) => [f.path, f]));
    // PUT every file, 64 at a time (the sender's connection pool).
    let next = 0;
    const toComplete: string[] = [];
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let k = next++; k < answers.length; k = next++) {
          const a = answers[k] as Answer;
          if (a.action !== "put" || !a.put) throw new TransferFailed(`batch: ${a.path} answered ${a.action}`);
          const f = byPath.get(a.path);
          if (!f) throw new TransferFailed(`batch: unknown path ${a.path}`);
          const t0 = performance.now();
          const put = await fetch(a.put.url, { method: "PUT", headers: a.put.headers, body: f.body });
          const text = await put.text();
          const code = put.ok ? undefined : (/<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? "?");
          samples.push({
            op: "put",
            ms: performance.now() - t0,
            status: put.status,
            ...(code !== undefined && { code }),
          });
          if (!put.ok) throw new TransferFailed(`put: ${put.status} ${code}`);
          toComplete.push(a.transferId);
        }
      }),
    );
    for (let k = 0; k < toComplete.length; k += CALL_FILES) {
      const r = await api("complete", `/batch/${batchId}/complete`, {
        files: toComplete.slice(k, k + CALL_FILES).map((transferId) => ({ transferId })),
      });
      for (const f of r.files as { transferId: string; status: string; error?: { message: string } }[])
        if (f.status === "complete") ok++;
        else failures.push(`complete: ${f.transferId} ${f.status} ${f.error?.message ?? ""}`);
    }
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
  }
  return { round: req.round, wallMs: performance.now() - started, samples, ok, failures };
}

function loadGeneratorMain(): void {
  process.on("disconnect", () => process.exit(0));
  process.on("message", (req: RoundRequest) => {
    runRound(req.input, req).then(
      (result) => process.send?.(result),
      (err: unknown) =>
        process.send?.({
          round: req.round,
          wallMs: 0,
          samples: [],
          ok: 0,
          failures: [`load generator: ${err instanceof Error ? err.message : String(err)}`],
        } satisfies RoundResult),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Counting what the coordinator asks of DynamoDB

const WRITE_OPS = new Set(["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"]);
const READ_OPS = new Set(["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"]);

interface CountedCall {
  operation: string;
  /** What each written item is (by its key), one entry per item written. */
  written: string[];
  /** Items in a TransactWriteItems (they cost twice a plain write on DynamoDB). */
  transactional: boolean;
  /** Part records written (T#…/P#… items) and, in the same transactions, the transfer's counter updates. */
  partItems: number;
  partMetaItems: number;
  ms: number;
  error?: string;
}

type Attr = { S?: string } | undefined;
type Keyed = { PK?: Attr; SK?: Attr } | undefined;

/** Names the item a write touches from its key (layout in functions/adapters/dynamo-table.ts). */
function itemKind(item: Keyed): string {
  const pk = item?.PK?.S ?? "";
  const sk = item?.SK?.S ?? "";
  if (pk === "STATS")
    return `stats counters \`STATS/${sk === "TOTALS" ? "TOTALS" : "TOTALS#n"}\` (16 shards, coalesced)`;
  if (pk === "SERIES") return "per-minute series `SERIES/<minute>` (coalesced)";
  if (pk.startsWith("B#")) return "batch record `B#…/META`";
  if (pk.startsWith("BD#")) return "batch digest pointer `BD#…`";
  if (pk === "ERRORS") return "recent errors `ERRORS/…`";
  if (pk.startsWith("SHA#")) return "stored-object record `SHA#…/OBJ`";
  if (pk.startsWith("KEY")) return "API key `KEY#…`";
  if (pk.startsWith("T#") && sk === "META") return "transfer record `T#…/META`";
  if (pk.startsWith("T#") && sk.startsWith("P#")) return "part record `T#…/P#…`";
  if (pk.startsWith("T#") && sk.startsWith("E#")) return "timeline event `T#…/E#…`";
  if (pk.startsWith("T#") && sk.startsWith("SH#")) return "share reference `T#…/SH#…`";
  if (pk.startsWith("S#")) return "share `S#…`";
  return "other";
}

function countCall(call: DynamoCall): CountedCall {
  const input = call.input as Record<string, unknown>;
  const written: string[] = [];
  switch (call.operation) {
    case "PutItem":
      written.push(itemKind(input.Item as Keyed));
      break;
    case "UpdateItem":
    case "DeleteItem":
      written.push(itemKind(input.Key as Keyed));
      break;
    case "TransactWriteItems":
      for (const t of (input.TransactItems ?? []) as Record<string, { Item?: Keyed; Key?: Keyed }>[]) {
        if (t.Put) written.push(itemKind(t.Put.Item));
        else if (t.Update) written.push(itemKind(t.Update.Key));
        else if (t.Delete) written.push(itemKind(t.Delete.Key));
        // ConditionCheck writes nothing.
      }
      break;
    case "BatchWriteItem":
      for (const reqs of Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>))
        for (const r of reqs as { PutRequest?: { Item: Keyed }; DeleteRequest?: { Key: Keyed } }[])
          written.push(itemKind(r.PutRequest?.Item ?? r.DeleteRequest?.Key));
      break;
  }
  const partItems = written.filter((k) => k.startsWith("part record")).length;
  const partMetaItems =
    call.operation === "TransactWriteItems" && partItems > 0
      ? written.filter((k) => k.startsWith("transfer record")).length
      : 0;
  return {
    operation: call.operation,
    written,
    transactional: call.operation === "TransactWriteItems",
    partItems: call.error ? 0 : partItems,
    partMetaItems: call.error ? 0 : partMetaItems,
    ms: call.ms,
    ...(call.error !== undefined && { error: call.error }),
  };
}

interface OpTally {
  requests: number;
  items: number;
  /** "<error name> on <items>" → the failed requests' durations (a 3 s one is the SDK's connect timeout). */
  failed: Map<string, number[]>;
  ms: number[];
}

interface DynamoSummary {
  byOperation: Map<string, OpTally>;
  byKind: Map<string, number>;
  writeRequests: number;
  writeItems: number;
  /** Write request units if every item is ≤ 1 KB: transactional items count twice. */
  writeUnits: number;
  readRequests: number;
  partItems: number;
  partMetaItems: number;
}

function summarise(calls: readonly CountedCall[]): DynamoSummary {
  const s: DynamoSummary = {
    byOperation: new Map(),
    byKind: new Map(),
    writeRequests: 0,
    writeItems: 0,
    writeUnits: 0,
    readRequests: 0,
    partItems: 0,
    partMetaItems: 0,
  };
  for (const c of calls) {
    const op: OpTally = s.byOperation.get(c.operation) ?? {
      requests: 0,
      items: 0,
      failed: new Map(),
      ms: [],
    };
    op.requests++;
    op.ms.push(c.ms);
    s.partItems += c.partItems;
    s.partMetaItems += c.partMetaItems;
    op.items += c.written.length;
    if (c.error) {
      const on = [...new Set(c.written.map((k) => k.replace(/ `.*$/, "")))].join(" + ");
      const key = on ? `${c.error} on ${on}` : c.error;
      op.failed.set(key, [...(op.failed.get(key) ?? []), c.ms]);
    }
    s.byOperation.set(c.operation, op);
    if (WRITE_OPS.has(c.operation)) {
      s.writeRequests++;
      s.writeItems += c.written.length;
      s.writeUnits += c.written.length * (c.transactional ? 2 : 1);
      for (const k of c.written) s.byKind.set(k, (s.byKind.get(k) ?? 0) + 1);
    } else if (READ_OPS.has(c.operation)) s.readRequests++;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Measuring helpers

const CLK_TCK = 100;
/** user+sys CPU seconds of a process from /proc/<pid>/stat; with `children`, of its waited-for children. */
function procCpu(pid: number | "self", children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return children ? (Number(f[13]) + Number(f[14])) / CLK_TCK : (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds: this process (the coordinator), the load generator, the emulators, waited-for children. */
interface CpuSnapshot {
  node: number;
  generator: number;
  dynamodb: number;
  versitygw: number;
  children: number;
  /** user+nice+system of the whole machine (/proc/stat): what is not ours was someone else's. */
  machine: number;
}

/** CPU seconds the machine spent in user and system mode, all CPUs together. */
function machineCpu(): number {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/) ?? [];
    return (Number(f[1]) + Number(f[2]) + Number(f[3])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of processes that are not part of this bench (other work on the machine). */
const othersCpu = (c: CpuSnapshot) =>
  Math.max(0, c.machine - c.node - c.generator - c.dynamodb - c.versitygw - c.children);

const cpuSpent = (a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot => ({
  node: b.node - a.node,
  generator: b.generator - a.generator,
  dynamodb: b.dynamodb - a.dynamodb,
  versitygw: b.versitygw - a.versitygw,
  children: b.children - a.children,
  machine: b.machine - a.machine,
});

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number;
}
const median = (xs: readonly number[]) => percentile(xs, 0.5);
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "—");
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const inc = <K>(m: Map<K, number>, k: K, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

/** One access-log line of the coordinator (functions/api/app.ts). */
interface AccessLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

function routeOf(method: string, path: string): string {
  return `${method} ${path
    .replace(/(tr|bt)_[0-9a-z]{26}/, "{id}")
    .replace(/\/parts\/\d+\/done$/, "/parts/{n}/done")
    .replace(/\?.*$/, "")}`;
}

const OP_ROUTES: Record<Op, string> = {
  init: "POST /upload/init",
  presign: "POST /upload/{id}/parts",
  put: "",
  done: "POST /upload/{id}/parts/{n}/done",
  assemble: "POST /assemble/{id}",
  batch: "POST /batch",
  files: "POST /batch/{id}/files",
  complete: "POST /batch/{id}/complete",
};

// ---------------------------------------------------------------------------------------------
// Phase 1: simulated transfers through the API

interface Ceiling {
  count: number;
  concurrency: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** What DynamoDB Local sustains on its own: small PutItems straight from the SDK, `concurrency` at a time. */
async function dynamoCeiling(stack: RunningStack, count = 1000, concurrency = 50): Promise<Ceiling> {
  const client = new DynamoDBClient({
    endpoint: stack.dynamodbEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const ms: number[] = [];
  const run = randomBytes(4).toString("hex");
  let next = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < count; i = next++) {
          const t0 = performance.now();
          await client.send(
            new PutItemCommand({
              TableName: stack.table,
              Item: { PK: { S: `BENCH#${run}#${i}` }, SK: { S: "CEILING" }, n: { N: String(i) } },
            }),
          );
          ms.push(performance.now() - t0);
        }
      }),
    );
  } finally {
    client.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  return { count, concurrency, perSecond: count / seconds, p50: median(ms), p99: percentile(ms, 0.99) };
}

interface RoundReport extends RoundResult {
  dynamo: DynamoSummary;
  coordinatorBusy: number;
  loopDelayP99Ms: number;
  cpu: CpuSnapshot;
  loadStart: string;
}

type Ask = (req: Omit<RoundRequest, "input">) => Promise<RoundResult>;

/** Sends one round to the load generator and waits for its result. */
function asker(generator: ChildProcess, input: GeneratorInput): Ask {
  return (req) =>
    new Promise<RoundResult>((res, rej) => {
      const onExit = (code: number | null) => rej(new Error(`the load generator exited (${code})`));
      generator.once("exit", onExit);
      generator.once("message", (r) => {
        generator.off("exit", onExit);
        res(r as RoundResult);
      });
      generator.send({ ...req, input } satisfies RoundRequest);
    });
}

type RoundSpec = Omit<RoundRequest, "input" | "round">;

/** Warm-up, not reported: DynamoDB Local's JIT (a cold JVM is several times slower), Node's JIT, pools. */
async function warmUp(stack: RunningStack, ask: Ask, spec: RoundSpec): Promise<Ceiling> {
  log("  warming up");
  await dynamoCeiling(stack, 3000);
  const warm = await ask({ ...spec, round: 0, transfers: WARM_UP_TRANSFERS });
  if (warm.ok !== WARM_UP_TRANSFERS) throw new Error(`warm-up failed: ${warm.failures.join("; ")}`);
  const ceiling = await dynamoCeiling(stack);
  log(
    `  DynamoDB Local alone: ${ceiling.perSecond.toFixed(0)} PutItem/s (${ceiling.concurrency} at a time), ` +
      `p50 ${ceiling.p50.toFixed(0)} ms`,
  );
  return ceiling;
}

async function apiPhase(opts: {
  ask: Ask;
  calls: CountedCall[];
  cpu: () => CpuSnapshot;
  spec: RoundSpec;
  rounds: number;
  /** The first round's number (round numbers name the files, so every phase uses its own). */
  firstRound: number;
  /** Waited after each round before its DynamoDB requests are counted: the coalesced stats are written by then. */
  settleMs: number;
}): Promise<RoundReport[]> {
  const reports: RoundReport[] = [];
  const delay = monitorEventLoopDelay({ resolution: 10 });
  for (let round = opts.firstRound; round < opts.firstRound + opts.rounds; round++) {
    const loadStart = load();
    const mark = opts.calls.length;
    const cpu0 = opts.cpu();
    const elu0 = performance.eventLoopUtilization();
    delay.reset();
    delay.enable();
    const r = await opts.ask({ ...opts.spec, round });
    delay.disable();
    if (interrupted) throw new Error("interrupted");
    const cpu1 = opts.cpu();
    const busy = performance.eventLoopUtilization(elu0).utilization;
    await sleep(opts.settleMs);
    const report: RoundReport = {
      ...r,
      dynamo: summarise(opts.calls.slice(mark)),
      coordinatorBusy: busy,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      cpu: cpuSpent(cpu0, cpu1),
      loadStart,
    };
    reports.push(report);
    const requests = r.samples.filter((s) => s.op !== "put").length;
    log(
      `  round ${round}: ${r.ok}/${opts.spec.transfers} ${opts.spec.kind === "batch" ? "files" : "transfers"} in ` +
        `${(r.wallMs / 1000).toFixed(2)} s, ${requests} API requests, ${r.failures.length} failed, ` +
        `${report.dynamo.writeItems} DynamoDB writes, load ${loadStart}`,
    );
    for (const f of r.failures.slice(0, 5)) log(`    ${f}`);
  }
  return reports;
}

// ---------------------------------------------------------------------------------------------
// Phase 2: concurrent `sfts send` processes

interface SenderResult {
  file: string;
  sha256: string;
  seconds: number;
  exitCode: number;
  transferId?: string;
  retries: Map<string, number>;
  error?: string;
}

interface CliReport {
  senders: SenderResult[];
  wallSeconds: number;
  sizeMiB: number;
  cpu: CpuSnapshot;
  dynamo: DynamoSummary;
  verified: number;
  loadStart: string;
  command: string;
}

function withoutAwsVars(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("AWS_") || k.startsWith("SFTS_")) delete env[k];
  return env;
}

async function cliPhase(opts: {
  stack: RunningStack;
  dir: string;
  senders: number;
  sizeMiB: number;
  calls: CountedCall[];
  cpu: () => CpuSnapshot;
  children: Set<ChildProcess>;
  s3: S3Client;
}): Promise<CliReport> {
  const { stack, dir } = opts;
  const size = opts.sizeMiB * MiB;
  log(`Writing ${opts.senders} random files of ${opts.sizeMiB} MiB`);
  const files: { file: string; sha256: string; home: string }[] = [];
  for (let i = 0; i < opts.senders; i++) {
    const file = join(dir, `send-${i}.bin`);
    const home = join(dir, `client-${i}`);
    await mkdir(home, { recursive: true });
    files.push({ file, sha256: await writeRandomFile(file, size), home });
  }
  await promisify(execFile)("sync", []);

  const clean = withoutAwsVars();
  const args = (file: string) => [
    "bin/run.js",
    "send",
    file,
    "--server",
    stack.apiUrl,
    "--token",
    stack.token,
    "--json",
  ];
  const command = `node ${args("FILE").join(" ").replace(stack.token, "<token>")}`;
  const loadStart = load();
  const mark = opts.calls.length;
  const cpu0 = opts.cpu();
  log(`Starting ${opts.senders} senders at once (load ${loadStart})`);
  const started = performance.now();
  const senders = await Promise.all(
    files.map(
      (f) =>
        new Promise<SenderResult>((res, rej) => {
          const t0 = performance.now();
          const child = spawn(process.execPath, args(f.file), {
            cwd: repoRoot,
            env: { ...clean, XDG_STATE_HOME: join(f.home, "state"), XDG_CONFIG_HOME: join(f.home, "config") },
            stdio: ["ignore", "pipe", "pipe"],
            detached: true,
          });
          opts.children.add(child);
          let stdout = "";
          let stderr = "";
          child.stdout.setEncoding("utf8").on("data", (s: string) => {
            stdout += s;
          });
          child.stderr.setEncoding("utf8").on("data", (s: string) => {
            stderr = (stderr + s).slice(-16 * 1024);
          });
          child.once("error", rej);
          child.once("close", (code, signal) => {
            opts.children.delete(child);
            const seconds = (performance.now() - t0) / 1000;
            const events = stdout
              .split("\n")
              .filter((l) => l.startsWith("{"))
              .map((l) => JSON.parse(l) as Record<string, unknown>);
            const retries = new Map<string, number>();
            for (const e of events)
              if (e.type === "retry") inc(retries, `${String(e.operation)}: ${String(e.code ?? e.reason)}`);
            const done = events.findLast((e) => e.type === "done");
            const failed = events.findLast((e) => e.type === "error");
            const exitCode = code ?? (signal ? 128 : 1);
            const r: SenderResult = { file: f.file, sha256: f.sha256, seconds, exitCode, retries };
            if (done) r.transferId = String(done.transferId);
            if (exitCode !== 0 || !done)
              r.error = failed
                ? `${String(failed.code)}: ${String(failed.message)}`
                : stderr.trim().split("\n").slice(-3).join(" | ") || "no done event";
            else if (done.sha256 !== f.sha256 || done.deduplicated !== false || done.resumed !== false)
              r.error = `unexpected done event ${JSON.stringify(done)}`;
            res(r);
          });
        }),
    ),
  );
  if (interrupted) throw new Error("interrupted");
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu1 = opts.cpu();
  const dynamo = summarise(opts.calls.slice(mark));
  log(
    `  ${senders.filter((s) => !s.error).length}/${opts.senders} senders done in ${wallSeconds.toFixed(2)} s`,
  );

  // Every stored object must hash to its file's SHA-256.
  let verified = 0;
  for (const s of senders) {
    if (s.error || !s.transferId) continue;
    const { sha256: got } = await sha256OfObject(opts.s3, stack.bucket, `objects/${s.transferId}`);
    if (got !== s.sha256)
      throw new Error(`stored object of ${s.transferId} hashes to ${got}, not ${s.sha256} (${s.file})`);
    verified++;
  }
  log(`  ${verified} stored objects read back and verified`);
  return {
    senders,
    wallSeconds,
    sizeMiB: opts.sizeMiB,
    cpu: cpuSpent(cpu0, cpu1),
    dynamo,
    verified,
    loadStart,
    command,
  };
}

// ---------------------------------------------------------------------------------------------
// Printing

function printDynamo(title: string, summaries: DynamoSummary[], transfers: number): void {
  const byOp = new Map<string, OpTally>();
  const byKind = new Map<string, number>();
  let writeItems = 0;
  let writeUnits = 0;
  let writeRequests = 0;
  let readRequests = 0;
  for (const s of summaries) {
    for (const [op, v] of s.byOperation) {
      const t: OpTally = byOp.get(op) ?? { requests: 0, items: 0, failed: new Map(), ms: [] };
      t.requests += v.requests;
      t.ms.push(...v.ms);
      t.items += v.items;
      for (const [e, ms] of v.failed) t.failed.set(e, [...(t.failed.get(e) ?? []), ...ms]);
      byOp.set(op, t);
    }
    for (const [k, n] of s.byKind) inc(byKind, k, n);
    writeItems += s.writeItems;
    writeUnits += s.writeUnits;
    writeRequests += s.writeRequests;
    readRequests += s.readRequests;
  }
  const per = (n: number) => fmt(n / transfers, 2);
  console.log(`\n${title}\n`);
  console.log(
    "| DynamoDB operation | requests per transfer | items written per transfer | latency p50 / p99 ms | failed requests |",
  );
  console.log("| --- | ---: | ---: | ---: | --- |");
  const order = [...WRITE_OPS, ...READ_OPS, ...[...byOp.keys()].sort()];
  for (const op of new Set(order)) {
    const v = byOp.get(op);
    if (!v) continue;
    const failed =
      [...v.failed]
        .map(([e, ms]) => `${e} ×${ms.length} (after ${fmt(Math.min(...ms))}–${fmt(Math.max(...ms))} ms)`)
        .join(", ") || "0";
    console.log(
      `| ${op} | ${per(v.requests)} | ${WRITE_OPS.has(op) ? per(v.items) : ""} | ` +
        `${fmt(percentile(v.ms, 0.5))} / ${fmt(percentile(v.ms, 0.99))} | ${failed} |`,
    );
  }
  console.log(
    `| **writes** | ${per(writeRequests)} requests | **${per(writeItems)} items** (${per(writeUnits)} write units at ≤ 1 KB, transaction items ×2) | | |`,
  );
  console.log(`| **reads** | ${per(readRequests)} requests | | | |`);
  console.log("\n| item written | writes per transfer |\n| --- | ---: |");
  for (const [k, n] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${per(n)} |`);
}

/** What one round of a phase did, in words. */
function describeSpec(spec: RoundSpec): string {
  if (spec.kind === "batch")
    return (
      `One batch of ${spec.transfers} files of ${fmt(spec.fileSize / KiB)} KiB, each one presigned PutObject: ` +
      "POST /batch (carrying the first 500 files) → POST /batch/{id}/files for the rest → PUT each file → " +
      "POST /batch/{id}/complete (500 a call)"
    );
  const parts = spec.parts;
  const sizeNote =
    parts === 1 ? "one part of 4 KiB" : `${parts} parts: ${parts - 1} × 5 MiB (the S3 minimum), then 4 KiB`;
  const flow =
    spec.protocol === "lean"
      ? `init (the first ${Math.min(parts, spec.initParts)} part(s) presigned in its answer) → PUT to storage → ` +
        (parts > spec.initParts ? "presign (carrying the records so far) → PUT → " : "") +
        "assemble (carrying the last records)"
      : "init → presign → PUT to storage → part done (one call per part) → assemble";
  return `Each transfer (${spec.protocol} protocol): ${flow}, ${sizeNote}`;
}

function printApi(
  title: string,
  reports: RoundReport[],
  ceiling: Ceiling | undefined,
  access: AccessLine[],
  spec: RoundSpec,
  rateNote: string,
): void {
  const transfers = spec.transfers;
  console.log(
    `\n### ${title}, ${reports.length} round(s)\n\n${describeSpec(spec)}. Rate limit: ${rateNote}.` +
      (ceiling
        ? ` For scale, DynamoDB Local on its own took ${fmt(ceiling.perSecond)} small ` +
          `PutItem/s just before (${ceiling.count} straight from the SDK, ${ceiling.concurrency} at a time, ` +
          `p50 ${fmt(ceiling.p50)} ms, p99 ${fmt(ceiling.p99)} ms).`
        : "") +
      "\n",
  );
  console.log(
    "| round | transfers ok | wall s | transfers/s | API requests | API requests/s | failed transfers | " +
      "coordinator loop busy | loop delay p99 ms | CPU ms per transfer: coordinator / DynamoDB Local / versitygw / " +
      "load generator | load avg at start | CPU s of other processes |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |");
  for (const r of reports) {
    const s = r.wallMs / 1000;
    const requests = r.samples.filter((x) => x.op !== "put").length;
    console.log(
      `| ${r.round} | ${r.ok}/${transfers} | ${s.toFixed(2)} | ${fmt(r.ok / s, 1)} | ${requests} | ` +
        `${fmt(requests / s)} | ${r.failures.length} | ${fmt(r.coordinatorBusy * 100)} % | ` +
        `${fmt(r.loopDelayP99Ms)} | ${[r.cpu.node, r.cpu.dynamodb, r.cpu.versitygw, r.cpu.generator]
          .map((c) => fmt((c * 1000) / Math.max(1, r.ok), 1))
          .join(" / ")} | ` +
        `${r.loadStart} | ${fmt(othersCpu(r.cpu), 1)} |`,
    );
  }
  if (reports.length > 1) {
    const walls = reports.map((r) => r.wallMs / 1000);
    const m = median(walls);
    console.log(
      `| median | | ${m.toFixed(2)} | ${fmt(median(reports.map((r) => r.ok / (r.wallMs / 1000))), 1)} | | ` +
        `${fmt(median(reports.map((r) => r.samples.filter((x) => x.op !== "put").length / (r.wallMs / 1000))))} | | | | | | |`,
    );
  }

  const samples = reports.flatMap((r) => r.samples);
  const server = new Map<string, number[]>();
  const rounds = new Set(reports.map((r) => `load-r${r.round}-`));
  for (const a of access) {
    const round = /^load-r\d+-/.exec(a.requestId)?.[0];
    if (!round || !rounds.has(round) || a.status < 200 || a.status > 299) continue;
    const k = routeOf(a.method, a.path);
    server.set(k, [...(server.get(k) ?? []), a.ms]);
  }
  console.log(
    "\nLatency of the 2xx answers per operation, all rounds (client side: from sending the request to " +
      "the whole answer; server side: the coordinator's access log)\n",
  );
  console.log(
    "| operation | requests | 2xx | p50 ms | p90 ms | p99 ms | max ms | server p50 ms | server p99 ms | errors |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const { op, label } of OPS) {
    const all = samples.filter((s) => s.op === op);
    if (all.length === 0) continue;
    const ok = all.filter((s) => s.status >= 200 && s.status < 300).map((s) => s.ms);
    const errs = new Map<string, number>();
    for (const s of all) if (!(s.status >= 200 && s.status < 300)) inc(errs, `${s.status} ${s.code ?? ""}`);
    const srv = server.get(OP_ROUTES[op]) ?? [];
    console.log(
      `| ${label} | ${all.length} | ${ok.length} | ${fmt(percentile(ok, 0.5))} | ${fmt(percentile(ok, 0.9))} | ` +
        `${fmt(percentile(ok, 0.99))} | ${fmt(Math.max(...ok))} | ${op === "put" ? "" : fmt(percentile(srv, 0.5))} | ` +
        `${op === "put" ? "" : fmt(percentile(srv, 0.99))} | ` +
        `${[...errs].map(([e, n]) => `${e} ×${n}`).join(", ") || "none"} |`,
    );
  }
  const errors = new Map<string, number>();
  for (const s of samples)
    if (!(s.status >= 200 && s.status < 300))
      inc(
        errors,
        `| ${s.op} | ${s.status || "network"} | ${s.status === 429 ? "**rate limited** " : ""}${s.code ?? ""} |`,
      );
  console.log(
    "\nErrors by status and code (429s from the per-key rate limiter are retried with the CLI's backoff; " +
      "any other error fails the transfer)\n",
  );
  if (errors.size === 0) console.log("None: every request was answered 2xx.");
  else {
    console.log("| operation | status | code | count |\n| --- | --- | --- | ---: |");
    for (const [k, n] of errors) console.log(`${k} ${n} |`);
  }
  const failures = reports.flatMap((r) => r.failures);
  if (failures.length) {
    console.log(`\nFailed transfers (${failures.length}), first ones:\n`);
    for (const f of failures.slice(0, 10)) console.log(`- ${f}`);
  }
  const unit = spec.kind === "batch" ? "small file" : "transfer";
  printDynamo(
    `DynamoDB requests the coordinator sent, per completed ${unit} (${reports.reduce((a, r) => a + r.ok, 0)} ${unit}s, all rounds; every attempt counts)`,
    reports.map((r) => r.dynamo),
    reports.reduce((a, r) => a + r.ok, 0),
  );
}

/** The figures issue 11 sets goals for: item writes per one-part transfer, per part, per small file. */
function printWriteSummary(phases: {
  one?: { reports: RoundReport[]; spec: RoundSpec };
  many?: { reports: RoundReport[]; spec: RoundSpec };
  batch?: { reports: RoundReport[]; spec: RoundSpec };
}): void {
  const total = (rs: RoundReport[], f: (d: DynamoSummary) => number) =>
    rs.reduce((a, r) => a + f(r.dynamo), 0);
  const done = (rs: RoundReport[]) => rs.reduce((a, r) => a + r.ok, 0);
  const calls = (rs: RoundReport[]) =>
    rs.reduce((a, r) => a + r.samples.filter((x) => x.op !== "put").length, 0);
  const rows: string[][] = [];
  let perOne: number | undefined;
  if (phases.one && done(phases.one.reports)) {
    const n = done(phases.one.reports);
    perOne = total(phases.one.reports, (d) => d.writeItems) / n;
    rows.push([
      `items written per one-part transfer (${phases.one.spec.protocol}, ${n} transfers)`,
      fmt(perOne, 2),
      "",
    ]);
    rows.push(["API calls per one-part transfer", fmt(calls(phases.one.reports) / n, 2), ""]);
  }
  if (phases.many && done(phases.many.reports)) {
    const n = done(phases.many.reports);
    const parts = phases.many.spec.parts;
    const perTransfer = total(phases.many.reports, (d) => d.writeItems) / n;
    const partItems = total(phases.many.reports, (d) => d.partItems);
    const partMeta = total(phases.many.reports, (d) => d.partMetaItems);
    rows.push([`items written per transfer of ${parts} parts (${n} transfers)`, fmt(perTransfer, 2), ""]);
    if (perOne !== undefined && parts > 1)
      rows.push([
        `items written per part beyond the first ((${fmt(perTransfer, 2)} − ${fmt(perOne, 2)}) / ${parts - 1})`,
        fmt((perTransfer - perOne) / (parts - 1), 2),
        "≤ 2",
      ]);
    rows.push([
      "per part recorded: its part record + its share of the transfer's counter updates",
      `${fmt(partItems / (n * parts), 2)} + ${fmt(partMeta / (n * parts), 2)} = ${fmt((partItems + partMeta) / (n * parts), 2)}`,
      "≤ 2",
    ]);
  }
  if (phases.batch && done(phases.batch.reports)) {
    const n = done(phases.batch.reports);
    const byKind = new Map<string, number>();
    for (const r of phases.batch.reports) for (const [k, v] of r.dynamo.byKind) inc(byKind, k, v);
    const own =
      (byKind.get("transfer record `T#…/META`") ?? 0) + (byKind.get("stored-object record `SHA#…/OBJ`") ?? 0);
    rows.push([
      `items written per small file (${n} files of ${fmt(phases.batch.spec.fileSize / KiB)} KiB in one batch)`,
      fmt(total(phases.batch.reports, (d) => d.writeItems) / n, 2),
      "≤ 3",
    ]);
    rows.push(["of which its own: transfer record and dedupe entry", fmt(own / n, 2), ""]);
    rows.push(["API calls per small file", fmt(calls(phases.batch.reports) / n, 3), ""]);
  }
  if (rows.length === 0) return;
  console.log("\n### DynamoDB item writes per unit (issue 11's goals)\n");
  console.log("| measure | value | goal |\n| --- | ---: | ---: |");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

function printCli(r: CliReport, access: AccessLine[]): void {
  const ok = r.senders.filter((s) => !s.error);
  const durations = ok.map((s) => s.seconds);
  const mib = ok.length * r.sizeMiB;
  const retries = new Map<string, number>();
  for (const s of r.senders) for (const [k, n] of s.retries) inc(retries, k, n);
  const exitCodes = new Map<number, number>();
  for (const s of r.senders) if (s.exitCode !== 0) inc(exitCodes, s.exitCode);
  console.log(
    `\n### ${r.senders.length} \`sfts send\` of ${r.sizeMiB} MiB at once\n\n` +
      `\`${r.command}\`, one process per file, each with its own XDG_STATE_HOME and XDG_CONFIG_HOME; ` +
      `load average at start ${r.loadStart}.\n`,
  );
  console.log(
    "| senders | ok | failed (exit codes) | wall s | aggregate MiB/s | per process p50 s | p99 s | max s | " +
      "CLI retries | CPU s: senders / coordinator / DynamoDB Local / versitygw | CPU s of other processes | " +
      "objects verified |",
  );
  console.log("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |");
  console.log(
    `| ${r.senders.length} | ${ok.length} | ${r.senders.length - ok.length}` +
      `${exitCodes.size ? ` (${[...exitCodes].map(([c, n]) => `exit ${c} ×${n}`).join(", ")})` : ""} | ` +
      `${r.wallSeconds.toFixed(2)} | ${fmt(mib / r.wallSeconds)} | ${fmt(median(durations), 2)} | ` +
      `${fmt(percentile(durations, 0.99), 2)} | ${fmt(Math.max(...durations), 2)} | ` +
      `${[...retries].map(([k, n]) => `${k} ×${n}`).join(", ") || "none"} | ` +
      `${fmt(r.cpu.children, 1)} / ${fmt(r.cpu.node, 1)} / ${fmt(r.cpu.dynamodb, 1)} / ${fmt(r.cpu.versitygw, 1)} | ` +
      `${fmt(othersCpu(r.cpu), 1)} | ${r.verified}/${ok.length} |`,
  );
  for (const s of r.senders.filter((x) => x.error))
    console.log(`\n- FAILED ${s.file}: exit ${s.exitCode}, ${s.error}`);
  const statuses = new Map<string, number>();
  for (const a of access)
    if (!a.requestId.startsWith("load-")) inc(statuses, `${routeOf(a.method, a.path)} → ${a.status}`);
  console.log(
    "\nWhat the coordinator answered the senders (its access log)\n\n| route → status | count |\n| --- | ---: |",
  );
  for (const [k, n] of [...statuses].sort()) console.log(`| ${k} | ${n} |`);
  printDynamo(
    `DynamoDB requests per \`sfts send\` (${ok.length} transfers)`,
    [r.dynamo],
    Math.max(1, ok.length),
  );
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      transfers: { type: "string", default: "200" },
      parts: { type: "string", default: "1" },
      rounds: { type: "string", default: "3" },
      senders: { type: "string", default: "20" },
      "size-mib": { type: "string", default: "64" },
      phases: { type: "string", default: "api,parts,batch,cli" },
      protocol: { type: "string", default: "lean" },
      "init-parts": { type: "string", default: String(MAX_INIT_PARTS) },
      "part-transfers": { type: "string", default: "10" },
      "many-parts": { type: "string", default: "4" },
      files: { type: "string", default: "1000" },
      "file-kib": { type: "string", default: "4" },
      dir: { type: "string", default: tmpdir() },
    },
  });
  const int = (name: keyof typeof values, min: number) => {
    const n = Number(values[name]);
    if (!(Number.isInteger(n) && n >= min)) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  const transfers = int("transfers", 1);
  const parts = int("parts", 1);
  const rounds = int("rounds", 1);
  const senders = int("senders", 1);
  const sizeMiB = int("size-mib", 1);
  const initParts = int("init-parts", 0);
  const partTransfers = int("part-transfers", 1);
  const manyParts = int("many-parts", 2);
  const files = int("files", 1);
  const fileKiB = int("file-kib", 0);
  if (parts > 500 || manyParts > 500) throw new Error("--parts and --many-parts must be at most 500");
  if (initParts > MAX_INIT_PARTS) throw new Error(`--init-parts must be at most ${MAX_INIT_PARTS}`);
  if (fileKiB * KiB > 8 * MiB) throw new Error("--file-kib must be at most 8192 (one single PUT)");
  const protocol = values.protocol as Protocol;
  if (protocol !== "lean" && protocol !== "legacy") throw new Error("--protocol must be lean or legacy");
  const phases = new Set(values.phases.split(",").map((p) => p.trim()));
  const known = ["api", "parts", "batch", "cli"];
  for (const p of phases)
    if (!known.includes(p)) throw new Error(`unknown phase "${p}" (${known.join(", ")})`);

  // The per-key rate limit: the bench's SFTS_RATE_LIMIT / SFTS_RATE_BURST if set, else the coordinator's default.
  const defaults = loadConfig({ SFTS_BUCKET: "x-x", SFTS_TABLE: "x-x" }).rateLimit;
  const envLimit = process.env.SFTS_RATE_LIMIT;
  const envBurst = process.env.SFTS_RATE_BURST;
  const rateLimit = {
    perSecond: envLimit ? Number(envLimit) : defaults.perSecond,
    burst: envBurst ? Number(envBurst) : defaults.burst,
  };
  const rateNote =
    envLimit || envBurst
      ? `${rateLimit.perSecond} requests/s per key, burst ${rateLimit.burst} (SFTS_RATE_LIMIT/SFTS_RATE_BURST set for the bench)`
      : `${rateLimit.perSecond} requests/s per key, burst ${rateLimit.burst} (the coordinator's default)`;

  const envShown = [envLimit && `SFTS_RATE_LIMIT=${envLimit}`, envBurst && `SFTS_RATE_BURST=${envBurst}`]
    .filter(Boolean)
    .map((e) => `${e} `)
    .join("");
  const argv = process.argv.slice(2);
  const command = `${envShown}npm run bench:load${argv.length ? ` -- ${argv.join(" ")}` : ""}`;

  const dir = await mkdtemp(join(resolve(values.dir), "sfts-bench-load-"));
  let stack: RunningStack | undefined;
  let generator: ChildProcess | undefined;
  let s3: S3Client | undefined;
  const children = new Set<ChildProcess>();
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      // The senders' whole process groups, at once (SIGTERM would only start their soft stop), and
      // their exit awaited, so that none is left talking to a stopped stack or a deleted file.
      const exits = [...children].map(
        (c) =>
          new Promise<void>((res) =>
            c.exitCode !== null || c.signalCode !== null ? res() : c.once("exit", () => res()),
          ),
      );
      for (const c of children)
        if (c.pid)
          try {
            process.kill(-c.pid, "SIGKILL");
          } catch {}
      await Promise.all(exits);
      generator?.kill();
      s3?.destroy();
      await stack?.stop().catch((err: unknown) => log(`stopping the stack: ${String(err)}`));
      await rm(dir, { recursive: true, force: true });
    })());
  cleanUpOnSignal(cleanup, {
    log,
    onSignal: () => {
      interrupted = true;
    },
  });

  const machine =
    `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ` +
    `Node ${process.version}`;
  const loadAtStart = load();
  try {
    const calls: CountedCall[] = [];
    stack = await startLocalStack({
      name: "bench",
      dataDir: join(dir, "stack"),
      log,
      rateLimit,
      onDynamoCall: (call) => calls.push(countCall(call)),
    });
    const registry = readRegistry(join(dir, "stack")).filter((e) => e.ownerPid === process.pid);
    const pidOf = (name: string) => registry.find((e) => e.name === name)?.pid ?? -1;
    const cpu = (): CpuSnapshot => ({
      node: procCpu("self"),
      generator: generator?.pid ? procCpu(generator.pid) : 0,
      dynamodb: procCpu(pidOf("DynamoDB Local")),
      versitygw: procCpu(pidOf("versitygw")),
      children: procCpu("self", true),
      machine: machineCpu(),
    });
    log(`Stack: API ${stack.apiUrl}, S3 ${stack.s3Endpoint}; rate limit ${rateNote}`);
    s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: stack.s3Credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });

    const one: RoundSpec = { kind: "transfers", transfers, parts, protocol, initParts, fileSize: 0 };
    const many: RoundSpec = { ...one, transfers: partTransfers, parts: manyParts };
    const batch: RoundSpec = { ...one, kind: "batch", transfers: files, parts: 1, fileSize: fileKiB * KiB };
    let apiReports: RoundReport[] | undefined;
    let partsReports: RoundReport[] | undefined;
    let batchReports: RoundReport[] | undefined;
    let ceiling: Ceiling | undefined;
    let cliReport: CliReport | undefined;
    // What a round waits before its DynamoDB requests are counted: the stats buffer's interval, and a margin.
    const settleMs = stack.config.statsFlushMs + 500;
    if (phases.has("api") || phases.has("parts") || phases.has("batch")) {
      generator = fork(fileURLToPath(import.meta.url), [LOAD_GENERATOR_FLAG], { stdio: "inherit" });
      const ask = asker(generator, { apiUrl: stack.apiUrl, token: stack.token });
      let completed = 0;
      ceiling = await warmUp(stack, ask, one);
      completed += WARM_UP_TRANSFERS;
      if (phases.has("api")) {
        log(
          `\nPhase api: ${transfers} simulated transfers at once, ${parts} part(s) each, ${rounds} round(s)`,
        );
        apiReports = await apiPhase({ ask, calls, cpu, spec: one, rounds, firstRound: 1, settleMs });
        completed += apiReports.reduce((a, r) => a + r.ok, 0);
      }
      if (phases.has("parts")) {
        log(`\nPhase parts: ${partTransfers} simulated transfers of ${manyParts} parts at once`);
        partsReports = await apiPhase({ ask, calls, cpu, spec: many, rounds: 1, firstRound: 100, settleMs });
        completed += partsReports.reduce((a, r) => a + r.ok, 0);
      }
      if (phases.has("batch")) {
        log(`\nPhase batch: one batch of ${files} files of ${fileKiB} KiB`);
        batchReports = await apiPhase({ ask, calls, cpu, spec: batch, rounds: 1, firstRound: 200, settleMs });
        completed += batchReports.reduce((a, r) => a + r.ok, 0);
      }
      generator.kill();
      generator = undefined;
      // Every completed transfer left exactly one object.
      let stored = 0;
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: "objects/", ContinuationToken: token }),
        );
        stored += page.KeyCount ?? 0;
        token = page.NextContinuationToken;
      } while (token);
      if (stored !== completed)
        throw new Error(`storage holds ${stored} objects after ${completed} completed transfers`);
    }
    if (phases.has("cli")) {
      log(`\nPhase 2: ${senders} × sfts send of ${sizeMiB} MiB at once`);
      cliReport = await cliPhase({ stack, dir, senders, sizeMiB, calls, cpu, children, s3 });
    }
    const logFile = stack.logFiles.api;
    s3.destroy();
    s3 = undefined;
    await stack.stop(); // flushes the access log
    const access: AccessLine[] = [];
    const notes = new Map<string, number>();
    for (const line of (await readFile(logFile, "utf8")).split("\n")) {
      if (!line.startsWith("{")) continue;
      const l = JSON.parse(line) as { level: string; msg: string } & Partial<AccessLine>;
      if (l.msg === "request")
        access.push({
          requestId: String(l.requestId),
          method: String(l.method),
          path: String(l.path),
          status: Number(l.status),
          ms: Number(l.ms),
        });
      else if (l.level === "warn" || l.level === "error") inc(notes, `${l.level}: ${l.msg}`);
    }

    console.log(
      `\n## Load on the coordinator (local stack)\n\n` +
        `Command: \`${command}\` (--transfers ${transfers} --parts ${parts} --rounds ${rounds} ` +
        `--protocol ${protocol} --init-parts ${initParts} --part-transfers ${partTransfers} ` +
        `--many-parts ${manyParts} --files ${files} --file-kib ${fileKiB} ` +
        `--senders ${senders} --size-mib ${sizeMiB} --phases ${[...phases].join(",")}). ` +
        `Stats buffer: ${stack.config.statsFlushMs} ms. ` +
        `${machine}; versitygw, DynamoDB Local, the coordinator and the clients share these CPUs. ` +
        `Load average at start ${loadAtStart}, at end ${load()}.`,
    );
    if (apiReports)
      printApi(
        `${transfers} simulated transfers at once through the coordinator API`,
        apiReports,
        ceiling,
        access,
        one,
        rateNote,
      );
    if (partsReports)
      printApi(
        `${partTransfers} simulated transfers of ${manyParts} parts at once`,
        partsReports,
        undefined,
        access,
        many,
        rateNote,
      );
    if (batchReports)
      printApi(`${files} small files in one batch`, batchReports, undefined, access, batch, rateNote);
    printWriteSummary({
      ...(apiReports && { one: { reports: apiReports, spec: one } }),
      ...(partsReports && { many: { reports: partsReports, spec: many } }),
      ...(batchReports && { batch: { reports: batchReports, spec: batch } }),
    });
    if (cliReport) printCli(cliReport, access);
    console.log("\nCoordinator log warnings and errors\n");
    if (notes.size === 0) console.log("None.");
    else for (const [k, n] of notes) console.log(`- ${k} ×${n}`);

    const failed =
      [apiReports, partsReports, batchReports].some((rs) => rs?.some((r) => r.failures.length > 0)) ||
      (cliReport?.senders.some((s) => s.error) ?? false);
    if (failed) process.exitCode = 1;
  } finally {
    if (!interrupted) await cleanup();
  }
}

if (process.argv[2] === LOAD_GENERATOR_FLAG) loadGeneratorMain();
else
  main().catch((err: unknown) => {
    if (interrupted) return; // the signal handler exits once cleaned up
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
