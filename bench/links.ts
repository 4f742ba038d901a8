/**
 * Uploads on bad links: `sfts send` against the AWS CLIs and rclone, the same file through each link
 * profile (harness/profiles.ts: kernel rate limits and loss in a network namespace where this run may,
 * latency per HTTP request, resets, drops, outages and byte flips from the fault proxies), several rounds,
 * the tool order rotated every round. Before every run the link's timed events are restarted, so every
 * tool meets the same outages and drops at the same offsets from its start. Every client runs inside the
 * link; the stored object is then read back from storage directly and hashed, so a tool that "succeeds"
 * with wrong bytes is reported CORRUPT, not timed. A run that fails or exceeds --timeout is counted as
 * such and left out of its tool's median.
 *
 *   sfts        node bin/run.js send FILE --json (SFTS_SERVER/SFTS_TOKEN, a fresh state folder; its defaults)
 *   aws-pypi    aws s3 cp FILE s3://… --checksum-algorithm SHA256              (PyPI AWS CLI 1.x)
 *   aws-debian  /usr/bin/aws s3 cp FILE s3://…                                 (AWS CLI 2.9, its defaults)
 *   rclone      rclone copyto --expect-continue-timeout 0 FILE bench:bucket/key (its defaults; bench/README)
 *
 * Per profile: each tool's median, failures and timeouts; fastest peer ÷ sfts (peers of the same run);
 * sfts goodput ÷ (link rate × time the link was up), the dark time read from the replayed schedule
 * (bench/compare.ts); each against its goal. Then one markdown table, and every run in a JSON file (--out).
 *
 * Usage: npm run bench:links -- [--profiles good,satellite,…] [--rounds 3] [--tools sfts,aws-pypi,…]
 *        [--size-mib N (all profiles)] [--sizes long-fat=32,mobile=64] [--timeout S] [--out FILE]
 *        [--sfts-args "--concurrency 32"] [--mode auto|kernel|proxy] [--seed 7] [--dir /tmp]
 *        [--aws-pypi-bin PATH] [--aws-debian-bin /usr/bin/aws]
 */
import { writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { S3Client } from "@aws-sdk/client-s3";
import { writeRandomFile } from "../harness/files.js";
import { startLinkedStack } from "../harness/linked-stack.js";
import {
  darkMsWithin,
  type LinkEvent,
  type LinkProfile,
  PROFILE_NAMES,
  type ProfileName,
  profileByName,
} from "../harness/profiles.js";
import { capacityShare, compare, goalMark, median, type ToolRuns, timeCell } from "./compare.js";
import { LINK_TOOLS, type LinkToolName, type RunResult, runTool, toolSetup } from "./link-tools.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const MiB = 1024 * 1024;

/** File size per profile (MiB): mobile and flaky span several drops or outages; long-fat ~43 s of link. */
const DEFAULT_SIZE: Record<ProfileName, number> = {
  good: 256,
  satellite: 6,
  mobile: 128,
  flaky: 128,
  hostile: 64,
  "long-fat": 256,
};
/** Fastest peer ÷ sfts each profile must reach; capacity share every shaped profile must reach. */
const RATIO_GOAL: Record<ProfileName, number> = {
  good: 1,
  satellite: 1,
  mobile: 1.3,
  flaky: 1.3,
  hostile: 1,
  "long-fat": 1.3,
};
const CAPACITY_GOAL = 0.85;

const { values } = parseArgs({
  options: {
    profiles: { type: "string", default: PROFILE_NAMES.join(",") },
    rounds: { type: "string", default: "3" },
    tools: { type: "string", default: LINK_TOOLS.join(",") },
    "size-mib": { type: "string" },
    sizes: { type: "string", default: "" },
    timeout: { type: "string" },
    out: { type: "string" },
    "sfts-args": { type: "string", default: "" },
    mode: { type: "string", default: "auto" },
    seed: { type: "string", default: "7" },
    dir: { type: "string", default: tmpdir() },
    "aws-pypi-bin": { type: "string" },
    "aws-debian-bin": { type: "string", default: "/usr/bin/aws" },
  },
});
const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const profiles = list(values.profiles).map(profileByName);
const tools = list(values.tools) as LinkToolName[];
for (const t of tools)
  if (!LINK_TOOLS.includes(t)) throw new Error(`unknown tool ${t} (known: ${LINK_TOOLS.join(", ")})`);
const rounds = Math.max(1, Number(values.rounds));
const seed = Number(values.seed);
const sizeOverrides = new Map<string, number>(
  list(values.sizes).map((kv) => {
    const [name, mib] = kv.split("=");
    profileByName(name ?? "");
    if (!(Number(mib) > 0)) throw new Error(`--sizes: "${kv}" is not profile=MiB`);
    return [name ?? "", Number(mib)];
  }),
);
const log = (line: string) => process.stderr.write(`[links] ${line}\n`);

function sizeOf(p: LinkProfile): number {
  return Number(values["size-mib"] ?? sizeOverrides.get(p.name) ?? DEFAULT_SIZE[p.name]) * MiB;
}

/** A run's time limit: --timeout, else 6× the link's transfer time of the file, at least 3 minutes. */
function limitSeconds(p: LinkProfile, size: number): number {
  if (values.timeout !== undefined) return Number(values.timeout);
  const linkSeconds = p.rateBitsPerSec ? (size * 8) / p.rateBitsPerSec : size / (200 * MiB);
  return Math.max(180, Math.ceil(linkSeconds * 6));
}

const mbit = (bitsPerSec: number) => `${(bitsPerSec / 1e6).toFixed(1)} Mbit/s`;
const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

interface ProfileResult {
  profile: LinkProfile;
  size: number;
  limit: number;
  runs: RunResult[];
  rows: ToolRuns[];
  ratio?: number;
  fastestPeer?: { tool: string; seconds: number };
  ratioGoal: number;
  ratioMet?: boolean;
  capacity?: number;
  capacityMet?: boolean;
  darkSeconds?: number;
  /** The schedule's events inside sfts's median time (offsets from the start of a run). */
  sftsEvents: LinkEvent[];
  events: { resets: number; flips: number; outages: number; drops: number; packetsLost: number };
}

/** The per-profile figures of its runs, and the lines printed for it. */
function judge(
  profile: LinkProfile,
  size: number,
  runs: RunResult[],
  schedule: (ms: number) => LinkEvent[],
): Omit<ProfileResult, "limit" | "events"> & { lines: string[] } {
  const rows: ToolRuns[] = tools.map((tool) => {
    const mine = runs.filter((r) => r.tool === tool);
    return {
      tool,
      peer: tool !== "sfts",
      ok: mine.filter((r) => r.outcome === "ok").map((r) => r.seconds),
      failed: mine.filter((r) => r.outcome === "failed").length,
      timedOut: mine.filter((r) => r.outcome === "timeout").length,
      corrupt: mine.filter((r) => r.outcome === "corrupt").length,
    };
  });
  const c = compare(rows);
  const ratioGoal = RATIO_GOAL[profile.name];
  const lines = [
    "",
    `### ${profile.name}: ${size / MiB} MiB; ${profile.summary}`,
    "",
    "| tool | ok | failed | timed out | corrupt | median s | MiB/s | tool ÷ sfts |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const m = median(r.ok);
    const total = r.ok.length + r.failed + r.timedOut + r.corrupt;
    lines.push(
      `| ${r.tool} | ${r.ok.length}/${total} | ${r.failed} | ${r.timedOut} | ${r.corrupt} | ` +
        `${m === undefined ? "–" : m.toFixed(1)} | ${m === undefined ? "–" : (size / MiB / m).toFixed(2)} | ` +
        `${m === undefined || c.sfts === undefined ? "–" : (m / c.sfts).toFixed(2)} |`,
    );
  }
  let ratioMet: boolean | undefined;
  if (c.ratio !== undefined && c.fastestPeer) {
    ratioMet = c.ratio >= ratioGoal;
    lines.push(
      "",
      `fastest peer ÷ sfts: ${c.ratio.toFixed(2)}× (${c.fastestPeer.tool} ${c.fastestPeer.seconds.toFixed(1)} s ÷ ` +
        `sfts ${c.sfts?.toFixed(1)} s), ${goalMark(ratioMet, `goal ≥ ${ratioGoal.toFixed(1)}×`)}`,
    );
  } else if (c.sfts !== undefined && tools.some((t) => t !== "sfts")) {
    ratioMet = true;
    lines.push("", `fastest peer ÷ sfts: no peer finished (${c.peersWithoutTime.join(", ")}); sfts did`);
  } else
    lines.push(
      "",
      `fastest peer ÷ sfts: – (${tools.some((t) => t !== "sfts") ? "sfts without a successful run" : "no peer in --tools"})`,
    );
  let capacity: number | undefined;
  let capacityMet: boolean | undefined;
  let darkSeconds: number | undefined;
  const sftsEvents = c.sfts === undefined ? [] : schedule(c.sfts * 1000);
  if (profile.rateBitsPerSec !== undefined && c.sfts !== undefined) {
    const ms = c.sfts * 1000;
    darkSeconds = darkMsWithin(sftsEvents, 0, ms) / 1000;
    capacity = capacityShare({
      bytes: size,
      seconds: c.sfts,
      darkSeconds,
      rateBitsPerSec: profile.rateBitsPerSec,
    });
    capacityMet = capacity === undefined ? undefined : capacity >= CAPACITY_GOAL;
    lines.push(
      `sfts goodput ÷ (link rate × time the link was up): ${mbit((size * 8) / c.sfts)} over ${c.sfts.toFixed(1)} s ` +
        `÷ (${mbit(profile.rateBitsPerSec)} × ${(c.sfts - darkSeconds).toFixed(1)} s up, ${darkSeconds.toFixed(1)} s dark) = ` +
        `${capacity === undefined ? "–" : pct(capacity)}, ${goalMark(capacityMet, `goal ≥ ${pct(CAPACITY_GOAL)}`)}`,
    );
  } else lines.push("sfts goodput ÷ (link rate × time the link was up): – (unshaped link or no sfts time)");
  return {
    profile,
    size,
    runs,
    rows,
    ...(c.ratio !== undefined && { ratio: c.ratio }),
    ...(c.fastestPeer !== undefined && { fastestPeer: c.fastestPeer }),
    ratioGoal,
    ...(ratioMet !== undefined && { ratioMet }),
    ...(capacity !== undefined && { capacity }),
    ...(capacityMet !== undefined && { capacityMet }),
    ...(darkSeconds !== undefined && { darkSeconds }),
    sftsEvents,
    lines,
  };
}

/** The summary table, one row per profile, ready for a README. */
function summary(results: ProfileResult[]): string[] {
  const lines = [
    "",
    `| profile | file | ${tools.join(" | ")} | fastest peer ÷ sfts | goal | sfts vs the link's capacity | goal |`,
    `| --- | --- | ${tools.map(() => "---").join(" | ")} | --- | --- | --- | --- |`,
  ];
  for (const r of results) {
    const ratio =
      r.ratio !== undefined && r.fastestPeer
        ? `${r.ratio.toFixed(2)} (${r.fastestPeer.tool})`
        : r.ratioMet
          ? "no peer finished"
          : "–";
    const cap =
      r.capacity === undefined
        ? "–"
        : `${pct(r.capacity)} of ${mbit(r.profile.rateBitsPerSec ?? 0)} (${(r.darkSeconds ?? 0).toFixed(1)} s dark)`;
    lines.push(
      `| ${r.profile.name} | ${r.size / MiB} MiB | ${tools.map((t) => timeCell(r.rows.find((x) => x.tool === t))).join(" | ")} | ` +
        `${ratio} | ${goalMark(r.ratioMet, `≥ ${r.ratioGoal.toFixed(1)}×`)} | ${cap} | ` +
        `${r.profile.rateBitsPerSec === undefined ? "–" : goalMark(r.capacityMet, `≥ ${pct(CAPACITY_GOAL)}`)} |`,
    );
  }
  return lines;
}

async function main(): Promise<number> {
  const loadStart = loadavg()[0]?.toFixed(2);
  const { link, stack, work, stop } = await startLinkedStack({
    name: "links",
    profile: profiles[0] ?? profileByName("good"),
    mode: values.mode as "auto" | "kernel" | "proxy",
    seed,
    log,
    dir: values.dir,
  });
  const s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: stack.s3Credentials,
  });
  try {
    const setup = await toolSetup({
      link,
      stack,
      s3,
      work,
      log,
      sftsArgs: values["sfts-args"].split(" ").filter(Boolean),
      awsPypiBin: values["aws-pypi-bin"],
      awsDebianBin: values["aws-debian-bin"],
    });
    const results: ProfileResult[] = [];
    const lines: string[] = [];
    const header =
      `Uploads through shaped links (link via ${link.mode}${link.notes.length ? `: ${link.notes.join("; ")}` : ""}; ` +
      `seed ${link.seed}; ${rounds} round(s), tool order rotated; ${cpus().length} cores, load ${loadStart} at start). ` +
      "Median wall time of the successful runs: failed, timed-out and corrupt runs are counted apart and left out " +
      "of the median. Ratio: fastest peer ÷ sfts, peers of this run (above 1: sfts faster).";
    process.stdout.write(`${header}\n`);
    let before = await link.counters();
    for (const profile of profiles) {
      await link.setProfile(profile);
      const size = sizeOf(profile);
      const limit = limitSeconds(profile, size);
      const runs: RunResult[] = [];
      for (let round = 0; round < rounds; round++) {
        // New content every round: the coordinator remembers what it stored (a batch found again by its
        // manifest, a file by its SHA-256) while the bench deletes each stored object after checking it,
        // so sfts must never meet a file it has sent before. Every tool of a round sends the same file.
        const file = join(work, `${profile.name}-${round + 1}.bin`);
        const sha256 = await writeRandomFile(file, size);
        const order = tools.map((_, i) => tools[(i + round) % tools.length] as LinkToolName);
        for (const tool of order) {
          log(`${profile.name} round ${round + 1}: ${tool} (limit ${limit} s)`);
          const r = await runTool(setup, tool, { file, sha256, round, limitSeconds: limit });
          log(`  ${r.outcome} in ${r.seconds.toFixed(1)} s${r.detail ? ` (${r.detail.slice(0, 200)})` : ""}`);
          runs.push(r);
        }
        await rm(file, { force: true });
      }
      const after = await link.counters();
      const events = {
        resets: after.resets - before.resets,
        flips: after.flips - before.flips,
        outages: after.outages - before.outages,
        drops: after.drops - before.drops,
        packetsLost: after.packetsLost - before.packetsLost,
      };
      before = after;
      const judged = judge(profile, size, runs, (ms) => link.schedule(ms));
      const { lines: own, ...result } = judged;
      own.push(
        `Timeout ${limit} s per run. Link events over the profile's runs: ${events.resets} resets, ` +
          `${events.flips} byte flips, ${events.outages} outages, ${events.drops} drops, ${events.packetsLost} packets lost.`,
      );
      const notOk = runs.filter((r) => r.outcome !== "ok");
      if (notOk.length)
        own.push(
          "Runs that did not succeed (not in the medians):",
          ...notOk.map(
            (r) =>
              `- ${r.tool} round ${r.round + 1}: ${r.outcome} after ${r.seconds.toFixed(1)} s ${r.detail?.slice(0, 300) ?? ""}`,
          ),
        );
      process.stdout.write(`${own.join("\n")}\n`);
      lines.push(...own);
      results.push({ ...result, limit, events });
    }
    const table = summary(results);
    process.stdout.write(`${table.join("\n")}\n`);
    const out =
      values.out ??
      join(values.dir, `sfts-bench-links-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          header,
          machine: { cpus: cpus().length, loadStart: Number(loadStart), loadEnd: loadavg()[0] },
          link: { mode: link.mode, notes: link.notes, seed: link.seed },
          rounds,
          commands: setup.shown,
          versions: setup.versions,
          goals: { ratio: RATIO_GOAL, capacity: CAPACITY_GOAL },
          profiles: results.map((r) => ({
            ...r,
            profile: r.profile.name,
            summary: r.profile.summary,
            sizeBytes: r.size,
            medians: Object.fromEntries(r.rows.map((x) => [x.tool, median(x.ok) ?? null])),
          })),
          markdown: [...lines, ...table].join("\n"),
        },
        null,
        2,
      )}\n`,
    );
    process.stdout.write(`\nResults written to ${out}\n`);
    const bad = results
      .flatMap((r) => r.runs)
      .filter((r) => r.outcome === "corrupt" || (r.tool === "sfts" && r.outcome !== "ok"));
    return bad.length ? 1 : 0;
  } finally {
    s3.destroy();
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
