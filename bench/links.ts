/**
 * Uploads on bad links: `sfts send` against rclone and the AWS CLI, the same file through each link
 * profile (harness/profiles.ts: kernel rate limits and loss in a network namespace where this run may,
 * latency, resets, drops, outages and byte flips from the fault proxies), several rounds, the tool order
 * rotated every round. Every client runs inside the link; the stored object is then read back from
 * storage directly and hashed, so a tool that "succeeds" with wrong bytes is reported CORRUPT, not timed.
 * A run that fails or exceeds its time limit is reported as such.
 *
 *   sfts     node bin/run.js send FILE --server <api via link> --token … --json   (its defaults)
 *   rclone   rclone copyto --expect-continue-timeout 0 FILE bench:bucket/key       (its defaults; see bench/README)
 *   aws      aws s3 cp FILE s3://bucket/key --endpoint-url <s3 via link>           (AWS CLI v2, its defaults)
 *
 * Usage: npm run bench:links -- [--profiles good,satellite,…] [--rounds 3] [--tools sfts,rclone,aws]
 *        [--size-mib N (all profiles)] [--mode auto|kernel|proxy] [--seed N]
 */
import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { repoRoot } from "../harness/cli-process.js";
import { sha256OfObject, writeRandomFile } from "../harness/files.js";
import { startLinkedStack } from "../harness/linked-stack.js";
import { type LinkProfile, PROFILE_NAMES, type ProfileName, profileByName } from "../harness/profiles.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const MiB = 1024 * 1024;
const TOOLS = ["sfts", "rclone", "aws"] as const;
type ToolName = (typeof TOOLS)[number];

/** Default file size per profile (MiB): large enough for several parts, small enough for the link. */
const DEFAULT_SIZE: Record<ProfileName, number> = {
  good: 256,
  satellite: 6,
  mobile: 24,
  flaky: 64,
  hostile: 64,
};

const { values } = parseArgs({
  options: {
    profiles: { type: "string", default: PROFILE_NAMES.join(",") },
    rounds: { type: "string", default: "3" },
    tools: { type: "string", default: TOOLS.join(",") },
    "size-mib": { type: "string" },
    mode: { type: "string", default: "auto" },
    seed: { type: "string" },
    dir: { type: "string", default: tmpdir() },
  },
});
const profiles = (values.profiles ?? "").split(",").map((p) => profileByName(p.trim()));
const tools = (values.tools ?? "").split(",").map((t) => t.trim()) as ToolName[];
for (const t of tools)
  if (!TOOLS.includes(t)) throw new Error(`unknown tool ${t} (known: ${TOOLS.join(", ")})`);
const rounds = Math.max(1, Number(values.rounds));
const log = (line: string) => process.stderr.write(`[links] ${line}\n`);

interface RunResult {
  tool: ToolName;
  seconds: number;
  outcome: "ok" | "failed" | "timeout" | "corrupt";
  detail?: string;
}

/** The time a run may take: 6× the link's transfer time of the file, at least 3 minutes. */
function limitSeconds(p: LinkProfile, size: number): number {
  const linkSeconds = p.rateBitsPerSec ? (size * 8) / p.rateBitsPerSec : size / (200 * MiB);
  return Math.max(180, Math.ceil(linkSeconds * 6));
}

function run(argv: string[], env: NodeJS.ProcessEnv, limitMs: number) {
  return new Promise<{ code: number | null; out: string; timedOut: boolean }>((resolvePromise) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd ?? "false", args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
    });
    child.stderr.on("data", (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
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
      resolvePromise({ code, out, timedOut });
    });
  });
}

/** The stored object's SHA-256, or undefined when it cannot be read. */
const storedSha256 = (s3: S3Client, bucket: string, key: string) =>
  sha256OfObject(s3, bucket, key).then(
    (o) => o.sha256,
    () => undefined,
  );

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

