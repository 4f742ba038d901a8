/**
 * How does `sfts receive` compare with ordinary S3 downloaders? One random file is sent once with
 * `sfts send` to the local stack (versitygw + DynamoDB Local + the coordinator, on free ports in a temp
 * dir); then, in the same run, the same stored object is downloaded by each tool in turn, several rounds
 * (the order reversed every other round), each into a fresh output file:
 *   sfts     node bin/run.js receive ID -o OUT --json       (every range checked against its part's SHA-256,
 *                                                            the whole file's SHA-256 checked before the rename)
 *   aws      aws s3 cp s3://bucket/objects/ID OUT           (the `aws` on PATH: awscli 1.45 from PyPI)
 *   aws-v2   /usr/bin/aws s3 cp …                           (Debian's AWS CLI 2.9)
 *   rclone   rclone copyto bench:bucket/objects/ID OUT      (rclone 1.60, its defaults)
 * Each run is measured by /usr/bin/time (wall, user+sys CPU, peak RSS); `sync` runs (untimed) before each,
 * so no run pays for the previous one's dirty pages. Every output's size is checked, and once per tool its
 * bytes are hashed: a tool that writes wrong bytes fails instead of being timed. The table shows medians
 * and, per row, the fastest peer's wall time ÷ the row's ("× fastest peer": above 1, faster than every peer),
 * and the same against `aws` alone ("× aws").
 * Usage: npm run bench:receive -- [--size 300MiB] [--rounds 3] [--tools sfts,aws,aws-v2,rclone]
 *        [--dir /tmp] [--send-args "--chunk-size 16MiB"] [--receive-args "--concurrency 16"]
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import { formatBytes, parseSize } from "../cli/engine/units.js";
import { repoRoot } from "../harness/cli-process.js";
import { writeRandomFile } from "../harness/files.js";
import { startLocalStack } from "../harness/local-stack.js";
import { cleanUpOnSignal } from "../harness/signals.js";
import type { RunningStack } from "../local/stack.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const ALL_TOOLS = ["sfts", "aws", "aws-v2", "rclone"] as const;
type ToolName = (typeof ALL_TOOLS)[number];

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "300MiB" },
    rounds: { type: "string", default: "3" },
    tools: { type: "string", default: ALL_TOOLS.join(",") },
    dir: { type: "string", default: tmpdir() },
    "send-args": { type: "string", default: "" },
    "receive-args": { type: "string", default: "" },
  },
});
const size = parseSize(values.size);
const rounds = Number(values.rounds);
const wanted = values.tools.split(",").map((t) => t.trim());
for (const t of wanted)
  if (!(ALL_TOOLS as readonly string[]).includes(t))
    throw new Error(`unknown tool "${t}" (known: ${ALL_TOOLS.join(", ")})`);
if (!(size > 0)) throw new Error("--size must be positive");
if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error("--rounds must be a positive integer");
const words = (s: string) => s.split(/\s+/).filter(Boolean);

const run = promisify(execFile);
const log = (line: string) => console.error(line);
let interrupted = false;
let current: number | undefined;

interface Measured {
  wall: number;
  cpu: number;
  rssMiB: number;
  stdout: string;
}
interface Command {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  shown: string;
}
interface Tool {
  name: ToolName;
  unavailable?: string | undefined;
  version: string;
  command(out: string): Promise<Command>;
}

const tail = (text: string, n = 12) => text.trimEnd().split("\n").slice(-n).join("\n");

async function timed(cmd: Command, timeFile: string): Promise<Measured> {
  const child = spawn("/usr/bin/time", ["-f", "%e %U %S %M", "-o", timeFile, cmd.command, ...cmd.args], {
    cwd: repoRoot,
    env: cmd.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  current = child.pid;
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-32 * 1024);
  });
  const code = await new Promise<number>((res, rej) => {
    child.once("error", rej);
    child.once("close", (c, signal) => res(c ?? (signal ? 128 : 1)));
  });
  current = undefined;
  if (code !== 0) throw new Error(`exit code ${code}:\n${tail(stderr)}\n${tail(stdout, 4)}`);
  const last = (await readFile(timeFile, "utf8")).trim().split("\n").at(-1) ?? "";
  const [wall, user, sys, rss] = last.split(" ").map(Number) as [number, number, number, number];
  if (![wall, user, sys, rss].every(Number.isFinite)) throw new Error(`cannot read time's output: ${last}`);
  return { wall, cpu: user + sys, rssMiB: rss / 1024, stdout };
}

async function sha256OfFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(c as Buffer);
  return h.digest("hex");
}

async function version(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: repoRoot, env });
    return (stdout || stderr).trim().split("\n")[0] ?? "";
  } catch {
    return undefined;
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("AWS_") || k.startsWith("RCLONE_")) delete env[k];
  return env;
}

/** A fresh client state and config folder, so nothing of an earlier run is resumed. */
async function freshHome(dir: string, n: number): Promise<NodeJS.ProcessEnv> {
  const home = join(dir, `sfts-client-${n}`);
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { recursive: true });
  return { ...cleanEnv(), XDG_STATE_HOME: join(home, "state"), XDG_CONFIG_HOME: join(home, "config") };
}

