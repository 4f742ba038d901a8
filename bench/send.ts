/**
 * How does `sfts send` compare with ordinary S3 uploaders? One random file, uploaded to the same
 * versitygw (the local stack, on free ports in a temp dir) by each tool in turn, several rounds,
 * the order reversed every other round. Peers (the ratio is against the fastest of them):
 *   aws-pypi-sha256 <pypi aws> s3 cp FILE s3://… --checksum-algorithm SHA256  (AWS CLI 1.x; SHA-256 like sfts)
 *   aws-debian      /usr/bin/aws s3 cp FILE s3://…                            (AWS CLI 2.9, its defaults)
 *   rclone-nowait   rclone copyto --expect-continue-timeout 0 FILE bench:…    (see makeTools: versitygw quirk)
 * Shown for information, never the fastest peer:
 *   sfts-c64        sfts with --concurrency 64: memory stays bounded by --memory whatever the concurrency
 *   aws-pypi        <pypi aws> s3 cp with its default checksum (CRC32)
 *   rclone          rclone copyto FILE bench:bucket/key (stalls 1 s per part on versitygw's 100-continue;
 *                   only run when named in --tools)
 *   sha256sum       sha256sum FILE                                           (the hashing floor)
 *   openssl-sha256  openssl dgst -sha256 FILE                                (the floor with SHA-NI, as Node has)
 * and sfts itself: node bin/run.js send FILE --server … --token … --json [--sfts-args].
 * Each run is measured by /usr/bin/time (wall, user+sys CPU and peak RSS, the largest process of the
 * tool's tree: for sfts its node process) and bounded by --timeout (the whole process group is killed);
 * the CPU the stack spent meanwhile (versitygw, DynamoDB Local, the in-process coordinator) is shown
 * apart. After each upload the stored object's size is checked, and once per tool its bytes are read
 * back and hashed: a tool that stores wrong bytes fails instead of being timed. A failed run is counted
 * and left out of the medians; the tool is not run again.
 * Usage: npm run bench:send -- [--size-mib 1024] [--rounds 3] [--tools sfts,aws-pypi-sha256,…]
 *        [--timeout 600] [--out FILE.json] [--sfts-args "--memory 256MiB"] [--dir /tmp]
 *        [--aws-pypi-bin PATH] [--aws-debian-bin /usr/bin/aws]
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { repoRoot } from "../harness/cli-process.js";
import { sha256OfObject, writeRandomFile } from "../harness/files.js";
import { startLocalStack } from "../harness/local-stack.js";
import { cleanUpOnSignal } from "../harness/signals.js";
import { readRegistry } from "../local/pid-registry.js";
import type { RunningStack } from "../local/stack.js";
import { compare, goalMark, type ToolRuns } from "./compare.js";
import { findPypiAws } from "./peers.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const MiB = 1024 * 1024;
const TIME = "/usr/bin/time";
const ALL_TOOLS = [
  "sfts",
  "sfts-c64",
  "aws-pypi-sha256",
  "aws-pypi",
  "aws-debian",
  "rclone-nowait",
  "rclone",
  "sha256sum",
  "openssl-sha256",
] as const;
type ToolName = (typeof ALL_TOOLS)[number];
/** The peers sfts must beat (≥ 1.0× the fastest); the other rows are shown for information. */
const PEERS: readonly ToolName[] = ["aws-pypi-sha256", "aws-debian", "rclone-nowait"];
const RATIO_GOAL = 1;
/** Plain rclone only when asked: it measures versitygw's 100-continue stall (~70 s a run), not rclone. */
const DEFAULT_TOOLS = ALL_TOOLS.filter((t) => t !== "rclone");