async function main(): Promise<number> {
  const { link, stack, work, stop } = await startLinkedStack({
    name: "links",
    profile: profiles[0] ?? profileByName("good"),
    mode: values.mode as "auto" | "kernel" | "proxy",
    seed: values.seed === undefined ? undefined : Number(values.seed),
    log,
    dir: values.dir,
  });
  let s3: S3Client | undefined;
  try {
    const st = stack;
    s3 = new S3Client({
      endpoint: st.s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: st.s3Credentials,
    });
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_") && !k.startsWith("RCLONE_")),
    ) as Record<string, string>;
    const { accessKeyId, secretAccessKey } = st.s3Credentials;
    const rcloneConf = join(work, "rclone.conf");
    await writeFile(rcloneConf, "");

    const results: { profile: LinkProfile; size: number; runs: RunResult[] }[] = [];
    let n = 0;
    for (const profile of profiles) {
      await link.setProfile(profile);
      const size = Number(values["size-mib"] ?? DEFAULT_SIZE[profile.name]) * MiB;
      const file = join(work, `${profile.name}.bin`);
      const sha256 = await writeRandomFile(file, size);
      const runs: RunResult[] = [];
      for (let round = 0; round < rounds; round++) {
        const order = tools.map((_, i) => tools[(i + round) % tools.length] as ToolName);
        for (const tool of order) {
          const key = `bench/${tool}-${n++}.bin`;
          const home = join(work, `home-${n}`);
          await mkdir(home, { recursive: true });
          let argv: string[];
          let env: NodeJS.ProcessEnv = clean;
          if (tool === "sfts") {
            argv = [process.execPath, join(repoRoot, "bin", "run.js"), "send", file, "--json"];
            env = {
              ...clean,
              HOME: home,
              XDG_STATE_HOME: join(home, "state"),
              XDG_CONFIG_HOME: join(home, "config"),
              SFTS_SERVER: link.apiUrl,
              SFTS_TOKEN: st.token,
            };
          } else if (tool === "rclone") {
            argv = ["rclone", "copyto", "--expect-continue-timeout", "0", file, `bench:${st.bucket}/${key}`];
            env = {
              ...clean,
              HOME: home,
              RCLONE_CONFIG: rcloneConf,
              RCLONE_CONFIG_BENCH_TYPE: "s3",
              RCLONE_CONFIG_BENCH_PROVIDER: "Other",
              RCLONE_CONFIG_BENCH_ENDPOINT: link.s3Url,
              RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: accessKeyId,
              RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: secretAccessKey,
              RCLONE_CONFIG_BENCH_REGION: "us-east-1",
              RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
            };
          } else {
            argv = ["aws", "s3", "cp", file, `s3://${st.bucket}/${key}`, "--endpoint-url", link.s3Url];
            argv.push("--no-progress", "--only-show-errors");
            env = {
              ...clean,
              HOME: home,
              AWS_ACCESS_KEY_ID: accessKeyId,
              AWS_SECRET_ACCESS_KEY: secretAccessKey,
              AWS_DEFAULT_REGION: "us-east-1",
              AWS_CONFIG_FILE: join(home, "aws-config"),
            };
          }
          log(`${profile.name} round ${round + 1}: ${tool}`);
          // Every run meets the profile's drops and outages at the same times after its start.
          await link.restartEvents();
          const t0 = performance.now();
          const r = await run(link.command(argv), env, limitSeconds(profile, size) * 1000);
          const seconds = (performance.now() - t0) / 1000;
          let storedKey = key;
          if (tool === "sfts") {
            const done = r.out
              .split("\n")
              .filter((l) => l.startsWith("{"))
              .map((l) => JSON.parse(l) as { type: string; transferId?: string; deduplicated?: boolean })
              .findLast((e) => e.type === "done");
            storedKey = `objects/${done?.transferId ?? "none"}`;
            if (done?.deduplicated)
              throw new Error("sfts deduplicated the file: the bench must send it whole");
          }
          let result: RunResult;
          if (r.timedOut) result = { tool, seconds, outcome: "timeout" };
          else if (r.code !== 0)
            result = {
              tool,
              seconds,
              outcome: "failed",
              detail: r.out.trim().split("\n").slice(-1)[0] ?? "",
            };
          else if ((await storedSha256(s3, st.bucket, storedKey)) !== sha256)
            result = { tool, seconds, outcome: "corrupt", detail: "stored bytes differ from the file" };
          else result = { tool, seconds, outcome: "ok" };
          log(
            `  ${result.outcome} in ${seconds.toFixed(1)} s${result.detail ? ` (${result.detail.slice(0, 200)})` : ""}`,
          );
          runs.push(result);
          await s3.send(new DeleteObjectCommand({ Bucket: st.bucket, Key: storedKey })).catch(() => {});
          await rm(home, { recursive: true, force: true });
        }
      }
      // sfts deduplicates by content: a new file per profile, and its objects deleted after each run.
      await rm(file, { force: true });
      results.push({ profile, size, runs });
    }

    const counters = await link.counters();
    const lines = [
      `Uploads through shaped links (link via ${link.mode}${link.notes.length ? `: ${link.notes.join("; ")}` : ""}; ` +
        `seed ${link.seed}; ${rounds} rounds; ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}). ` +
        "Median wall time of the successful runs; ratio = tool time / sfts time (above 1: sfts faster).",
      "",
      "| profile | file | tool | ok | failed | corrupt | median s | MiB/s | × sfts |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ];
    for (const { profile, size, runs } of results) {
      const sftsMedian = median(
        runs.filter((r) => r.tool === "sfts" && r.outcome === "ok").map((r) => r.seconds),
      );
      for (const tool of tools) {
        const mine = runs.filter((r) => r.tool === tool);
        const ok = mine.filter((r) => r.outcome === "ok");
        const m = median(ok.map((r) => r.seconds));
        const failed = mine.filter((r) => r.outcome === "failed" || r.outcome === "timeout").length;
        const corrupt = mine.filter((r) => r.outcome === "corrupt").length;
        lines.push(
          `| ${profile.name} | ${size / MiB} MiB | ${tool} | ${ok.length}/${mine.length} | ${failed} | ${corrupt} | ` +
            `${m === undefined ? "–" : m.toFixed(1)} | ${m === undefined ? "–" : (size / MiB / m).toFixed(2)} | ` +
            `${m === undefined || sftsMedian === undefined ? "–" : (m / sftsMedian).toFixed(2)} |`,
        );
      }
    }
    lines.push(
      "",
      `Link events over the whole run: ${counters.resets} resets, ${counters.flips} byte flips, ` +
        `${counters.outages} outages, ${counters.drops} drops, ${counters.packetsLost} packets lost.`,
    );
    const failures = results.flatMap(({ profile, runs }) =>
      runs
        .filter((r) => r.outcome !== "ok")
        .map((r) => `- ${profile.name} ${r.tool}: ${r.outcome} ${r.detail ?? ""}`),
    );
    if (failures.length) lines.push("", "Runs that did not succeed:", ...failures);
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    s3?.destroy();
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/links failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
