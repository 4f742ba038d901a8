/**
 * Folders and thousands of files: `sfts send DIR` against `aws s3 cp --recursive` (the PyPI AWS CLI 1.x
 * with --checksum-algorithm SHA256, and Debian's AWS CLI 2.9 with its defaults) and `rclone copy`, the
 * same file sets to the same store (versitygw + DynamoDB Local behind a shaped link, harness/linked-stack.ts),
 * several rounds, the tool order rotated every round. Every client runs inside the link. After every run
 * each stored object is read back from storage directly and hashed against its source file: a missing,
 * extra or wrong object fails the run (and the bench, exit 1) instead of being timed.
 *
 * Sets (deterministic from --seed, written once into a temp folder; harness/tree.ts):
 *   64k         good link   1,000 files of 64 KiB, one folder
 *   4k          good link   10,000 files of 4 KiB, one folder
 *   mixed       good link   250 files in nested folders, 0 B to 20 MiB, empty files and empty folders
 *   satellite   satellite   2,000 files of 4 KiB (600 ms RTT, 2 Mbit/s)
 *   mobile      mobile      2,000 files of 4 KiB (100 ms RTT, 8 Mbit/s, 2 % loss, drops)
 * sfts deduplicates by content and finds a batch again by its manifest (paths and sizes), so each sfts
 * run sends its own copy of the set: the same paths and sizes one folder down (run-<n>/…), other bytes.
 *
 * Tools (each run into a fresh prefix of the same bucket; sfts into its own objects):
 *   sfts         node bin/run.js send DIR --json                 (SFTS_SERVER/SFTS_TOKEN, a fresh state folder)
 *   aws-pypi     aws s3 cp --recursive DIR s3://… --checksum-algorithm SHA256   (PyPI awscli 1.x)
 *   aws-debian   /usr/bin/aws s3 cp --recursive DIR s3://…                      (AWS CLI 2.9, its defaults)
 *   rclone       rclone copy --expect-continue-timeout 0 DIR bench:…            (defaults: --transfers 4)
 *   rclone-t32   the same with --transfers 32 --checkers 32                     (a user tuning for small files)
 *   aws-pypi-c32 aws-pypi with s3.max_concurrent_requests = 32 (not run unless asked with --tools)
 *
 * Usage: npm run bench:files -- [--sets 64k,4k,mixed,satellite,mobile] [--tools sfts,aws-pypi,…]
 *        [--rounds 3] [--slow-rounds 1] [--seed 11] [--timeout S] [--out FILE] [--mode auto|kernel|proxy]
 *        [--dir /tmp] [--aws-pypi-bin PATH] [--aws-debian-bin /usr/bin/aws]
 */
import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdir, open, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { DynamoCall } from "../functions/adapters/clients.js";
import { repoRoot } from "../harness/cli-process.js";
import { sha256OfObject } from "../harness/files.js";
import { startLinkedStack } from "../harness/linked-stack.js";
import { type LinkProfile, type ProfileName, profileByName } from "../harness/profiles.js";
import {
  flatPlan,
  mixedPlan,
  planBytes,
  type TreePlan,
  type WrittenTree,
  writeTree,
} from "../harness/tree.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const exec = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

const SET_NAMES = ["64k", "4k", "mixed", "satellite", "mobile"] as const;
type SetName = (typeof SET_NAMES)[number];
const TOOL_NAMES = ["sfts", "aws-pypi", "aws-debian", "rclone", "rclone-t32", "aws-pypi-c32"] as const;
type ToolName = (typeof TOOL_NAMES)[number];
const DEFAULT_TOOLS: ToolName[] = ["sfts", "aws-pypi", "aws-debian", "rclone", "rclone-t32"];

/** sfts's time against the fastest peer's (fastest peer ÷ sfts) that each link must reach. */
const GOALS: Record<ProfileName, number> = {
  good: 1,
  satellite: 2,
  mobile: 1.3,
  flaky: 1,
  hostile: 1,
  "long-fat": 1.3,
};

