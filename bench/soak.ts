/**
 * The soak: the fault suite's long form. For each link profile (harness/profiles.ts), with the
 * profile's own timed outages and drops running, it sends and receives files of several sizes, each
 * transfer interrupted at random (kill -9 of the CLI, storage / table / API restarts, link drops and
 * outages) and resumed by running the same command again. Then every transfer the coordinator calls
 * complete is read back from storage and hashed. It prints one table row per profile and exits 1 if
 * any transfer ended corrupt, was lost, or failed without a resumable error.
 *
 * Usage: npm run soak -- [--profiles good,satellite,…] [--rounds 1] [--seed N] [--mode auto|kernel|proxy]
 */
import { rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  auditStorage,
  type Cue,
  type FaultContext,
  INTERRUPTIONS,
  type Ledger,
  mergeLedgers,
  newLedger,
  receiveFile,
  sendFile,
  totalInterruptions,
} from "../harness/faults.js";
import { writeRandomFile } from "../harness/files.js";
import { startLinkedStack } from "../harness/linked-stack.js";
import { PROFILE_NAMES, type ProfileName, profileByName, seededRandom } from "../harness/profiles.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const MiB = 1024 * 1024;

/** File sizes per profile (MiB): what each link moves in reasonable time. */
const SIZES: Record<ProfileName, number[]> = {
  good: [1, 24, 160],
  satellite: [1, 3],
  mobile: [2, 12, 24],
  flaky: [6, 24, 64],
  hostile: [6, 24, 64],
  "long-fat": [6, 24, 64],
};

const { values } = parseArgs({
  options: {
    profiles: { type: "string", default: PROFILE_NAMES.join(",") },
    rounds: { type: "string", default: "1" },
    seed: { type: "string" },
    mode: { type: "string", default: "auto" },
    dir: { type: "string", default: tmpdir() },
  },
});
const profiles = (values.profiles ?? "").split(",").map((p) => profileByName(p.trim()));
const rounds = Math.max(1, Number(values.rounds));
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const mode = values.mode as "auto" | "kernel" | "proxy";
const random = seededRandom(seed);

const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

/** One or two interruptions at random points (in parts of the run in progress). */
function randomCues(size: number): Cue[] {
  const parts = Math.max(1, Math.floor(size / (5 * MiB)));
  const n = 1 + Math.floor(random() * 2);
  const cues: Cue[] = [];
  for (let i = 0; i < n; i++) {
    const action = INTERRUPTIONS[Math.floor(random() * INTERRUPTIONS.length)] ?? "kill-cli";
    cues.push({ afterParts: 1 + Math.floor(random() * Math.max(1, parts - 1)), action });
  }
  return cues;
}

async function main(): Promise<number> {
  const { link, stack, work, stop } = await startLinkedStack({
    name: "soak",
    profile: profiles[0] ?? profileByName("good"),
    mode,
    seed,
    log,
    dir: values.dir,
  });
  try {
    const home = join(work, "home");
    const ctx: FaultContext = {
      stack,
      link,
      env: {
        ...(process.env as Record<string, string>),
        HOME: home,
        XDG_STATE_HOME: join(home, "state"),
        XDG_CONFIG_HOME: join(home, "config"),
        SFTS_SERVER: link.apiUrl,
        SFTS_TOKEN: stack.token,
      },
      ledger: newLedger(),
      log,
    };
    type Row = { profile: string; ledger: Ledger; seconds: number; lost: number; timed: number };
    const rows: Row[] = [];
    for (const profile of profiles) {
      await link.setProfile(profile);
      const ledger = newLedger();
      ctx.ledger = ledger;
      const before = await link.counters();
      const t0 = performance.now();
      for (let round = 0; round < rounds; round++) {
        for (const sizeMiB of SIZES[profile.name]) {
          const size = sizeMiB * MiB;
          const name = `${profile.name}-${round}-${sizeMiB}`;
          const file = join(work, `${name}.bin`);
          const sha256 = await writeRandomFile(file, size);
          log(`${profile.name}: ${sizeMiB} MiB`);
          const sent = await sendFile(ctx, file, size, randomCues(size));
          if (sent.ok && sent.transferId) {
            await receiveFile(
              ctx,
              sent.transferId,
              join(work, `${name}.out`),
              { sha256, size },
              randomCues(size),
            );
          }
          await rm(file, { force: true });
          await rm(join(work, `${name}.out`), { force: true });
        }
      }
      const after = await link.counters();
      rows.push({
        profile: profile.name,
        ledger,
        seconds: (performance.now() - t0) / 1000,
        lost: after.packetsLost - before.packetsLost,
        // The profile's own drops and outages, on top of the cued ones.
        timed:
          after.drops +
          after.outages -
          before.drops -
          before.outages -
          ledger.interruptions["link-drop"] -
          ledger.interruptions["link-outage"],
      });
    }
    const audit = await auditStorage(stack);
    const total = newLedger();
    for (const r of rows) mergeLedgers(total, r.ledger);

    const fmt = (r: Row) =>
      `| ${r.profile} | ${r.ledger.transfers} | ${totalInterruptions(r.ledger)} | ${r.ledger.resumableFailures} | ` +
      `${(r.ledger.bytesResent / MiB).toFixed(1)} | ${r.ledger.corruptCaught} | ${r.lost} | ` +
      `${r.timed} | ${r.ledger.identical}/${r.ledger.receives} | ${r.ledger.failures.length} | ${r.ledger.corruptComplete} | ${r.seconds.toFixed(0)} |`;
    const lines = [
      `Soak: link via ${link.mode}${link.notes.length ? ` (${link.notes.join("; ")})` : ""}, seed ${seed}, rounds ${rounds}, ` +
        `${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}`,
      "",
      "| profile | transfers | interruptions | resumable failures | MiB re-sent | corrupt parts caught | packets lost | timed drops + outages | identical | failed | corrupt complete | seconds |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows.map(fmt),
      fmt({
        profile: "all",
        ledger: total,
        seconds: rows.reduce((s, r) => s + r.seconds, 0),
        lost: rows.reduce((s, r) => s + r.lost, 0),
        timed: rows.reduce((s, r) => s + r.timed, 0),
      }),
      "",
      `Interruptions by kind: ${INTERRUPTIONS.map((k) => `${k} ${total.interruptions[k]}`).join(", ")}.`,
      `Audit: ${audit.complete} transfers marked complete, ${audit.verified} read back with the recorded SHA-256, ${audit.corrupt.length} corrupt.`,
    ];
    if (total.failures.length) lines.push("", "Failures:", ...total.failures.map((f) => `- ${f}`));
    const lost = total.sent.filter((id) => !audit.verifiedIds.includes(id));
    if (lost.length) lines.push(`Lost (sent, but not complete and verified): ${lost.join(", ")}`);

    process.stdout.write(`${lines.join("\n")}\n`);
    const bad =
      audit.corrupt.length > 0 || total.corruptComplete > 0 || total.failures.length > 0 || lost.length > 0;
    return bad ? 1 : 0;
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