const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "1024" },
    rounds: { type: "string", default: "3" },
    tools: { type: "string", default: DEFAULT_TOOLS.join(",") },
    dir: { type: "string", default: tmpdir() },
    timeout: { type: "string", default: "600" },
    out: { type: "string" },
    "sfts-args": { type: "string", default: "" },
    "aws-pypi-bin": { type: "string" },
    "aws-debian-bin": { type: "string", default: "/usr/bin/aws" },
  },
});
const sftsArgs = values["sfts-args"].split(" ").filter(Boolean);
const timeoutMs = Number(values.timeout) * 1000;
if (!(timeoutMs > 0)) throw new Error("--timeout must be a positive number of seconds");
const sizeMiB = Number(values["size-mib"]);
const rounds = Number(values.rounds);
const wanted = values.tools.split(",").map((t) => t.trim());
for (const t of wanted)
  if (!(ALL_TOOLS as readonly string[]).includes(t))
    throw new Error(`unknown tool "${t}" (known: ${ALL_TOOLS.join(", ")})`);
if (!(Number.isInteger(sizeMiB) && sizeMiB > 0)) throw new Error("--size-mib must be a positive integer");
if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error("--rounds must be a positive integer");
const size = sizeMiB * MiB;

const run = promisify(execFile);
const log = (line: string) => console.error(line);

// ---------------------------------------------------------------------------------------------
// Measuring one command

interface Measured {
  wall: number;
  user: number;
  sys: number;
  /** KiB, of the largest single process of the tree (GNU time's %M). */
  maxRssKiB: number;
  /** CPU seconds the stack (versitygw + DynamoDB Local + the coordinator in this process) used meanwhile. */
  stackCpu: number;
  stdout: string;
  stderr: string;
}

interface Command {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** For the printout; secrets already masked. */
  shown: string;
}

let current: ChildProcess | undefined;
/** Set by Ctrl-C/SIGTERM: the run stops, cleans up and exits 130. */
let interrupted = false;

const CLK_TCK = 100;
/** user+sys CPU seconds of a live process, from /proc/<pid>/stat (fields 14 and 15). */
function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function stackCpu(stackPids: number[]): number {
  const self = process.cpuUsage();
  return stackPids.reduce((s, pid) => s + procCpu(pid), (self.user + self.system) / 1e6);
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

async function timed(cmd: Command, timeFile: string, stackPids: number[]): Promise<Measured> {
  const cpuBefore = stackCpu(stackPids);
  // Its own process group, so that an interrupt can stop the whole tree (time does not forward signals).
  const child = spawn(TIME, ["-f", "%e %U %S %M", "-o", timeFile, cmd.command, ...cmd.args], {
    cwd: repoRoot,
    env: cmd.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  current = child;
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-64 * 1024);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {}
  }, timeoutMs);
  const code = await new Promise<number>((res, rej) => {
    child.once("error", rej);
    child.once("close", (c, signal) => res(c ?? (signal ? 128 : 1)));
  }).finally(() => clearTimeout(timer));
  current = undefined;
  const cpuAfter = stackCpu(stackPids);
  if (timedOut) throw new Error(`timed out: killed at the ${timeoutMs / 1000} s limit (--timeout)`);
  if (code !== 0) throw new Error(`exit code ${code}:\n${tail(stderr)}\n${tail(stdout, 5)}`);
  // On failure time writes "Command exited with non-zero status N" first; the figures are the last line.
  const last = (await readFile(timeFile, "utf8")).trim().split("\n").at(-1) ?? "";
  const [wall, user, sys, rss] = last.split(" ").map(Number);
  if ([wall, user, sys, rss].some((n) => n === undefined || !Number.isFinite(n)))
    throw new Error(`cannot read ${TIME} output: ${last}`);
  return {
    wall: wall as number,
    user: user as number,
    sys: sys as number,
    maxRssKiB: rss as number,
    stackCpu: cpuAfter - cpuBefore,
    stdout,
    stderr,
  };
}

// ---------------------------------------------------------------------------------------------
// The file

// ---------------------------------------------------------------------------------------------
// The tools

interface Tool {
  name: ToolName;
  /** Why it cannot run here, if it cannot. */
  unavailable?: string;
  version: string;
  /** Fresh per run (sfts gets a fresh client state folder). */
  command(): Promise<Command>;
  /** After a successful run: the stored object's key (undefined for sha256sum); throws if the output is wrong. */
  check(stdout: string): Promise<string | undefined>;
}

const firstLine = (s: string) => s.trim().split("\n")[0] ?? "";

