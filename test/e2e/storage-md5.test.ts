/**
 * MD5 mode end to end: the coordinator under the `generic` profile (every part and single PUT signed by
 * Content-MD5, every part but the last of one size) on the test stack's S3 server, whichever it is
 * (versitygw or SeaweedFS: nothing here depends on which). The real CLI sends through a fault proxy in
 * front of storage (presigned URLs name it): a folder with a multipart file and small single-PUT files
 * is stored intact; a part and a small file with one flipped byte are refused by storage (400 in the
 * proxy's log) and sent again; a send killed half way resumes with only the missing parts, at the
 * upload's fixed part size even when asked for another; and `sfts receive` gets the same bytes back.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../../harness/fault-proxy.js";
import { getFreePort } from "../../local/ports.js";
import { apiClient, MiB, sha256 } from "../helpers/api.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let s3proxy: FaultProxy;
let dir: string;

beforeAll(async () => {
  const proxyPort = await getFreePort();
  stack = await startTestStack({ profile: "generic", s3PublicEndpoint: `http://127.0.0.1:${proxyPort}` });
  s3proxy = await startFaultProxy({ target: stack.s3Endpoint, port: proxyPort });
  dir = await mkdtemp(join(tmpdir(), "sfts-md5-"));
});
afterEach(() => {
  s3proxy.clearRules();
  s3proxy.setRate(null);
});
afterAll(async () => {
  await s3proxy?.close();
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function makeFile(path: string, size: number): Promise<Buffer> {
  const data = randomBytes(size);
  await writeFile(path, data);
  return data;
}

async function stored(id: string): Promise<Buffer> {
  const d = await apiClient(stack).get(`/download/${id}?redirect=false`);
  expect(d.status).toBe(200);
  return Buffer.from(await (await fetch(d.body.url)).arrayBuffer());
}

/** The parts the coordinator recorded for a transfer, by number. */
async function recordedParts(id: string): Promise<Part[]> {
  const f = await apiClient(stack).get(`/api/files/${id}`);
  expect(f.status).toBe(200);
  return [...f.body.parts].sort((a, b) => a.partNumber - b.partNumber);
}

type Part = { partNumber: number; offset: number; size: number };

/** Each part is where the uniform rule puts it: part n at (n-1) × size, of that size (the last shorter). */
function expectPositional(parts: Part[], total: number, size: number) {
  expect(parts.map((p) => [p.partNumber, p.offset, p.size])).toEqual(
    parts.map((p) => [
      p.partNumber,
      (p.partNumber - 1) * size,
      Math.min(size, total - (p.partNumber - 1) * size),
    ]),
  );
}

/** Every part but the last has `size`, part n starts at (n-1) × size, and together they are the file. */
function expectUniform(parts: Part[], total: number, size: number) {
  expect(parts.map((p) => p.partNumber)).toEqual(parts.map((_, i) => i + 1));
  expectPositional(parts, total, size);
  expect(parts.reduce((n, p) => n + p.size, 0)).toBe(total);
}

/** Storage's answers to PUTs, as the proxy relayed them. */
const putStatuses = () =>
  s3proxy
    .stats()
    .log.filter((e) => e.method === "PUT")
    .map((e) => ({ status: e.status, fault: e.fault, part: /partNumber=/.test(e.path) }));