const { values } = parseArgs({
  options: {
    sets: { type: "string", default: SET_NAMES.join(",") },
    tools: { type: "string", default: DEFAULT_TOOLS.join(",") },
    rounds: { type: "string", default: "3" },
    "slow-rounds": { type: "string", default: "1" },
    seed: { type: "string", default: "11" },
    timeout: { type: "string" },
    out: { type: "string" },
    mode: { type: "string", default: "auto" },
    dir: { type: "string", default: tmpdir() },
    "aws-pypi-bin": { type: "string" },
    "aws-debian-bin": { type: "string", default: "/usr/bin/aws" },
  },
});

const log = (line: string) => process.stderr.write(`[files] ${line}\n`);
const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const setNames = list(values.sets) as SetName[];
for (const s of setNames)
  if (!SET_NAMES.includes(s)) throw new Error(`unknown set ${s} (known: ${SET_NAMES.join(", ")})`);
const toolNames = list(values.tools) as ToolName[];
for (const t of toolNames)
  if (!TOOL_NAMES.includes(t)) throw new Error(`unknown tool ${t} (known: ${TOOL_NAMES.join(", ")})`);
const seed = Number(values.seed);
const goodRounds = Math.max(1, Number(values.rounds));
const slowRounds = Math.max(1, Number(values["slow-rounds"]));

interface FileSet {
  name: SetName;
  profile: LinkProfile;
  label: string;
  plan: TreePlan;
}

function makeSet(name: SetName): FileSet {
  switch (name) {
    case "64k":
      return {
        name,
        profile: profileByName("good"),
        label: "1,000 × 64 KiB",
        plan: flatPlan(1000, 64 * KiB),
      };
    case "4k":
      return {
        name,
        profile: profileByName("good"),
        label: "10,000 × 4 KiB",
        plan: flatPlan(10_000, 4 * KiB),
      };
    case "mixed": {
      const plan = mixedPlan(seed);
      return {
        name,
        profile: profileByName("good"),
        label: `mixed tree, ${plan.files.length} files, ${(planBytes(plan) / MiB).toFixed(0)} MiB`,
        plan,
      };
    }
    case "satellite":
    case "mobile":
      return { name, profile: profileByName(name), label: "2,000 × 4 KiB", plan: flatPlan(2000, 4 * KiB) };
  }
}

/** A run's time limit: 4× what a tool at 4 files in flight needs on the link, at least 3 minutes. */
function limitSeconds(set: FileSet): number {
  if (values.timeout !== undefined) return Number(values.timeout);
  const p = set.profile;
  const files = set.plan.files.length;
  const bytes = planBytes(set.plan);
  const linkSeconds = p.rateBitsPerSec ? (bytes * 8) / p.rateBitsPerSec : bytes / (200 * MiB);
  const expected = (files * (p.rttMs + p.jitterMs / 2)) / 1000 / 4 + linkSeconds + files * 0.01;
  return Math.max(180, Math.ceil(expected * 4));
}

// ---- running a command, bounded in time

function run(argv: string[], env: NodeJS.ProcessEnv, limitMs: number, keepAll: boolean) {
  return new Promise<{ code: number | null; out: string; err: string; timedOut: boolean }>((resolveRun) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd ?? "false", args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const outChunks: Buffer[] = [];
    let outTail = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      if (keepAll) outChunks.push(d);
      else outTail = (outTail + d.toString()).slice(-20_000);
    });
    child.stderr.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-20_000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, limitMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, out: keepAll ? Buffer.concat(outChunks).toString() : outTail, err, timedOut });
    });
  });
}

async function versionOf(argv: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const [cmd, ...args] = argv;
    const { stdout, stderr } = await exec(cmd ?? "false", args, { env });
    return (stdout || stderr).trim().split("\n")[0];
  } catch {
    return undefined;
  }
}

