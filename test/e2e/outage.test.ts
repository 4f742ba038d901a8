/**
 * Back within a second: a real `sfts send` (and `sfts receive`) through the fault proxy in front of
 * storage meets a 10 s outage mid-transfer, the proxy resetting every connection and each new one (so
 * the retries fail fast and their exponential backoff grows towards its 30 s cap). From the proxy's
 * request log, which sees every storage request: the first part PUT (ranged GET) after the link's
 * return starts within 2 s of it, because the link watch's probe notices the return and wakes the
 * retries; and the file ends intact (its SHA-256 checked by the coordinator and by reading it back).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultLogEntry, type FaultProxy, startFaultProxy } from "../../harness/fault-proxy.js";
import { getFreePort } from "../../local/ports.js";
import { apiClient, MiB, sha256 } from "../helpers/api.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const OUTAGE_MS = 10_000;
/** The bound: the next request starts within 2 s of the link's return. */
const BACK_WITHIN_MS = 2_000;

let stack: TestStack;
let s3proxy: FaultProxy;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  // Presigned URLs name the proxy, so every part PUT and ranged GET crosses it on its way to versitygw.
  const proxyPort = await getFreePort();
  stack = await startTestStack({ s3PublicEndpoint: `http://127.0.0.1:${proxyPort}` });
  s3proxy = await startFaultProxy({ target: stack.s3Endpoint, port: proxyPort });
  dir = await mkdtemp(join(tmpdir(), "sfts-outage-"));
  env = await cliEnv(stack);
}, 120_000);
afterAll(async () => {
  await s3proxy?.close();
  await stack?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts the outage; resolves with the moment (Date.now(), the proxy log's clock) the link returns. */
function outage(): { back: Promise<number> } {
  const startedAt = Date.now();
  s3proxy.refuse(OUTAGE_MS);
  return {
    back: new Promise((resolve) => setTimeout(() => resolve(startedAt + OUTAGE_MS), OUTAGE_MS)),
  };
}

/** What the log shows around the outage: storage requests of `method` during it, and the first after. */
function around(log: FaultLogEntry[], method: string, backAt: number) {
  const during = log.filter((e) => e.method === method && e.at >= backAt - OUTAGE_MS && e.at < backAt);
  const first = log.find((e) => e.method === method && e.at >= backAt);
  const probes = log.filter((e) => e.method === "HEAD" && e.at >= backAt);
  return { during, first, probes };
}

describe("a 10 s outage mid-transfer", () => {
  const size = 64 * MiB;
  let data: Buffer | undefined;
  let transferId = "";

  it("send: the next part PUT starts within 2 s of the link's return, and the file ends intact", async () => {
    const bytes = randomBytes(size);
    data = bytes;
    const path = join(dir, "outage.bin");
    await writeFile(path, bytes);
    let cut: { back: Promise<number> } | undefined;
    const run = runCli(
      ["send", path, "--json", "--chunk-size", "5MiB", "--concurrency", "2", "--limit-rate", "16MiB/s"],
      env,
      (e) => {
        if (!cut && e.type === "part" && e.partNumber >= 2) cut = outage();
      },
    );
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(cut).toBeDefined();
    const backAt = await (cut as { back: Promise<number> }).back;
    const { during, first, probes } = around(s3proxy.stats().log, "PUT", backAt);
    expect(during).toEqual([]); // the link was dark: nothing reached storage
    // The parts in flight were lost and tried again (the retries fail fast while the link refuses).
    expect(ofType(r.events, "retry").filter((e) => e.operation === "PUT part").length).toBeGreaterThan(0);
    expect(first).toBeDefined();
    expect((first as FaultLogEntry).at - backAt).toBeLessThanOrEqual(BACK_WITHIN_MS);
    expect(probes.length).toBeGreaterThan(0); // the watch's probe was what saw the link return
    const done = ofType(r.events, "done")[0];
    expect(done?.sha256).toBe(sha256(bytes));
    transferId = done?.transferId ?? "";
    const d = await apiClient(stack).get(`/download/${transferId}?redirect=false`);
    expect(d.status).toBe(200);
    expect(Buffer.from(await (await fetch(d.body.url)).arrayBuffer()).equals(bytes)).toBe(true);
  }, 120_000);

  it("receive: the next ranged GET starts within 2 s of the link's return, every range checked", async () => {
    if (!transferId) {
      // Run on its own: send the file first, plainly.
      data ??= randomBytes(size);
      await writeFile(join(dir, "outage.bin"), data);
      const sent = await runCli(["send", join(dir, "outage.bin"), "--json"], env).done;
      expect(sent.code, sent.stderr).toBe(0);
      transferId = ofType(sent.events, "done")[0]?.transferId ?? "";
    }
    expect(transferId).toMatch(/^tr_/);
    const out = await mkdtemp(join(dir, "receive-"));
    let cut: { back: Promise<number> } | undefined;
    const run = runCli(
      ["receive", transferId, "--json", "--concurrency", "2", "--limit-rate", "16MiB/s"],
      env,
      (e) => {
        if (!cut && e.type === "progress" && e.bytesDone >= size / 4) cut = outage();
      },
      out,
    );
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(cut).toBeDefined();
    const backAt = await (cut as { back: Promise<number> }).back;
    const { during, first, probes } = around(s3proxy.stats().log, "GET", backAt);
    expect(during).toEqual([]);
    expect(ofType(r.events, "retry").length).toBeGreaterThan(0);
    expect(first).toBeDefined();
    expect((first as FaultLogEntry).at - backAt).toBeLessThanOrEqual(BACK_WITHIN_MS);
    expect(probes.length).toBeGreaterThan(0);
    expect((await readFile(join(out, "outage.bin"))).equals(data as Buffer)).toBe(true);
  }, 120_000);
});
