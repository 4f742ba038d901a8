/**
 * The tools of the link benchmark (links.ts) and one bounded run of each through the link: the command
 * and environment per tool, the run in its own process group (killed whole at the time limit), and the
 * verdict: ok, failed (non-zero exit), timeout, or corrupt (exit 0 but the stored object, read straight
 * from storage, does not hash to the file's SHA-256). The stored object is deleted after every run, so
 * nothing is deduplicated or resumed by the next one.
 */
import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { repoRoot } from "../harness/cli-process.js";
import { sha256OfObject } from "../harness/files.js";
import type { Link } from "../harness/link.js";
import type { RunningStack } from "../local/stack.js";
import { cleanEnv, findPypiAws, versionOf } from "./peers.js";

export const LINK_TOOLS = ["sfts", "aws-pypi", "aws-debian", "rclone"] as const;
export type LinkToolName = (typeof LINK_TOOLS)[number];

export interface RunResult {
  tool: LinkToolName;
  round: number;
  seconds: number;
  outcome: "ok" | "failed" | "timeout" | "corrupt";
  detail?: string;
  /** sfts: how many of each --json event type it printed (retries, decisions, …). */
  sftsEvents?: Record<string, number>;
}

export interface ToolSetup {
  link: Link;
  stack: RunningStack;
  s3: S3Client;
  work: string;
  env: Record<string, string>;
  sftsArgs: string[];
  awsPypi: string;
  awsDebian: string;
  rcloneConf: string;
  /** Each tool's command line as printed (secrets masked). */
  shown: Record<string, string>;
  versions: Record<string, string>;
}

export async function toolSetup(opts: {
  link: Link;
  stack: RunningStack;
  s3: S3Client;
  work: string;
  log: (line: string) => void;
  sftsArgs: string[];
  awsPypiBin: string | undefined;
  awsDebianBin: string;
}): Promise<ToolSetup> {
  const env = cleanEnv();
  const rcloneConf = join(opts.work, "rclone.conf");
  await writeFile(rcloneConf, "");
  const awsPypi = await findPypiAws(opts.awsPypiBin);
  const versions: Record<string, string> = {
    sfts: (await versionOf([process.execPath, join(repoRoot, "bin", "run.js"), "--version"])) ?? "?",
    "aws-pypi": (await versionOf([awsPypi, "--version"], env)) ?? "not installed",
    "aws-debian": (await versionOf([opts.awsDebianBin, "--version"], env)) ?? "not installed",
    rclone:
      (await versionOf(["rclone", "version"], { ...env, RCLONE_CONFIG: rcloneConf })) ?? "not installed",
  };
  for (const [tool, v] of Object.entries(versions)) opts.log(`${tool}: ${v}`);
  return {
    ...opts,
    env,
    awsPypi,
    awsDebian: opts.awsDebianBin,
    rcloneConf,
    versions,
    shown: {
      sfts: ["node bin/run.js send FILE --json", ...opts.sftsArgs].join(" "),
      "aws-pypi": `${awsPypi} s3 cp FILE s3://<bucket>/<key> --endpoint-url <s3> --no-progress --only-show-errors --checksum-algorithm SHA256`,
      "aws-debian": `${opts.awsDebianBin} s3 cp FILE s3://<bucket>/<key> --endpoint-url <s3> --no-progress --only-show-errors`,
      rclone: "rclone copyto --expect-continue-timeout 0 FILE bench:<bucket>/<key>",
    },
  };
}

let runs = 0;