/** The PyPI AWS CLI: --aws-pypi-bin, else the `aws` on PATH (a pyenv shim resolved to its real script). */
async function findPypiAws(): Promise<string> {
  if (values["aws-pypi-bin"]) return values["aws-pypi-bin"];
  const viaPyenv = await exec("pyenv", ["which", "aws"]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  if (viaPyenv) return viaPyenv;
  const onPath = await exec("sh", ["-c", "command -v aws"]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  return onPath || "aws";
}

// ---- counting what the coordinator did

/** Items a DynamoDB request writes: Put/Update/Delete 1, BatchWrite and TransactWrite their items (not ConditionCheck). */
function itemsWritten(call: DynamoCall): number {
  const input = call.input as Record<string, unknown>;
  switch (call.operation) {
    case "PutItem":
    case "UpdateItem":
    case "DeleteItem":
      return 1;
    case "BatchWriteItem":
      return Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>).reduce(
        (s, reqs) => s + reqs.length,
        0,
      );
    case "TransactWriteItems":
      return ((input.TransactItems ?? []) as Record<string, unknown>[]).filter(
        (t) => t.Put !== undefined || t.Update !== undefined || t.Delete !== undefined,
      ).length;
    default:
      return 0;
  }
}

interface DynamoTally {
  requests: number;
  itemsWritten: number;
  /** Requests and their summed latency, by operation. */
  byOperation: Map<string, { n: number; ms: number }>;
}
const newTally = (): DynamoTally => ({ requests: 0, itemsWritten: 0, byOperation: new Map() });
let dynamo = newTally();

/** The coordinator's access-log lines from `offset` on (requests of the readback excluded). */
async function accessLines(
  file: string,
  offset: number,
): Promise<{ method: string; path: string; ms: number }[]> {
  const f = await open(file, "r");
  try {
    const { size } = await f.stat();
    const buf = Buffer.alloc(Math.max(0, size - offset));
    await f.read(buf, 0, buf.length, offset);
    const out: { method: string; path: string; ms: number }[] = [];
    for (const line of buf.toString().split("\n")) {
      if (!line.startsWith("{")) continue;
      const l = JSON.parse(line) as {
        msg?: string;
        method?: string;
        path?: string;
        requestId?: string;
        ms?: number;
      };
      if (l.msg !== "request" || String(l.requestId).startsWith("bench-readback")) continue;
      out.push({ method: String(l.method), path: String(l.path), ms: Number(l.ms ?? 0) });
    }
    return out;
  } finally {
    await f.close();
  }
}

const routeOf = (method: string, path: string) =>
  `${method} ${path
    .replace(/(tr|bt)_[0-9a-z]{26}/g, "{id}")
    .replace(/\/parts\/\d+\//, "/parts/{n}/")
    .replace(/\?.*$/, "")}`;

/** Where an sfts run's time went, from its --json events: seconds after the process started. */
function timeline(out: string, startedAt: number, seconds: number): string {
  const events: { type: string; phase?: string; time: string }[] = [];
  for (const l of out.split("\n")) {
    if (!l.startsWith("{")) continue;
    try {
      events.push(JSON.parse(l) as { type: string; phase?: string; time: string });
    } catch {
      // not an event line
    }
  }
  const at = (e: { time: string } | undefined) =>
    e === undefined ? "–" : `${((Date.parse(e.time) - startedAt) / 1000).toFixed(2)}`;
  const byType = new Map<string, number>();
  for (const e of events) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
  const dones = events.filter((e) => e.type === "done");
  const retries = (events as { type: string; operation?: string; code?: string; reason?: string }[])
    .filter((e) => e.type === "retry")
    .map((e) => `${e.operation} ${e.code ?? ""} ${e.reason ?? ""}`.slice(0, 120));
  return (
    `first event ${at(events[0])} s, batch start ${at(events.find((e) => e.type === "batch" && e.phase === "start"))} s, ` +
    `first start ${at(events.find((e) => e.type === "start"))} s, first done ${at(dones[0])} s, ` +
    `last done ${at(dones.at(-1))} s, batch end ${at(events.find((e) => e.type === "batch" && e.phase === "end"))} s, ` +
    `exit ${seconds.toFixed(2)} s; events ${[...byType].map(([k, v]) => `${k} ${v}`).join(", ")}` +
    (retries.length ? `; retries: ${retries.slice(0, 5).join(" | ")}` : "")
  );
}

// ---- results

interface RunResult {
  tool: ToolName;
  round: number;
  seconds: number;
  outcome: "ok" | "failed" | "timeout" | "corrupt";
  detail?: string;
  /** sfts: the batch's listing disagrees with itself (bytes right); reported, and the bench exits 1. */
  anomaly?: string;
  /** sfts only */
  apiCalls?: number;
  dynamoItems?: number;
  dynamoRequests?: number;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

// ---- reading back

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i] as T);
    }),
  );
}

/** Every object under `prefix`, by key. */
async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    await s3
      .send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
        }),
      )
      .catch((err: unknown) => log(`  (could not delete ${chunk.length} objects: ${String(err)})`));
  }
}