async function version(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: repoRoot, env: env ?? process.env });
    return firstLine(stdout || stderr);
  } catch {
    return undefined;
  }
}

function withoutAwsVars(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("AWS_") || k.startsWith("RCLONE_")) delete env[k];
  return env;
}

async function makeTools(
  stack: RunningStack,
  dir: string,
  file: string,
  sha256: string,
  s3: S3Client,
): Promise<Tool[]> {
  const bucket = stack.bucket;
  const { accessKeyId, secretAccessKey } = stack.s3Credentials;
  const clean = withoutAwsVars();
  const tools: Tool[] = [];
  let sftsRun = 0;

  // sfts: a fresh XDG state/config folder per run, so no journal of an earlier run is resumed.
  const sftsHelp = await version(process.execPath, ["bin/run.js", "send", "--help"]);
  const sftsVersion = (await version(process.execPath, ["bin/run.js", "--version"])) ?? "?";
  for (const variant of ["sfts", "sfts-c64"] as const) {
    const extra = variant === "sfts-c64" ? [...sftsArgs, "--concurrency", "64"] : sftsArgs;
    tools.push({
      name: variant,
      ...(sftsHelp === undefined && {
        unavailable: `${variant}: not available yet (node bin/run.js send --help fails)`,
      }),
      version: sftsVersion,
      async command() {
        const home = join(dir, `sfts-client-${sftsRun++}`);
        await rm(home, { recursive: true, force: true });
        await mkdir(home, { recursive: true });
        const args = [
          "bin/run.js",
          "send",
          file,
          "--server",
          stack.apiUrl,
          "--token",
          stack.token,
          "--json",
          ...extra,
        ];
        return {
          command: process.execPath,
          args,
          env: { ...clean, XDG_STATE_HOME: join(home, "state"), XDG_CONFIG_HOME: join(home, "config") },
          shown: `node ${args.join(" ").replace(stack.token, "<token>")}`,
        };
      },
      async check(stdout) {
        const events = stdout
          .split("\n")
          .filter((l) => l.trim().startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const done = events.findLast((e) => e.type === "done");
        if (!done) throw new Error(`no "done" event in the --json output:\n${tail(stdout, 5)}`);
        if (done.deduplicated === true || done.resumed === true)
          throw new Error(`sfts did not send the whole file (deduplicated/resumed): ${JSON.stringify(done)}`);
        if (done.sha256 !== sha256)
          throw new Error(`sfts reports SHA-256 ${String(done.sha256)}, not ${sha256}`);
        if (typeof done.bytesSent === "number" && done.bytesSent < size)
          throw new Error(`sfts sent ${done.bytesSent} bytes of ${size}`);
        const key = `objects/${String(done.transferId)}`;
        if (await head(s3, bucket, key).catch(() => undefined)) return key;
        // The coordinator's key scheme is internal: fall back to whatever sits under objects/ (only this run's).
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "objects/" }));
        const keys = (listed.Contents ?? []).map((o) => o.Key ?? "");
        if (keys.length !== 1) throw new Error(`cannot tell sfts's object: ${keys.join(", ") || "none"}`);
        return keys[0];
      },
    });
  }

  // rclone: configured only through RCLONE_CONFIG_BENCH_* and an empty config file; its multipart defaults.
  const rcloneEnv = {
    ...clean,
    RCLONE_CONFIG: join(dir, "rclone.conf"),
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Other",
    RCLONE_CONFIG_BENCH_ENDPOINT: stack.s3Endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: secretAccessKey,
    RCLONE_CONFIG_BENCH_REGION: "us-east-1",
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
  };
  await writeFile(rcloneEnv.RCLONE_CONFIG, "");
  const rcloneVersion = await version("rclone", ["version"], rcloneEnv);
  // rclone 1.60 (AWS SDK for Go v1) sends "Expect: 100-Continue" with every PUT and waits up to
  // --expect-continue-timeout (1 s) for the interim answer; versitygw only answers the lower-case
  // "100-continue", so each part stalls 1 s. rclone-nowait is the same upload without that wait.
  for (const variant of ["rclone", "rclone-nowait"] as const) {
    const extra = variant === "rclone-nowait" ? ["--expect-continue-timeout", "0"] : [];
    const key = `bench-${variant}.bin`;
    tools.push({
      name: variant,
      ...(rcloneVersion === undefined && {
        unavailable: `${variant}: not installed (apt-get install -y rclone)`,
      }),
      version: rcloneVersion ?? "-",
      async command() {
        const args = ["-u", "AWS_CA_BUNDLE", "rclone", "copyto", ...extra, file, `bench:${bucket}/${key}`];
        return { command: "env", args, env: rcloneEnv, shown: `env ${args.join(" ")}` };
      },
      async check() {
        return key;
      },
    });
  }

  // The AWS CLIs: PyPI's 1.x (with SHA-256 like sfts, and with its default CRC32 for information) and
  // Debian's 2.9 (its defaults; it has no --checksum-algorithm for s3 cp). Credentials by environment only.
  await writeFile(join(dir, "aws-config"), "");
  const awsEnv = {
    ...clean,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CONFIG_FILE: join(dir, "aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "aws-config"),
    AWS_PAGER: "",
  };
  const pypi = await findPypiAws(values["aws-pypi-bin"]);
  const debian = values["aws-debian-bin"];
  const awsVariants = [
    { name: "aws-pypi-sha256", bin: pypi, extra: ["--checksum-algorithm", "SHA256"] },
    { name: "aws-pypi", bin: pypi, extra: [] },
    { name: "aws-debian", bin: debian, extra: [] },
  ] as const;
  for (const variant of awsVariants) {
    const v = await version(variant.bin, ["--version"], awsEnv);
    const key = `bench-${variant.name}.bin`;
    tools.push({
      name: variant.name,
      ...(v === undefined && { unavailable: `${variant.name}: ${variant.bin} not installed` }),
      version: v ?? "-",
      async command() {
        const args = [
          "s3",
          "cp",
          file,
          `s3://${bucket}/${key}`,
          "--endpoint-url",
          stack.s3Endpoint,
          "--no-progress",
          "--only-show-errors",
          ...variant.extra,
        ];
        return { command: variant.bin, args, env: awsEnv, shown: `${variant.bin} ${args.join(" ")}` };
      },
      async check() {
        return key;
      },
    });
  }

  // Two hashing floors: coreutils' sha256sum (Debian's has no SHA-NI code, ~330 MiB/s here) and OpenSSL's,
  // which uses the CPU's SHA instructions like Node's crypto (and so sfts) does.
  const floors = [
    { name: "sha256sum", command: "sha256sum", args: [file], versionArgs: ["--version"] },
    { name: "openssl-sha256", command: "openssl", args: ["dgst", "-sha256", file], versionArgs: ["version"] },
  ] as const;
  for (const floor of floors) {
    const v = await version(floor.command, [...floor.versionArgs]);
    tools.push({
      name: floor.name,
      ...(v === undefined && { unavailable: `${floor.name}: ${floor.command} not installed` }),
      version: v ?? "-",
      async command() {
        const args = [...floor.args];
        return { command: floor.command, args, env: clean, shown: `${floor.command} ${args.join(" ")}` };
      },
      async check(stdout) {
        // "HEX  FILE" (sha256sum) or "SHA2-256(FILE)= HEX" (openssl)
        const got = /\b([0-9a-f]{64})\b/.exec(stdout)?.[1];
        if (got !== sha256) throw new Error(`${floor.command} printed ${stdout.trim()}, expected ${sha256}`);
        return undefined;
      },
    });
  }
  return tools.filter((t) => wanted.includes(t.name));
}