describe("the generic profile (Content-MD5, uniform parts)", () => {
  it("GET /api/storage gives senders the md5 and uniform rules, and transfers are served", async () => {
    const r = await apiClient(stack).get("/api/storage");
    expect(r.status).toBe(200);
    expect(r.body.rules).toMatchObject({ profile: "generic", partCheck: "md5", uniformParts: true });
    expect(r.body.serving).toBe(true);
  });

  it("a folder with a multipart file and small files is stored intact, every part of one size", async () => {
    const folder = join(dir, "folder");
    await mkdir(folder);
    const big = await makeFile(join(folder, "big.bin"), 37 * MiB + 4321);
    const smalls = {
      "a.txt": await makeFile(join(folder, "a.txt"), 1234),
      "b.bin": await makeFile(join(folder, "b.bin"), 2 * MiB + 1),
      "empty.bin": await makeFile(join(folder, "empty.bin"), 0),
    };
    const before = s3proxy.stats().log.length;
    const r = await runCli(["send", folder, "--json", "--chunk-size", "6MiB"], await cliEnv(stack)).done;
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const done = new Map(ofType(r.events, "done").map((d) => [d.path, d]));
    expect(done.size).toBe(4);
    // Storage accepted every PUT at once: each Content-MD5 matched its bytes.
    const puts = s3proxy
      .stats()
      .log.slice(before)
      .filter((e) => e.method === "PUT");
    expect(puts.length).toBeGreaterThan(0);
    expect(puts.filter((e) => e.status !== 200)).toEqual([]);
    const bigDone = done.get("folder/big.bin");
    expect(bigDone?.sha256).toBe(sha256(big));
    expect(sha256(await stored(bigDone?.transferId ?? ""))).toBe(sha256(big));
    expectUniform(await recordedParts(bigDone?.transferId ?? ""), big.length, 6 * MiB);
    const file = await apiClient(stack).get(`/api/files/${bigDone?.transferId}`);
    expect(file.body.storageCheck).toBe("md5");
    for (const [name, data] of Object.entries(smalls)) {
      const d = done.get(`folder/${name}`);
      expect(d?.sha256).toBe(sha256(data));
      expect((await stored(d?.transferId ?? "")).equals(data)).toBe(true);
    }
  });

  it("a part and a small file with one flipped byte are refused by storage, sent again, and arrive intact", async () => {
    const folder = join(dir, "flips");
    await mkdir(folder);
    const big = await makeFile(join(folder, "big.bin"), 21 * MiB);
    const small = await makeFile(join(folder, "small.bin"), 300_000);
    s3proxy.addRule({
      match: { method: "PUT", path: /partNumber=/ },
      times: 1,
      fault: { kind: "flip-byte", at: 123_457 },
    });
    s3proxy.addRule({
      match: { method: "PUT", path: /^(?!.*partNumber=)/ },
      times: 1,
      fault: { kind: "flip-byte", at: 4_321 },
    });
    const before = s3proxy.stats().log.length;
    const r = await runCli(["send", folder, "--json"], await cliEnv(stack)).done;
    expect(r.code).toBe(0);
    const flipped = s3proxy
      .stats()
      .log.slice(before)
      .filter((e) => e.fault === "flip-byte");
    expect(flipped).toHaveLength(2);
    // Storage refused both (a 400: the bytes did not match the signed Content-MD5)…
    expect(flipped.map((e) => e.status)).toEqual([400, 400]);
    const codes = ofType(r.events, "retry").map((e) => e.code);
    expect(codes.filter((c) => c === "BadDigest" || c === "InvalidDigest")).toHaveLength(2);
    // …and both were sent again, and are what the files hold.
    const done = new Map(ofType(r.events, "done").map((d) => [d.path, d]));
    expect(sha256(await stored(done.get("flips/big.bin")?.transferId ?? ""))).toBe(sha256(big));
    expect((await stored(done.get("flips/small.bin")?.transferId ?? "")).equals(small)).toBe(true);
    expect(putStatuses().filter((p) => p.status !== 200 && p.fault !== "flip-byte")).toEqual([]);
  });

  it("a send killed half way resumes with only the missing parts, at the upload's size, and receives intact", async () => {
    const size = 64 * MiB + 777;
    const path = join(dir, "killed.bin");
    const data = await makeFile(path, size);
    const env = await cliEnv(stack);
    const first = runCli(
      ["send", path, "--json", "--limit-rate", "24MiB/s", "--chunk-size", "5MiB", "-c", "2"],
      env,
      (e, child) => {
        if (e.type === "progress" && e.bytesDone >= size / 2) child.kill("SIGKILL");
      },
    );
    const r1 = await first.done;
    expect(r1.signal).toBe("SIGKILL");
    const id = ofType(r1.events, "start")[0]?.transferId ?? "";
    const had = await recordedParts(id);
    expect(had.length).toBeGreaterThan(0);
    expect(had.length).toBeLessThan(Math.ceil(size / (5 * MiB)));
    expectPositional(had, size, 5 * MiB);

    // Asked for 16 MiB parts now: the upload keeps the 5 MiB it was given at its start.
    const r2 = await runCli(["send", path, "--json", "--chunk-size", "16MiB"], env).done;
    expect(r2.code).toBe(0);
    const start = ofType(r2.events, "start")[0];
    expect(start?.resumed).toBe(true);
    expect(start?.transferId).toBe(id);
    const sent = ofType(r2.events, "part");
    expect(sent.length).toBeGreaterThan(0);
    const held = new Set(had.map((p) => p.partNumber));
    expect(sent.filter((p) => held.has(p.partNumber))).toEqual([]);
    expectPositional(sent, size, 5 * MiB);
    expectUniform(await recordedParts(id), size, 5 * MiB);

    const out = await mkdtemp(join(tmpdir(), "sfts-md5-out-"));
    try {
      const r = await runCli(["receive", id], env, undefined, out).done;
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`sha256 ${sha256(data)}`);
      expect((await readFile(join(out, "killed.bin"))).equals(data)).toBe(true);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
