/**
 * The fault suite (short; the long one is `npm run soak`): real `sfts send` and `sfts receive`
 * processes through each named link profile (harness/profiles.ts), in a network namespace with tc and
 * nftables where this run may (else through the fault proxies alone), interrupted on cue: kill -9 of
 * the CLI, link drops and outages, storage / table / API restarts. Every transfer must end
 * byte-identical after resuming, and at the end every transfer the coordinator calls complete is read
 * back from storage and hashed: one corrupt or lost transfer fails the suite.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditStorage,
  type Cue,
  type FaultContext,
  newLedger,
  receiveFile,
  sendFile,
  totalInterruptions,
} from "../../harness/faults.js";
import { writeRandomFile } from "../../harness/files.js";
import { type Link, openLink } from "../../harness/link.js";
import { type LinkProfile, PROFILES } from "../../harness/profiles.js";
import { getFreePort } from "../../local/ports.js";
import { cliEnv } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const MiB = 1024 * 1024;
let stack: TestStack;
let link: Link;
let work: string;
let ctx: FaultContext;
const ledger = newLedger();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sfts-faults-"));
  const ports = {
    api: await getFreePort("127.0.0.1"),
    s3: await getFreePort("127.0.0.1"),
    dynamodb: await getFreePort("127.0.0.1"),
  };
  // The profiles' timed outages and drops are replaced by cues, so each test knows what hit it.
  link = await openLink({
    profile: PROFILES.good,
    targets: { api: `http://127.0.0.1:${ports.api}`, s3: `http://127.0.0.1:${ports.s3}` },
    timedEvents: false,
    seed: 20261130,
  });
  stack = await startTestStack({ ports, s3PublicEndpoint: link.s3Url });
  const env = await cliEnv({ apiUrl: link.apiUrl, token: stack.token }, { SFTS_TIMEOUT: "15" });
  ctx = {
    stack,
    link,
    env,
    ledger,
    // A stall timeout shorter than the 30 s default, so a connection lost while awaiting an answer is
    // given up sooner; two parts in flight, so a cue after the first part lands while others still wait.
    sendArgs: ["--stall-timeout", "8", "--chunk-size", "5MiB", "--concurrency", "2"],
    receiveArgs: ["--stall-timeout", "8", "--concurrency", "2"],
  };
}, 180_000);

afterAll(async () => {
  console.log(
    `fault suite (${link?.mode ?? "?"} link): ${ledger.transfers} transfers, ${totalInterruptions(ledger)} interruptions ` +
      `${JSON.stringify(ledger.interruptions)}, ${ledger.resumableFailures} resumable failures, ` +
      `${(ledger.bytesResent / MiB).toFixed(1)} MiB re-sent, ${ledger.corruptCaught} corrupt parts caught, ` +
      `${ledger.identical} identical, ${ledger.failures.length} failed`,
  );
  await link?.close();
  await stack?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Send a new random file and receive it back, each with its cues; both must end identical. */
async function roundTrip(name: string, size: number, sendCues: Cue[] = [], receiveCues: Cue[] = []) {
  const file = join(work, `${name}.bin`);
  const sha256 = await writeRandomFile(file, size);
  const sent = await sendFile(ctx, file, size, sendCues);
  expect(sent.ok, sent.last.stderr).toBe(true);
  expect(sent.transferId).toMatch(/^tr_/);
  const got = await receiveFile(
    ctx,
    sent.transferId as string,
    join(work, `${name}.out`),
    { sha256, size },
    receiveCues,
  );
  expect(got.ok, got.last.stderr).toBe(true);
  expect(got.identical).toBe(true);
  return { sent, got };
}

async function withProfile(p: LinkProfile) {
  await link.setProfile(p);
}

describe("transfers through each link profile end byte-identical", () => {
  it("good: kill -9 of the sender and of the receiver mid-transfer, then resume", async () => {
    // A rate cap, so the kill lands while parts are still moving.
    await withProfile({ ...PROFILES.good, rateBitsPerSec: 40_000_000 });
    const { sent, got } = await roundTrip(
      "good",
      16 * MiB,
      [{ afterParts: 1, action: "kill-cli" }],
      [{ afterParts: 1, action: "kill-cli" }],
    );
    expect(sent.runs).toBe(2);
    expect(got.runs).toBe(2);
    expect(sent.events.some((e) => e.type === "start" && e.resumed)).toBe(true);
  }, 120_000);

  it("satellite: 600 ms round trips at 2 Mbit/s", async () => {
    await withProfile(PROFILES.satellite);
    await roundTrip("satellite", 1 * MiB);
  }, 120_000);

  it("mobile: 2% loss and a drop that loses every connection mid-send", async () => {
    await withProfile(PROFILES.mobile);
    await roundTrip("mobile", 8 * MiB, [{ afterParts: 1, action: "link-drop" }]);
  }, 180_000);

  it("flaky: random resets and a 10 s outage mid-send", async () => {
    await withProfile(PROFILES.flaky);
    await roundTrip("flaky", 11 * MiB, [{ afterParts: 1, action: "link-outage" }]);
  }, 180_000);

  it("hostile: flipped bytes up and down are refused and sent again, never stored or written", async () => {
    await withProfile(PROFILES.hostile);
    // On top of the profile's random flips: the next upload body and the next ranged download surely.
    link.addStorageRule({ match: { method: "PUT" }, times: 1, fault: { kind: "flip-byte", at: 1234 } });
    link.addStorageRule({
      match: { method: "GET" },
      times: 1,
      fault: { kind: "flip-response-byte", at: 4321 },
    });
    const caughtBefore = ledger.corruptCaught;
    const { sent, got } = await roundTrip("hostile", 16 * MiB);
    const codes = [...sent.events, ...got.events].flatMap((e) => (e.type === "retry" ? [e.code] : []));
    expect(codes).toContain("BadDigest");
    expect(codes).toContain("CHECKSUM");
    expect(ledger.corruptCaught - caughtBefore).toBeGreaterThanOrEqual(2);
  }, 120_000);
});

describe("services restarted mid-transfer", () => {
  for (const action of ["restart-storage", "restart-table", "restart-api"] as const) {
    it(`${action}: the send rides it out or resumes (the audit below checks the bytes)`, async () => {
      await withProfile({ ...PROFILES.good, rateBitsPerSec: 40_000_000 });
      const file = join(work, `${action}.bin`);
      await writeRandomFile(file, 16 * MiB);
      const sent = await sendFile(ctx, file, 16 * MiB, [{ afterParts: 1, action }]);
      expect(sent.ok, sent.last.stderr).toBe(true);
      // The restart landed while the transfer was still running: something had to be tried again.
      expect(sent.runs > 1 || sent.events.some((e) => e.type === "retry")).toBe(true);
      expect(ledger.interruptions[action]).toBeGreaterThan(0);
    }, 180_000);
  }
});

describe("the promise", () => {
  it("every transfer marked complete holds exactly the bytes whose SHA-256 was recorded", async () => {
    const audit = await auditStorage(stack);
    expect(audit.corrupt).toEqual([]);
    // Nothing lost: every send that reported success is complete and verified.
    expect(ledger.sent.length).toBe(ledger.sends);
    expect(ledger.sent.filter((id) => !audit.verifiedIds.includes(id))).toEqual([]);
    expect(audit.verified).toBe(audit.complete);
    expect(ledger.corruptComplete).toBe(0);
    expect(ledger.failures).toEqual([]);
  }, 120_000);
});