async function makeTools(stack: RunningStack, dir: string, id: string): Promise<Tool[]> {
  const key = `objects/${id}`;
  const { accessKeyId, secretAccessKey } = stack.s3Credentials;
  let n = 0;
  const sftsVersion = (await version(process.execPath, ["bin/run.js", "--version"], cleanEnv())) ?? "?";
  const tools: Tool[] = [
    {
      name: "sfts",
      version: sftsVersion,
      async command(out) {
        const args = ["bin/run.js", "receive", id, "-o", out, "--server", stack.apiUrl, "--token"];
        args.push(stack.token, "--json", ...words(values["receive-args"]));
        const shown = `node ${args.join(" ").replace(stack.token, "<token>")}`;
        return { command: process.execPath, args, env: await freshHome(dir, n++), shown };
      },
    },
  ];
  await writeFile(join(dir, "aws-config"), "");
  const awsEnv = {
    ...cleanEnv(),
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CONFIG_FILE: join(dir, "aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "aws-config"),
    AWS_PAGER: "",
  };
  for (const [name, bin] of [
    ["aws", "aws"],
    ["aws-v2", "/usr/bin/aws"],
  ] as const) {
    const v = await version(bin, ["--version"], awsEnv);
    tools.push({
      name,
      unavailable: v === undefined ? `${name}: ${bin} is not installed` : undefined,
      version: v ?? "-",
      async command(out) {
        const args = ["s3", "cp", `s3://${stack.bucket}/${key}`, out, "--endpoint-url", stack.s3Endpoint];
        args.push("--no-progress", "--only-show-errors");
        return { command: bin, args, env: awsEnv, shown: `${bin} ${args.join(" ")}` };
      },
    });
  }
  const rcloneEnv = {
    ...cleanEnv(),
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
  const rv = await version("rclone", ["version"], rcloneEnv);
  tools.push({
    name: "rclone",
    unavailable: rv === undefined ? "rclone: not installed" : undefined,
    version: rv ?? "-",
    async command(out) {
      const args = ["-u", "AWS_CA_BUNDLE", "rclone", "copyto", `bench:${stack.bucket}/${key}`, out];
      return { command: "env", args, env: rcloneEnv, shown: `env ${args.join(" ")}` };
    },
  });
  return tools.filter((t) => wanted.includes(t.name));
}

/** Sends the file once with sfts; its transfer id names the stored object every tool downloads. */
async function sendOnce(stack: RunningStack, dir: string, file: string, sha256: string): Promise<string> {
  const args = ["bin/run.js", "send", file, "--server", stack.apiUrl, "--token", stack.token, "--json"];
  args.push(...words(values["send-args"]));
  const { stdout } = await run(process.execPath, args, {
    cwd: repoRoot,
    env: await freshHome(dir, 999),
    maxBuffer: 64 << 20,
  });
  const done = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .findLast((e) => e.type === "done");
  if (!done || done.sha256 !== sha256)
    throw new Error(`sfts send did not end with this file:\n${tail(stdout)}`);
  return String(done.transferId);
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
  const dir = await mkdtemp(join(resolve(values.dir), "sfts-bench-receive-"));
  let stack: RunningStack | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      if (current)
        try {
          process.kill(-current, "SIGTERM");
        } catch {}
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
  try {
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(2))
        .join(" ");
    const loadStart = load();
    const file = join(dir, "bench.bin");
    log(`Writing ${formatBytes(size)} of random bytes`);
    const sha256 = await writeRandomFile(file, size, { sync: true });
    stack = await startLocalStack({ name: "bench", dataDir: join(dir, "stack"), log });
    const id = await sendOnce(stack, dir, file, sha256);
    log(`Sent as ${id} (SHA-256 ${sha256}); the object is objects/${id}`);
    await rm(file);

    const tools = await makeTools(stack, dir, id);
    for (const t of tools) if (t.unavailable) log(t.unavailable);
    const active = tools.filter((t) => !t.unavailable);
    const samples = new Map<ToolName, Measured[]>(active.map((t) => [t.name, []]));
    const errors = new Map<ToolName, string>();
    const shown = new Map<ToolName, string>();
    const verified = new Set<ToolName>();
    const out = join(dir, "out.bin");
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...active].reverse() : active;
      log(`\nRound ${round + 1}/${rounds}: ${order.map((t) => t.name).join(", ")}`);
      for (const tool of order) {
        if (errors.has(tool.name)) continue;
        try {
          await rm(out, { force: true });
          await run("sync", []);
          const cmd = await tool.command(out);
          shown.set(tool.name, cmd.shown);
          const m = await timed(cmd, join(dir, "time.out"));
          const got = (await stat(out)).size;
          if (got !== size) throw new Error(`wrote ${got} bytes, not ${size}`);
          if (!verified.has(tool.name)) {
            const h = await sha256OfFile(out);
            if (h !== sha256) throw new Error(`the bytes written hash to ${h}, not ${sha256}`);
            verified.add(tool.name);
          }
          samples.get(tool.name)?.push(m);
          log(
            `  ${tool.name.padEnd(7)} ${m.wall.toFixed(2)} s wall, ${m.cpu.toFixed(2)} s CPU, ${m.rssMiB.toFixed(0)} MiB RSS`,
          );
        } catch (err) {
          if (interrupted) throw err;
          errors.set(tool.name, err instanceof Error ? err.message : String(err));
          log(`  ${tool.name.padEnd(7)} FAILED: ${errors.get(tool.name)}`);
        }
      }
    }

    const med = (name: ToolName, f: (m: Measured) => number) => median((samples.get(name) ?? []).map(f));
    const peers = active.filter((t) => t.name !== "sfts" && (samples.get(t.name)?.length ?? 0) > 0);
    const fastest = Math.min(...peers.map((t) => med(t.name, (m) => m.wall)));
    // The goal is stated against `aws s3 cp` (awscli 1.45 from PyPI), so it gets its own column.
    const aws = (samples.get("aws")?.length ?? 0) > 0 ? med("aws", (m) => m.wall) : Number.NaN;
    const times = (peer: number, w: number) => (Number.isFinite(peer) ? (peer / w).toFixed(2) : "—");
    const mib = size / (1024 * 1024);
    console.log(
      `\n### Download of one ${formatBytes(size)} object from versitygw on 127.0.0.1, ${rounds} round(s), medians\n\n` +
        `${cpus().length} CPUs, Node ${process.version}; the stored object is in the page cache; ` +
        `load average at start ${loadStart}, at end ${load()}.\n`,
    );
    console.log("| tool | runs | wall s | MiB/s | CPU s | peak RSS MiB | × fastest peer | × aws |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const t of tools) {
      const n = samples.get(t.name)?.length ?? 0;
      if (!n) {
        console.log(
          `| ${t.name} | 0 | ${t.unavailable ?? `FAILED: ${errors.get(t.name)?.split("\n")[0]}`} | | | | | |`,
        );
        continue;
      }
      const w = med(t.name, (m) => m.wall);
      console.log(
        `| ${t.name} | ${n} | ${w.toFixed(2)} | ${(mib / w).toFixed(0)} | ${med(t.name, (m) => m.cpu).toFixed(2)} | ` +
          `${med(t.name, (m) => m.rssMiB).toFixed(0)} | ${times(fastest, w)} | ${times(aws, w)} |`,
      );
    }
    console.log("\nVersions and commands:\n");
    for (const t of tools)
      console.log(`- ${t.name}: ${t.version}\n  \`${shown.get(t.name) ?? "(not run)"}\``);
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
  if (interrupted) return;
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
