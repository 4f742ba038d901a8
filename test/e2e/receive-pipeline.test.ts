/**
 * `sfts receive` pipelined through the fault proxy (real versitygw behind it): every part still checked
 * against its SHA-256 while many ranges are in flight, a damaged part refused and fetched again, a range
 * broken mid-body continued from the bytes it has, and --memory capping the GETs in flight.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../../harness/fault-proxy.js";
import { getFreePort } from "../../local/ports.js";
import { MiB } from "../helpers/api.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let proxy: FaultProxy;
let dir: string;
let env: Record<string, string>;
const partSize = 16 * MiB;
const size = 3 * partSize;
let data: Buffer;
let id: string;
let n = 0;

beforeAll(async () => {
  const proxyPort = await getFreePort();
  stack = await startTestStack({ s3PublicEndpoint: `http://127.0.0.1:${proxyPort}` });
  proxy = await startFaultProxy({ target: stack.s3Endpoint, port: proxyPort });
  dir = await mkdtemp(join(tmpdir(), "sfts-receive-pipeline-"));
  env = await cliEnv(stack);
  data = randomBytes(size);
  await writeFile(join(dir, "original.bin"), data);
  const r = await runCli(
    ["send", join(dir, "original.bin"), "--json", "--chunk-size", "16MiB", "--no-adaptive"],
    env,
  ).done;
  expect(r.code).toBe(0);
  id = ofType(r.events, "done")[0]?.transferId ?? "";
}, 180_000);
afterAll(async () => {
  await proxy?.close();
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => proxy.clearRules());

async function receive(extra: string[] = []) {
  const out = join(dir, `out-${n++}`);
  await mkdir(out, { recursive: true });
  const r = await runCli(["receive", id, "--json", ...extra], env, undefined, out).done;
  return { ...r, file: join(out, "original.bin") };
}

describe("sfts receive, pipelined", () => {
  it("a byte flipped on the wire in one range: that part is refused and fetched again whole, the file arrives intact", async () => {
    proxy.addRule({
      match: { method: "GET" },
      skip: 2,
      times: 1,
      fault: { kind: "flip-response-byte", at: 1000 },
    });
    const r = await receive();
    expect(r.code).toBe(0);
    const damaged = ofType(r.events, "retry").filter((e) => e.code === "CHECKSUM");
    expect(damaged).toHaveLength(1);
    expect(damaged[0]?.operation).toBe("GET range");
    // Exactly one part fetched twice: the damaged one, whole; nothing else.
    expect(ofType(r.events, "done")[0]?.bytesSent).toBe(size + partSize);
    expect(
      ofType(r.events, "part")
        .map((e) => e.partNumber)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect((await readFile(r.file)).equals(data)).toBe(true);
  });

  it("a range reset mid-body goes on from the bytes it has: not one byte fetched twice", async () => {
    proxy.addRule({
      match: { method: "GET" },
      skip: 1,
      times: 1,
      fault: { kind: "reset-response", afterBytes: 3 * MiB },
    });
    const r = await receive();
    expect(r.code).toBe(0);
    expect(ofType(r.events, "retry").filter((e) => e.operation === "GET range")).toHaveLength(1);
    expect(ofType(r.events, "done")[0]?.bytesSent).toBe(size);
    expect((await readFile(r.file)).equals(data)).toBe(true);
  });

  it("--memory caps the GETs in flight whatever --concurrency says (about 3 MiB each)", async () => {
    const r = await receive(["--memory", "12MiB", "--concurrency", "64"]);
    expect(r.code).toBe(0);
    const limits = [...ofType(r.events, "progress"), ...ofType(r.events, "link")].map((e) => e.concurrency);
    expect(limits.length).toBeGreaterThan(0);
    expect(Math.max(...limits)).toBeLessThanOrEqual(4);
    expect((await readFile(r.file)).equals(data)).toBe(true);
    const bad = await receive(["--memory", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.stdout + bad.stderr).toContain("--memory: ");
  });
});