/** Compares what storage holds for each path with the source file's hash; a list of what is wrong. */
async function compare(
  s3: S3Client,
  bucket: string,
  tree: WrittenTree,
  keyOf: Map<string, string>,
): Promise<string[]> {
  const problems: string[] = [];
  const paths = [...tree.sha256.keys()];
  await pool(paths, 32, async (path) => {
    const key = keyOf.get(path);
    if (key === undefined) {
      problems.push(`missing: ${path}`);
      return;
    }
    const got = await sha256OfObject(s3, bucket, key).catch((err: unknown) => ({
      sha256: `unreadable (${err instanceof Error ? err.name : String(err)})`,
    }));
    if (got.sha256 !== tree.sha256.get(path))
      problems.push(`wrong bytes: ${path} (object ${key}: ${got.sha256})`);
  });
  return problems;
}

interface SftsFile {
  id: string;
  path?: string;
  sha256: string;
  size: number;
  status: string;
  deduplicatedFrom?: string;
}

async function api<T>(apiUrl: string, token: string, path: string, n: number): Promise<T> {
  const res = await fetch(new URL(path, apiUrl), {
    headers: {
      authorization: `Bearer ${token}`,
      accept: "application/json",
      "x-request-id": `bench-readback-${n}`,
    },
  });
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

// ---- main

async function main(): Promise<number> {
  const sets = setNames.map(makeSet);
  // Good link first, then the slow ones: one profile change each.
  sets.sort((a, b) => Number(a.profile.name !== "good") - Number(b.profile.name !== "good"));
  const loadAtStart = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  const { link, stack, work, stop } = await startLinkedStack({
    name: "files",
    profile: sets[0]?.profile ?? profileByName("good"),
    mode: values.mode as "auto" | "kernel" | "proxy",
    seed,
    log,
    dir: values.dir,
    onDynamoCall: (call) => {
      dynamo.requests++;
      dynamo.itemsWritten += itemsWritten(call);
      const o = dynamo.byOperation.get(call.operation) ?? { n: 0, ms: 0 };
      dynamo.byOperation.set(call.operation, { n: o.n + 1, ms: o.ms + call.ms });
    },
  });
  let s3: S3Client | undefined;
  try {
    s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: stack.s3Credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_") && !k.startsWith("RCLONE_")),
    ) as Record<string, string>;
    const { accessKeyId, secretAccessKey } = stack.s3Credentials;
    await writeFile(join(work, "rclone.conf"), "");
    await writeFile(join(work, "aws-config"), "");
    await writeFile(join(work, "aws-config-c32"), "[default]\ns3 =\n    max_concurrent_requests = 32\n");
    const awsPypi = await findPypiAws();
    const awsDebian = values["aws-debian-bin"];
    const awsEnv = (home: string, config: string) => ({
      ...clean,
      HOME: home,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_CONFIG_FILE: join(work, config),
      AWS_SHARED_CREDENTIALS_FILE: join(work, "aws-config"),
      AWS_PAGER: "",
    });
    const rcloneEnv = (home: string) => ({
      ...clean,
      HOME: home,
      RCLONE_CONFIG: join(work, "rclone.conf"),
      RCLONE_CONFIG_BENCH_TYPE: "s3",
      RCLONE_CONFIG_BENCH_PROVIDER: "Other",
      RCLONE_CONFIG_BENCH_ENDPOINT: link.s3Url,
      RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: accessKeyId,
      RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: secretAccessKey,
      RCLONE_CONFIG_BENCH_REGION: "us-east-1",
      RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
    });
    const versions: Record<string, string> = {
      sfts: `node bin/run.js (${process.version})`,
      "aws-pypi": (await versionOf([awsPypi, "--version"], awsEnv(work, "aws-config"))) ?? "not installed",
      "aws-debian":
        (await versionOf([awsDebian, "--version"], awsEnv(work, "aws-config"))) ?? "not installed",
      rclone: (await versionOf(["rclone", "version"], rcloneEnv(work))) ?? "not installed",
    };
    versions["rclone-t32"] = versions.rclone ?? "";
    versions["aws-pypi-c32"] = versions["aws-pypi"] ?? "";
    for (const t of toolNames)
      if (versions[t] === "not installed") throw new Error(`${t} is not installed (see bench/README.md)`);
    log(`tools: ${toolNames.map((t) => `${t}: ${versions[t]}`).join("; ")}`);

    /** argv and environment of one run of `tool` sending `dir` to `prefix`. */
    const command = (tool: ToolName, dir: string, prefix: string, home: string) => {
      const s3Url = `s3://${stack.bucket}/${prefix}`;
      const awsArgs = ["s3", "cp", "--recursive", dir, s3Url, "--endpoint-url", link.s3Url];
      awsArgs.push("--no-progress", "--only-show-errors");
      const rclone = ["env", "-u", "AWS_CA_BUNDLE", "rclone", "copy", "--expect-continue-timeout", "0"];
      switch (tool) {
        case "sfts":
          return {
            argv: [process.execPath, join(repoRoot, "bin", "run.js"), "send", dir, "--json"],
            env: {
              ...clean,
              HOME: home,
              XDG_STATE_HOME: join(home, "state"),
              XDG_CONFIG_HOME: join(home, "config"),
              SFTS_SERVER: link.apiUrl,
              SFTS_TOKEN: stack.token,
            },
          };
        case "aws-pypi":
          return {
            argv: [awsPypi, ...awsArgs, "--checksum-algorithm", "SHA256"],
            env: awsEnv(home, "aws-config"),
          };
        case "aws-pypi-c32":
          return {
            argv: [awsPypi, ...awsArgs, "--checksum-algorithm", "SHA256"],
            env: awsEnv(home, "aws-config-c32"),
          };
        case "aws-debian":
          return { argv: [awsDebian, ...awsArgs], env: awsEnv(home, "aws-config") };
        case "rclone":
          return { argv: [...rclone, dir, `bench:${stack.bucket}/${prefix}`], env: rcloneEnv(home) };
        case "rclone-t32":
          return {
            argv: [
              ...rclone,
              "--transfers",
              "32",
              "--checkers",
              "32",
              dir,
              `bench:${stack.bucket}/${prefix}`,
            ],
            env: rcloneEnv(home),
          };
      }
    };

    // The sets, written once.
    const trees = new Map<SetName, WrittenTree>();
    for (const set of sets) {
      const t0 = performance.now();
      trees.set(set.name, await writeTree(join(work, "sets", set.name), set.plan, seed, "peers"));
      log(`set ${set.name}: ${set.label}, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }

    const results: { set: FileSet; runs: RunResult[] }[] = [];
    const out = values.out ?? join(values.dir ?? tmpdir(), `sfts-bench-files-${Date.now()}.md`);
    /** The table of the runs so far (partial: the bench was interrupted). */
    const render = (partial: boolean): { text: string; allOk: boolean } => {
      const peers = toolNames.filter((t) => t !== "sfts");
      const header =
        `Folders and many files, to one versitygw + DynamoDB Local behind each link (link via ${link.mode}` +
        `${link.notes.length ? `: ${link.notes.join("; ")}` : ""}); seed ${seed}; ${goodRounds} rounds on good, ` +
        `${slowRounds} on satellite and mobile; ${cpus().length} cores, load ${loadAtStart} at start, ` +
        `${loadavg()[0]?.toFixed(2)} at end; ${process.version}. Median wall time of the successful runs. ` +
        "Ratio: for sfts, the fastest peer's time ÷ sfts's time; for a peer, its time ÷ sfts's time " +
        "(above 1: sfts faster). Goals for sfts: good ≥ 1.0×, satellite ≥ 2×, mobile ≥ 1.3×.";
      const lines = [
        header,
        "",
        "| set | link | tool | ok | median s | files/s | MiB/s | ratio | API calls/file | DynamoDB items written/file | goal |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
      ];
      let allOk = true;
      for (const { set, runs } of results) {
        const files = set.plan.files.length;
        const mib = planBytes(set.plan) / MiB;
        const med = (tool: ToolName) =>
          median(runs.filter((r) => r.tool === tool && r.outcome === "ok").map((r) => r.seconds));
        const sfts = med("sfts");
        let fastest: { tool: ToolName; s: number } | undefined;
        for (const p of peers) {
          const s = med(p);
          if (s !== undefined && (fastest === undefined || s < fastest.s)) fastest = { tool: p, s };
        }
        for (const tool of toolNames) {
          const mine = runs.filter((r) => r.tool === tool);
          const ok = mine.filter((r) => r.outcome === "ok");
          if (ok.length !== mine.length) allOk = false;
          const m = med(tool);
          const fmt = (x: number | undefined, d: number) => (x === undefined ? "–" : x.toFixed(d));
          const timeouts = mine.filter((r) => r.outcome === "timeout").map((r) => r.seconds);
          const timedOut = ok.length === 0 && timeouts.length ? Math.min(...timeouts) : undefined;
          let ratio = "–";
          let goal = "";
          let api = "";
          let ddb = "";
          if (tool === "sfts") {
            const want = GOALS[set.profile.name];
            if (m !== undefined && fastest !== undefined) {
              const x = fastest.s / m;
              ratio = `${x.toFixed(2)}× ${fastest.tool}`;
              goal = `≥ ${want}×: ${x >= want ? "MET" : "**NOT MET**"}`;
            } else if (timedOut !== undefined && fastest !== undefined) {
              // Killed at its limit: slower than that, so the ratio is at most this.
              const x = fastest.s / timedOut;
              ratio = `< ${x.toFixed(2)}× ${fastest.tool}`;
              goal = `≥ ${want}×: ${x >= want ? "NOT MEASURED" : "**NOT MET** (timed out)"}`;
            } else goal = `≥ ${want}×: NOT MEASURED`;
            const medOf = (f: (r: RunResult) => number | undefined) =>
              median(ok.map(f).filter((v): v is number => v !== undefined));
            api = fmt(
              medOf((r) => (r.apiCalls === undefined ? undefined : r.apiCalls / files)),
              3,
            );
            ddb = fmt(
              medOf((r) => (r.dynamoItems === undefined ? undefined : r.dynamoItems / files)),
              2,
            );
          } else if (m !== undefined && sfts !== undefined) ratio = (m / sfts).toFixed(2);
          lines.push(
            `| ${set.name} (${set.label}) | ${set.profile.name} | ${tool} | ${ok.length}/${mine.length} | ${timedOut !== undefined ? `> ${timedOut.toFixed(0)}` : fmt(m, 2)} | ` +
              `${m === undefined ? "–" : (files / m).toFixed(0)} | ${m === undefined ? "–" : (mib / m).toFixed(1)} | ` +
              `${ratio} | ${api} | ${ddb} | ${goal} |`,
          );
        }
      }
      lines.push(
        "",
        "Commands (each run through the link, into its own prefix): " +
          toolNames
            .map((t) => {
              const c = command(t, "DIR", "PREFIX/", "HOME").argv.map((a) =>
                a === process.execPath ? "node" : a.replace(repoRoot, ".").replace(link.s3Url, "<s3>"),
              );
              return `${t}: \`${c.join(" ")}\``;
            })
            .join("; ") +
          ". Tool versions: " +
          toolNames.map((t) => `${t} ${versions[t]}`).join("; ") +
          ".",
      );
      const failures = results.flatMap(({ set, runs }) =>
        runs
          .filter((r) => r.outcome !== "ok")
          .map((r) => `- ${set.name} ${r.tool} round ${r.round + 1}: ${r.outcome} ${r.detail ?? ""}`),
      );
      if (failures.length) lines.push("", "Runs that did not succeed:", ...failures);
      const anomalies = results.flatMap(({ set, runs }) =>
        runs
          .filter((r) => r.anomaly)
          .map((r) => `- ${set.name} ${r.tool} round ${r.round + 1}: ${r.anomaly}`),
      );
      if (anomalies.length) {
        allOk = false;
        lines.push("", "Runs whose bytes were right but whose batch listing was not:", ...anomalies);
      }
      if (partial) lines.unshift("**Interrupted: the runs measured so far.**", "");
      return { text: `${lines.join("\n")}\n`, allOk };
    };
    // Ctrl-C: the table of what was measured, before the stack is stopped.
    process.once("SIGINT", () => {
      const { text } = render(true);
      process.stdout.write(text);
      writeFileSync(out, text);
      log(`table of the runs so far written to ${out}`);
    });
    let n = 0;
    let readbackSeq = 0;
    for (const set of sets) {
      if (link.profile.name !== set.profile.name) await link.setProfile(set.profile);
      const rounds = set.profile.name === "good" ? goodRounds : slowRounds;
      const base = trees.get(set.name) as WrittenTree;
      const runs: RunResult[] = [];
      results.push({ set, runs });
      const limit = limitSeconds(set);
      for (let round = 0; round < rounds; round++) {
        const order = toolNames.map((_, i) => toolNames[(i + round) % toolNames.length] as ToolName);
        for (const tool of order) {
          const runId = n++;
          const home = join(work, `home-${runId}`);
          await mkdir(home, { recursive: true });
          // sfts gets its own copy of the set: other bytes (no dedupe), other paths (no batch resume).
          let tree = base;
          let sendDir = base.root;
          if (tool === "sfts") {
            sendDir = join(work, `sfts-${runId}`);
            tree = await writeTree(join(sendDir, `run-${runId}`), set.plan, seed, `sfts-${runId}`);
          }
          const prefix = `bench/${set.name}/${tool}-${runId}/`;
          const { argv, env } = command(tool, sendDir, prefix, home);
          log(`${set.name} round ${round + 1}: ${tool}`);
          await link.restartEvents();
          const logOffset = (await stat(stack.logFiles.api)).size;
          dynamo = newTally();
          const startedAt = Date.now();
          const t0 = performance.now();
          const r = await run(link.command(argv), env, limit * 1000, tool === "sfts");
          const seconds = (performance.now() - t0) / 1000;
          // The coordinator coalesces its advisory counters (SFTS_STATS_FLUSH_MS, 1 s): wait for this run's.
          const settled = new Promise((r) => setTimeout(r, 2_000));
          const result: RunResult = { tool, round, seconds, outcome: "ok" };
          const lastLine = (s: string) => s.trim().split("\n").slice(-1)[0] ?? "";
          if (r.timedOut) {
            result.outcome = "timeout";
            result.detail = `killed after ${limit} s`;
          } else if (r.code !== 0) {
            result.outcome = "failed";
            result.detail = `exit ${r.code}: ${lastLine(r.err) || lastLine(r.out)}`.slice(0, 300);
          }
          let toDelete: string[] = [];
          if (result.outcome === "ok") {
            // Read back: what storage holds for every source file, hashed.
            const keyOf = new Map<string, string>();
            const problems: string[] = [];
            if (tool === "sfts") {
              const events = r.out
                .split("\n")
                .filter((l) => l.startsWith("{"))
                .map((l) => JSON.parse(l) as { type: string; batchId?: string; resumed?: boolean });
              const batchId = events.findLast(
                (e) => (e.type === "batch" || e.type === "done") && e.batchId,
              )?.batchId;
              if (events.some((e) => e.type === "batch" && e.resumed))
                problems.push("sfts resumed an earlier batch: the bench must send a fresh one");
              if (!batchId) problems.push("no batch or done event with a batchId");
              else {
                const strip = new RegExp(`^(?:.*/)?run-${runId}/`);
                let cursor: string | null = null;
                const records = new Map<string, SftsFile[]>();
                do {
                  const q: string = `limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
                  const page: { items: SftsFile[]; nextCursor: string | null } = await api(
                    stack.apiUrl,
                    stack.token,
                    `/api/batches/${batchId}/files?${q}`,
                    readbackSeq++,
                  );
                  for (const f of page.items) {
                    const rel = (f.path ?? "").replace(strip, "");
                    records.set(rel, [...(records.get(rel) ?? []), f]);
                  }
                  cursor = page.nextCursor;
                } while (cursor);
                // The transfer each file ended with, as the CLI reported it.
                const doneId = new Map<string, string>();
                for (const e of events as { type: string; path?: string; transferId?: string }[])
                  if (e.type === "done" && e.path && e.transferId)
                    doneId.set(e.path.replace(strip, ""), e.transferId);
                const stale: string[] = [];
                for (const [rel, fs] of records) {
                  if (!tree.sha256.has(rel)) {
                    problems.push(`extra file in the batch: ${rel}`);
                    continue;
                  }
                  const complete = fs.filter((f) => f.status === "complete");
                  const f = complete[0];
                  if (f === undefined || complete.length > 1) {
                    problems.push(
                      `${rel}: ${complete.length} complete records (${fs.map((x) => `${x.id} ${x.status}`).join(", ")})`,
                    );
                    continue;
                  }
                  if (fs.length > 1) stale.push(`${rel}: ${fs.map((x) => `${x.id} ${x.status}`).join(", ")}`);
                  if (f.sha256 !== tree.sha256.get(rel)) problems.push(`${rel}: recorded SHA-256 differs`);
                  const reported = doneId.get(rel);
                  if (reported !== undefined && reported !== f.id)
                    problems.push(`${rel}: the CLI reported ${reported}, the batch lists ${f.id} complete`);
                  const key = `objects/${f.deduplicatedFrom ?? f.id}`;
                  keyOf.set(rel, key);
                  if (f.deduplicatedFrom === undefined) toDelete.push(key);
                }
                if (stale.length) {
                  result.anomaly = `${stale.length} paths listed more than once in the batch (the complete record beside stale ones): ${stale.slice(0, 3).join("; ")}`;
                  log(`  !!! ${result.anomaly}`);
                }
                const detail = await api<{ dirs?: string[] }>(
                  stack.apiUrl,
                  stack.token,
                  `/api/batches/${batchId}`,
                  readbackSeq++,
                );
                const dirs = new Set((detail.dirs ?? []).map((d) => d.replace(strip, "")));
                for (const d of set.plan.emptyDirs)
                  if (!dirs.has(d)) problems.push(`empty folder not kept: ${d}`);
              }
            } else {
              const keys = await listKeys(s3, stack.bucket, prefix);
              const expected = new Set([...tree.sha256.keys()].map((p) => prefix + p));
              for (const k of keys) {
                if (!expected.has(k)) problems.push(`extra object: ${k}`);
                else keyOf.set(k.slice(prefix.length), k);
              }
              toDelete = keys;
            }
            problems.push(...(await compare(s3, stack.bucket, tree, keyOf)));
            if (problems.length) {
              result.outcome = "corrupt";
              result.detail = `${problems.length} problems: ${problems.slice(0, 5).join("; ")}`;
              log(`  !!! ${tool} exited 0 but storage does not hold the set: ${result.detail}`);
            }
          }
          await settled;
          const tally = dynamo;
          if (tool === "sfts") log(`  sfts timeline: ${timeline(r.out, startedAt, seconds)}`);
          if (tool === "sfts") {
            const lines = await accessLines(stack.logFiles.api, logOffset);
            result.apiCalls = lines.length;
            const routes = new Map<string, { n: number; ms: number; max: number }>();
            for (const l of lines) {
              const route = routeOf(l.method, l.path);
              const r0 = routes.get(route) ?? { n: 0, ms: 0, max: 0 };
              routes.set(route, { n: r0.n + 1, ms: r0.ms + l.ms, max: Math.max(r0.max, l.ms) });
            }
            result.dynamoItems = tally.itemsWritten;
            result.dynamoRequests = tally.requests;
            const files = set.plan.files.length;
            log(
              `  sfts: ${result.apiCalls} API calls (${(result.apiCalls / files).toFixed(3)}/file: ` +
                `${[...routes].map(([k, v]) => `${k} ×${v.n} (server ${(v.ms / 1000).toFixed(1)} s, max ${v.max} ms)`).join(", ")}); ` +
                `DynamoDB ${tally.requests} requests, ${tally.itemsWritten} items written ` +
                `(${(tally.itemsWritten / files).toFixed(2)}/file; ` +
                `${[...tally.byOperation].map(([k, v]) => `${k} ×${v.n} ${(v.ms / 1000).toFixed(1)} s`).join(", ")})`,
            );
          }
          log(
            `  ${result.outcome} in ${seconds.toFixed(2)} s (${(set.plan.files.length / seconds).toFixed(0)} files/s)` +
              `${result.detail ? `: ${result.detail}` : ""}`,
          );
          if (result.outcome !== "ok" && r.err.trim()) log(`  stderr: ${r.err.trim().slice(-1500)}`);
          runs.push(result);
          await deleteKeys(s3, stack.bucket, toDelete);
          await rm(home, { recursive: true, force: true });
          if (tool === "sfts") await rm(sendDir, { recursive: true, force: true });
        }
      }
      await rm(base.root, { recursive: true, force: true });
    }

    const { text, allOk } = render(false);
    process.stdout.write(text);
    await writeFile(out, text);
    log(`table written to ${out}`);
    return allOk ? 0 : 1;
  } finally {
    s3?.destroy();
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/files failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