function command(s: ToolSetup, tool: LinkToolName, file: string, key: string, home: string) {
  const { accessKeyId, secretAccessKey } = s.stack.s3Credentials;
  const awsEnv = {
    ...s.env,
    HOME: home,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CONFIG_FILE: join(home, "aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "aws-config"),
    AWS_PAGER: "",
  };
  const awsArgs = ["s3", "cp", file, `s3://${s.stack.bucket}/${key}`, "--endpoint-url", s.link.s3Url];
  awsArgs.push("--no-progress", "--only-show-errors");
  switch (tool) {
    case "sfts":
      return {
        argv: [process.execPath, join(repoRoot, "bin", "run.js"), "send", file, "--json", ...s.sftsArgs],
        env: {
          ...s.env,
          HOME: home,
          XDG_STATE_HOME: join(home, "state"),
          XDG_CONFIG_HOME: join(home, "config"),
          SFTS_SERVER: s.link.apiUrl,
          SFTS_TOKEN: s.stack.token,
        },
      };
    case "aws-pypi":
      return { argv: [s.awsPypi, ...awsArgs, "--checksum-algorithm", "SHA256"], env: awsEnv };
    case "aws-debian":
      return { argv: [s.awsDebian, ...awsArgs], env: awsEnv };
    case "rclone":
      return {
        argv: ["rclone", "copyto", "--expect-continue-timeout", "0", file, `bench:${s.stack.bucket}/${key}`],
        env: {
          ...s.env,
          HOME: home,
          RCLONE_CONFIG: s.rcloneConf,
          RCLONE_CONFIG_BENCH_TYPE: "s3",
          RCLONE_CONFIG_BENCH_PROVIDER: "Other",
          RCLONE_CONFIG_BENCH_ENDPOINT: s.link.s3Url,
          RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: accessKeyId,
          RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: secretAccessKey,
          RCLONE_CONFIG_BENCH_REGION: "us-east-1",
          RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
        },
      };
  }
}

/** Runs argv in its own process group; at `limitMs` the whole group is killed. */
function bounded(argv: string[], env: NodeJS.ProcessEnv, limitMs: number, keepStdout: boolean) {
  return new Promise<{ code: number | null; out: string; tail: string; timedOut: boolean }>((resolveRun) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd ?? "false", args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const outChunks: Buffer[] = [];
    let tail = "";
    const keep = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-20_000);
    };
    child.stdout.on("data", (d: Buffer) => {
      if (keepStdout) outChunks.push(d);
      keep(d);
    });
    child.stderr.on("data", keep);
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
      resolveRun({ code, out: Buffer.concat(outChunks).toString(), tail, timedOut });
    });
  });
}

/** One run of `tool` through the link, from a restart of the link's timed events. */
export async function runTool(
  s: ToolSetup,
  tool: LinkToolName,
  opts: { file: string; sha256: string; round: number; limitSeconds: number },
): Promise<RunResult> {
  const n = runs++;
  const key = `bench/${tool}-${n}.bin`;
  const home = join(s.work, `home-${n}`);
  await mkdir(home, { recursive: true });
  const { argv, env } = command(s, tool, opts.file, key, home);
  // Every run meets the profile's drops and outages at the same times after its start.
  await s.link.restartEvents();
  const t0 = performance.now();
  const r = await bounded(s.link.command(argv), env, opts.limitSeconds * 1000, tool === "sfts");
  const seconds = (performance.now() - t0) / 1000;
  const base = { tool, round: opts.round, seconds };
  let storedKey = key;
  let sftsEvents: Record<string, number> | undefined;
  if (tool === "sfts") {
    const events = r.out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as { type: string; transferId?: string; deduplicated?: boolean }];
        } catch {
          return [];
        }
      });
    sftsEvents = {};
    for (const e of events) sftsEvents[e.type] = (sftsEvents[e.type] ?? 0) + 1;
    const done = events.findLast((e) => e.type === "done");
    storedKey = `objects/${done?.transferId ?? "none"}`;
    if (done?.deduplicated) throw new Error("sfts deduplicated the file: the bench must send it whole");
  }
  const lastLine = r.tail.trim().split("\n").slice(-1)[0] ?? "";
  let result: RunResult;
  if (r.timedOut)
    result = { ...base, outcome: "timeout", detail: `killed at the ${opts.limitSeconds} s limit` };
  else if (r.code !== 0) result = { ...base, outcome: "failed", detail: `exit ${r.code}: ${lastLine}` };
  else {
    const stored = await sha256OfObject(s.s3, s.stack.bucket, storedKey).then(
      (o) => o.sha256,
      () => undefined,
    );
    result =
      stored === opts.sha256
        ? { ...base, outcome: "ok" }
        : {
            ...base,
            outcome: "corrupt",
            detail: `stored object ${stored ? "differs from the file" : "missing"}`,
          };
  }
  if (sftsEvents) result.sftsEvents = sftsEvents;
  await s.s3.send(new DeleteObjectCommand({ Bucket: s.stack.bucket, Key: storedKey })).catch(() => {});
  await rm(home, { recursive: true, force: true });
  return result;
}