// ---------------------------------------------------------------------------------------------
// Storage checks

interface Head {
  size: number;
  /** The N of a multipart ETag "…-N" (1 for a single PUT). */
  parts: number;
  /** Which checksum storage keeps for the object, if any (e.g. "SHA256 composite"). */
  checksum: string;
  /** User metadata keys the tool set (rclone: mtime, md5chksum). */
  meta: string[];
}

async function head(s3: S3Client, bucket: string, key: string): Promise<Head> {
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
  const etag = (h.ETag ?? "").replaceAll('"', "");
  const kinds = (["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const).filter(
    (k) => h[`Checksum${k}`] !== undefined,
  );
  const type = (h as { ChecksumType?: string }).ChecksumType;
  return {
    size: h.ContentLength ?? -1,
    parts: Number(/-(\d+)$/.exec(etag)?.[1] ?? 1),
    checksum: kinds.length ? `${kinds.join("+")}${type ? ` ${type.toLowerCase()}` : ""}` : "none",
    meta: Object.keys(h.Metadata ?? {}),
  };
}

// ---------------------------------------------------------------------------------------------

interface Sample extends Measured {
  parts?: number;
  checksum?: string;
  meta?: string[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[m] as number)
      : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main() {
  const dir = await mkdtemp(join(resolve(values.dir), "sfts-bench-send-"));
  let stack: RunningStack | undefined;
  let s3: S3Client | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      if (current?.pid) {
        try {
          process.kill(-current.pid, "SIGTERM");
        } catch {}
      }
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

  let failed = false;
  let loadStart = "";
  try {
    loadStart = loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
    const file = join(dir, "bench.bin");
    log(`Writing ${sizeMiB} MiB of random bytes to ${file}`);
    // Flushed to disk before any timing.
    const sha256 = await writeRandomFile(file, size, { sync: true });
    log(`SHA-256 ${sha256}`);

    stack = await startLocalStack({ name: "bench", dataDir: join(dir, "stack"), log });
    const stackPids = readRegistry(join(dir, "stack"))
      .filter((e) => e.ownerPid === process.pid)
      .map((e) => e.pid);
    log(`Stack: API ${stack.apiUrl}, S3 ${stack.s3Endpoint} (pids ${stackPids.join(", ")})`);
    s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: stack.s3Credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const client = s3;
    const bucket = stack.bucket;

    const tools = await makeTools(stack, dir, file, sha256, client);
    for (const t of tools) if (t.unavailable) log(t.unavailable);
    const active = tools.filter((t) => !t.unavailable);
    const samples = new Map<ToolName, Sample[]>(active.map((t) => [t.name, []]));
    const errors = new Map<ToolName, string>();
    const verified = new Set<ToolName>();
    const shown = new Map<ToolName, string>();

    for (let round = 0; round < rounds; round++) {
      // Reverse the order every other round, so that no tool always follows the same one.
      const order = round % 2 ? [...active].reverse() : active;
      log(`\nRound ${round + 1}/${rounds}: ${order.map((t) => t.name).join(", ")}`);
      for (const tool of order) {
        if (errors.has(tool.name)) continue;
        let key: string | undefined;
        try {
          await run("sync", []); // no dirty pages of the previous run written back during this one
          const cmd = await tool.command();
          shown.set(tool.name, cmd.shown);
          const m = await timed(cmd, join(dir, "time.out"), stackPids);
          key = await tool.check(m.stdout);
          const sample: Sample = { ...m };
          if (key !== undefined) {
            const h = await head(client, bucket, key);
            if (h.size !== size) throw new Error(`stored object ${key} has ${h.size} bytes, not ${size}`);
            sample.parts = h.parts;
            sample.checksum = h.checksum;
            sample.meta = h.meta;
            if (!verified.has(tool.name)) {
              const got = (await sha256OfObject(client, bucket, key)).sha256;
              if (got !== sha256) throw new Error(`stored bytes hash to ${got}, not ${sha256}`);
              verified.add(tool.name);
            }
          }
          samples.get(tool.name)?.push(sample);
          log(
            `  ${tool.name.padEnd(15)} ${m.wall.toFixed(2)} s wall, ${(m.user + m.sys).toFixed(2)} s CPU, ` +
              `${(m.maxRssKiB / 1024).toFixed(0)} MiB RSS, stack ${m.stackCpu.toFixed(2)} s CPU` +
              (key === undefined
                ? ""
                : `, ${sample.parts} parts, checksum ${sample.checksum}, metadata [${sample.meta?.join(", ")}]`) +
              (verified.has(tool.name) && key !== undefined ? ", bytes verified" : ""),
          );
        } catch (err) {
          if (interrupted) throw err;
          const msg = err instanceof Error ? err.message : String(err);
          errors.set(tool.name, msg);
          log(`  ${tool.name.padEnd(15)} FAILED: ${msg}`);
        } finally {
          // Delete what the run stored (or left half-stored), so the next run uploads from scratch.
          if (!interrupted) {
            const keys = key !== undefined ? [key] : [];
            if (tool.name === "sfts") {
              const listed = await client.send(
                new ListObjectsV2Command({ Bucket: bucket, Prefix: "objects/" }),
              );
              keys.push(...(listed.Contents ?? []).map((o) => o.Key ?? ""));
            }
            for (const k of new Set(keys))
              await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
          }
        }
      }
    }

    // -------------------------------------------------------------------------------------------
    const med = (name: ToolName, f: (s: Sample) => number) => median((samples.get(name) ?? []).map(f));
    const wall = (s: Sample) => s.wall;
    const cpu = (s: Sample) => s.user + s.sys;
    const has = (name: ToolName) => (samples.get(name)?.length ?? 0) > 0;
    const ratio = (a: number, b: number) =>
      Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : "—";
    const sftsWall = has("sfts") ? med("sfts", wall) : Number.NaN;
    const sftsCpu = has("sfts") ? med("sfts", cpu) : Number.NaN;
    const shaWall = has("sha256sum") ? med("sha256sum", wall) : Number.NaN;
    const shaCpu = has("sha256sum") ? med("sha256sum", cpu) : Number.NaN;

    console.log(
      `\n### Upload of one ${sizeMiB} MiB file to versitygw on 127.0.0.1, ${rounds} round(s), medians\n\n` +
        `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), Node ${process.version}; the file is in the page ` +
        `cache for every run; the stack (versitygw, DynamoDB Local, coordinator) shares the same CPUs; ` +
        `load average at start ${loadStart}, at end ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}.\n`,
    );
    console.log(
      "| tool | role | runs | wall s | MiB/s | CPU s (user+sys) | peak RSS MiB | wall ×sfts | CPU ×sfts | " +
        "wall ×sha256sum | CPU ×sha256sum | stack CPU s | parts | checksum stored by versitygw |",
    );
    console.log(
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    );
    const role = (name: ToolName) =>
      name.startsWith("sfts") ? "sfts" : PEERS.includes(name) ? "peer" : "info";
    for (const t of tools) {
      const n = samples.get(t.name)?.length ?? 0;
      if (!n) {
        const why = t.unavailable ?? `FAILED: ${firstLine(errors.get(t.name) ?? "no runs")}`;
        console.log(`| ${t.name} | ${role(t.name)} | 0 | ${why} |  |  |  |  |  |  |  |  |  |  |`);
        continue;
      }
      const w = med(t.name, wall);
      const c = med(t.name, cpu);
      const last = samples.get(t.name)?.at(-1);
      console.log(
        `| ${t.name} | ${role(t.name)} | ${n} | ${w.toFixed(2)} | ${(sizeMiB / w).toFixed(0)} | ${c.toFixed(2)} | ` +
          `${(med(t.name, (s) => s.maxRssKiB) / 1024).toFixed(0)} | ${ratio(w, sftsWall)} | ${ratio(c, sftsCpu)} | ` +
          `${ratio(w, shaWall)} | ${ratio(c, shaCpu)} | ${med(t.name, (s) => s.stackCpu).toFixed(2)} | ` +
          `${last?.parts ?? "—"} | ${last?.checksum ?? "—"} |` +
          (errors.has(t.name) ? ` (then FAILED: ${firstLine(errors.get(t.name) ?? "")})` : ""),
      );
    }
    // The goals: the fastest peer of this run ÷ sfts, and peak RSS bounded by --memory.
    const runsOf = (t: Tool): ToolRuns => {
      const err = errors.get(t.name);
      return {
        tool: t.name,
        peer: PEERS.includes(t.name),
        ok: (samples.get(t.name) ?? []).map(wall),
        failed: err !== undefined && !err.startsWith("timed out") ? 1 : 0,
        timedOut: err?.startsWith("timed out") ? 1 : 0,
        corrupt: 0,
      };
    };
    const cmp = compare(active.map(runsOf));
    const ratioMet = cmp.ratio === undefined ? undefined : cmp.ratio >= RATIO_GOAL;
    console.log(
      `\nMedians of the successful runs (a tool that fails is counted, left out and not run again). ` +
        (cmp.ratio !== undefined && cmp.fastestPeer
          ? `Fastest peer ÷ sfts: ${cmp.ratio.toFixed(2)}× (${cmp.fastestPeer.tool} ${cmp.fastestPeer.seconds.toFixed(2)} s ÷ ` +
            `sfts ${cmp.sfts?.toFixed(2)} s; peers: ${PEERS.join(", ")}), ${goalMark(ratioMet, `goal ≥ ${RATIO_GOAL.toFixed(1)}×`)}.`
          : `Fastest peer ÷ sfts: – (sfts ${cmp.sfts === undefined ? "has no successful run" : "ran"}; peers without a time: ${cmp.peersWithoutTime.join(", ") || "none run"}).`) +
        " sfts goodput ÷ (link rate × time the link was up): – (loopback, no link rate).",
    );
    const memoryFlag = sftsArgs[sftsArgs.indexOf("--memory") + 1];
    const budget =
      sftsArgs.includes("--memory") && memoryFlag ? `--memory ${memoryFlag}` : "the CLI's default --memory";
    const rss: Record<string, { medianMiB: number; maxMiB: number; runs: number }> = {};
    for (const name of ["sfts", "sfts-c64"] as const) {
      const xs = (samples.get(name) ?? []).map((x) => x.maxRssKiB / 1024);
      if (xs.length) rss[name] = { medianMiB: median(xs), maxMiB: Math.max(...xs), runs: xs.length };
    }
    if (rss.sfts || rss["sfts-c64"])
      console.log(
        `Peak RSS of the sfts process (VmHWM as /usr/bin/time reports it), ${sizeMiB} MiB send with ${budget}: ` +
          Object.entries(rss)
            .map(
              ([name, r]) =>
                `${name === "sfts" ? "its default concurrency" : "--concurrency 64"} ${r.medianMiB.toFixed(0)} MiB median, ` +
                `${r.maxMiB.toFixed(0)} MiB max of ${r.runs}`,
            )
            .join("; ") +
          ".",
      );
    const out =
      values.out ??
      join(resolve(values.dir), `sfts-bench-send-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          sizeMiB,
          rounds,
          machine: {
            cpus: cpus().length,
            model: cpus()[0]?.model,
            node: process.version,
            loadStart,
            loadEnd: loadavg(),
          },
          sftsArgs,
          peers: PEERS,
          goal: RATIO_GOAL,
          ratio: cmp.ratio ?? null,
          fastestPeer: cmp.fastestPeer ?? null,
          ratioMet: ratioMet ?? null,
          peakRssMiB: rss,
          tools: tools.map((t) => ({
            name: t.name,
            role: role(t.name),
            version: t.version,
            unavailable: t.unavailable ?? null,
            command: shown.get(t.name) ?? null,
            error: errors.get(t.name) ?? null,
            runs: (samples.get(t.name) ?? []).map(({ stdout: _o, stderr: _e, ...rest }) => rest),
          })),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`Results written to ${out}`);
    console.log("\nVersions and commands:\n");
    for (const t of tools)
      console.log(
        `- ${t.name}: ${t.version}${t.unavailable ? ` — ${t.unavailable}` : ""}\n  \`${shown.get(t.name) ?? "(not run)"}\``,
      );
    if (errors.size) {
      failed = true;
      console.log("\nFailures:\n");
      for (const [name, msg] of errors) console.log(`- ${name}: ${msg.replaceAll("\n", "\n  ")}`);
    }
  } finally {
    await cleanup();
  }
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  if (interrupted) return; // the signal handler exits once cleaned up
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
