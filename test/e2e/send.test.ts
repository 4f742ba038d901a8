import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { journalDir } from "../../cli/engine/journal.js";
import { type FaultProxy, startFaultProxy } from "../../harness/fault-proxy.js";
import { getFreePort } from "../../local/ports.js";
import { apiClient, MiB, sha256 } from "../helpers/api.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let s3proxy: FaultProxy;
let apiProxy: FaultProxy;
let dir: string;

beforeAll(async () => {
  // Presigned URLs name the proxy, so every part PUT crosses it on its way to versitygw.
  const proxyPort = await getFreePort();
  stack = await startTestStack({ s3PublicEndpoint: `http://127.0.0.1:${proxyPort}` });
  s3proxy = await startFaultProxy({ target: stack.s3Endpoint, port: proxyPort });
  apiProxy = await startFaultProxy({ target: stack.apiUrl });
  dir = await mkdtemp(join(tmpdir(), "sfts-send-"));
});
afterEach(() => {
  s3proxy.clearRules();
  s3proxy.setRate(null);
  apiProxy.clearRules();
});
afterAll(async () => {
  await s3proxy?.close();
  await apiProxy?.close();
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function makeFile(name: string, size: number): Promise<{ path: string; data: Buffer }> {
  const data = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, data);
  return { path, data };
}

async function downloaded(id: string): Promise<Buffer> {
  const api = apiClient(stack);
  const d = await api.get(`/download/${id}?redirect=false`);
  expect(d.status).toBe(200);
  return Buffer.from(await (await fetch(d.body.url)).arrayBuffer());
}

const bytesOfServer = async (id: string) => (await apiClient(stack).get(`/upload/missing/${id}`)).body;

describe("sfts send", () => {
  it("sends a 64 MiB file with nothing but the server and token set, and it comes back byte-identical", async () => {
    const { path, data } = await makeFile("plain.bin", 64 * MiB);
    const r = await runCli(["send", path], await cliEnv(stack)).done;
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const line = r.stdout.trim().split("\n").pop() ?? "";
    const id = /(tr_[0-9a-z]{26})/.exec(line)?.[1] ?? "";
    expect(line).toContain(`sha256 ${sha256(data)}`);
    expect((await downloaded(id)).equals(data)).toBe(true);
  });

  it("gets a file through resets, a stall, delays, a flipped byte and a failing API, intact", async () => {
    const { path, data } = await makeFile("faults.bin", 40 * MiB);
    const put = { method: "PUT" };
    s3proxy.addRule({ match: put, times: 2, fault: { kind: "reset-request", afterBytes: MiB } });
    s3proxy.addRule({ match: put, times: 1, fault: { kind: "flip-byte", at: 123_457 } });
    s3proxy.addRule({ match: put, times: 1, fault: { kind: "stall", afterBytes: MiB, ms: 15_000 } });
    s3proxy.addRule({ match: put, times: 2, fault: { kind: "delay", ms: 300 } });
    // The coordinator's calls fail too: the batch call's answer is cut, the assemble call answers 503.
    apiProxy.addRule({
      match: { method: "POST", path: /\/assemble\// },
      times: 1,
      fault: {
        kind: "status",
        status: 503,
        headers: { "content-type": "application/json", "retry-after": "1" },
        body: JSON.stringify({
          error: { code: "DATABASE_UNAVAILABLE", message: "The database is unavailable." },
        }),
      },
    });
    apiProxy.addRule({
      match: { method: "POST", path: /^\/batch$/ },
      times: 1,
      fault: { kind: "reset-response", afterBytes: 0 },
    });
    const env = await cliEnv(stack, { SFTS_SERVER: apiProxy.url });
    const r = await runCli(["send", path, "--json", "--stall-timeout", "2", "--chunk-size", "8MiB"], env)
      .done;
    expect(r.code).toBe(0);
    const retries = ofType(r.events, "retry");
    const codes = retries.map((e) => e.code);
    expect(codes).toContain("BadDigest"); // storage refused the flipped part…
    expect(codes).toContain("STALL"); // …the watchdog dropped the stalled one…
    expect(codes.some((c) => c === "ECONNRESET" || c === "EPIPE")).toBe(true); // …resets were retried…
    expect(
      retries.some((e) => e.operation.startsWith("POST /assemble") && e.code === "DATABASE_UNAVAILABLE"),
    ).toBe(true);
    expect(retries.some((e) => e.operation === "POST /batch")).toBe(true);
    expect(s3proxy.stats().faultsApplied["flip-byte"]).toBe(1);
    const done = ofType(r.events, "done")[0];
    expect(done?.sha256).toBe(sha256(data));
    expect((await downloaded(done?.transferId ?? "")).equals(data)).toBe(true);
    // …and the flipped part was sent again: more bytes went out than the file holds.
    expect(done?.bytesSent).toBeGreaterThan(data.length);
  });

  describe("resume after kill -9", () => {
    const size = 64 * MiB;
    const part = 5 * MiB;
    const args = (path: string) => [
      "send",
      path,
      "--json",
      "--limit-rate",
      "24MiB/s",
      "--chunk-size",
      "5MiB",
      "--no-adaptive",
      "--concurrency",
      "2",
    ];

    async function killHalfWay(path: string, env: Record<string, string>) {
      const first = runCli(args(path), env, (e, child) => {
        if (e.type === "progress" && e.bytesDone >= size / 2) child.kill("SIGKILL");
      });
      const r1 = await first.done;
      expect(r1.signal).toBe("SIGKILL");
      const id = ofType(r1.events, "start")[0]?.transferId ?? "";
      const server = await bytesOfServer(id);
      expect(server.status).toBe("uploading");
      expect(server.bytesDone).toBeGreaterThan(0);
      expect(server.bytesDone).toBeLessThan(size);
      return { id, serverBytes: server.bytesDone as number };
    }

    it("the same command continues, sending only what storage lacks", async () => {
      const { path, data } = await makeFile("killed.bin", size);
      const env = await cliEnv(stack);
      const { id, serverBytes } = await killHalfWay(path, env);
      const r2 = await runCli(args(path), env).done;
      expect(r2.code).toBe(0);
      const start = ofType(r2.events, "start")[0];
      expect(start?.resumed).toBe(true);
      expect(start?.transferId).toBe(id);
      expect(start?.bytesDone).toBe(serverBytes);
      expect(ofType(r2.events, "hash")).toHaveLength(0); // the journal saved re-hashing
      const sent = ofType(r2.events, "done")[0]?.bytesSent ?? Number.NaN;
      const missing = size - serverBytes;
      expect(sent).toBeGreaterThan(0);
      // Parts storage held but nobody recorded (in flight at the kill) are recorded, not sent: at most
      // what was missing, plus the parts cut mid-PUT.
      expect(sent).toBeLessThanOrEqual(missing + 2 * part);
      expect((await downloaded(id)).equals(data)).toBe(true);
    });

    it("also without the local journal (as on another host): the server says what is missing", async () => {
      const { path, data } = await makeFile("killed-nojournal.bin", size);
      const env = await cliEnv(stack);
      const { id, serverBytes } = await killHalfWay(path, env);
      await rm(journalDir(env), { recursive: true, force: true });
      const r2 = await runCli(args(path), env).done;
      expect(r2.code).toBe(0);
      expect(ofType(r2.events, "hash").length).toBeGreaterThan(0); // had to hash again
      // Hashed while it is sent: a new upload starts at once, and once the hash is known the file
      // switches to its unfinished one (the last start), sending what that one misses.
      const start = ofType(r2.events, "start").at(-1);
      expect(start?.resumed).toBe(true);
      expect(start?.transferId).toBe(id);
      expect(ofType(r2.events, "done")[0]?.transferId).toBe(id);
      const sent = ofType(r2.events, "done")[0]?.bytesSent ?? Number.NaN;
      // What storage lacked, the parts cut at the kill, and the parts on their way to the new upload
      // before the hash was known (two part slots).
      expect(sent).toBeLessThanOrEqual(size - serverBytes + 4 * part);
      expect((await downloaded(id)).equals(data)).toBe(true);
    });
  });

  it("Ctrl-C stops cleanly with exit 130 and a line saying how to resume; running it again finishes", async () => {
    const { path, data } = await makeFile("interrupted.bin", 32 * MiB);
    const env = await cliEnv(stack);
    // Two parts at a time, so parts are still to come when the first is recorded (and Ctrl-C pressed).
    const args = [
      "send",
      path,
      "--limit-rate",
      "16MiB/s",
      "--chunk-size",
      "5MiB",
      "--no-adaptive",
      "-c",
      "2",
    ];
    const first = runCli([...args, "--json"], env, (e, child) => {
      if (e.type === "part") child.kill("SIGINT");
    });
    const r1 = await first.done;
    expect(r1.code).toBe(130);
    expect(r1.stdout).toContain('"type":"interrupted"');
    const human = runCli(args, env, () => {});
    // Ctrl-C once it is under way (its first line), however slowly the machine starts it.
    human.child.stderr?.once("data", () => human.child.kill("SIGINT"));
    const r1b = await human.done;
    expect(r1b.code).toBe(130);
    expect(r1b.stderr).toContain("Run the same command to resume");
    expect(r1b.stderr).not.toMatch(/\n\s+at /);
    const r2 = await runCli([...args, "--json"], env).done;
    expect(r2.code).toBe(0);
    expect(ofType(r2.events, "start")[0]?.resumed).toBe(true);
    const done = ofType(r2.events, "done")[0];
    expect((await downloaded(done?.transferId ?? "")).equals(data)).toBe(true);
  });

  describe("adaptive part size", () => {
    it("grows on a clean link", async () => {
      const { path } = await makeFile("clean.bin", 96 * MiB);
      const r = await runCli(
        ["send", path, "--json", "--chunk-size", "5MiB", "--concurrency", "2"],
        await cliEnv(stack),
      ).done;
      expect(r.code).toBe(0);
      const sizes = ofType(r.events, "part").map((p) => p.size);
      expect(Math.min(...sizes)).toBe(5 * MiB);
      expect(Math.max(...sizes)).toBeGreaterThanOrEqual(20 * MiB);
    });

    it("falls toward 5 MiB on a slow, lossy link", async () => {
      const { path, data } = await makeFile("lossy.bin", 48 * MiB);
      s3proxy.setRate(6 * MiB);
      s3proxy.addRule({
        match: { method: "PUT" },
        times: 2,
        fault: { kind: "reset-request", afterBytes: 256 * 1024 },
      });
      const r = await runCli(
        ["send", path, "--json", "--chunk-size", "16MiB", "--concurrency", "1"],
        await cliEnv(stack),
      ).done;
      expect(r.code).toBe(0);
      // Planned sizes as the run reported them: from 16 MiB down to the floor after the resets.
      const planned = ofType(r.events, "progress").map((p) => p.partSize);
      expect(Math.max(...planned)).toBeLessThanOrEqual(16 * MiB);
      expect(Math.min(...planned)).toBe(5 * MiB);
      // Parts finish in any order (a part in backoff gives its slot away), so read them by number: the
      // first two were cut at 16 MiB before the resets, the rest smaller, so more parts than 48 ÷ 16.
      const parts = ofType(r.events, "part").sort((a, b) => a.partNumber - b.partNumber);
      expect(parts[0]?.size).toBe(16 * MiB);
      expect(parts.reduce((n, p) => n + p.size, 0)).toBe(48 * MiB);
      expect(parts.length).toBeGreaterThan(3);
      expect(parts.at(-1)?.size).toBeLessThan(16 * MiB);
      expect((await downloaded(ofType(r.events, "done")[0]?.transferId ?? "")).equals(data)).toBe(true);
    });
  });

  it("gives high priority a larger share than low, not just the first turn", async () => {
    const high = await makeFile("high.bin", 20 * MiB);
    const low = await makeFile("low.bin", 20 * MiB);
    const r = await runCli(
      [
        "send",
        low.path,
        "--priority",
        "low",
        "--high",
        high.path,
        "--json",
        "--limit-rate",
        "10MiB/s",
        "--chunk-size",
        "5MiB",
        "--no-adaptive",
      ],
      await cliEnv(stack),
    ).done;
    expect(r.code).toBe(0);
    const doneHigh = ofType(r.events, "done").find((e) => e.file === high.path);
    const doneLow = ofType(r.events, "done").find((e) => e.file === low.path);
    expect(doneHigh && doneLow && Date.parse(doneHigh.time) < Date.parse(doneLow.time)).toBe(true);
    // While both ran, low still moved (a share, not a queue), but much less than high. "While both ran"
    // ends when high's last byte is out (its assemble call that follows takes the coordinator's time).
    const highOut = ofType(r.events, "progress")
      .filter((e) => e.file === high.path)
      .find((e) => e.bytesDone >= high.data.length - 5 * MiB);
    const lowWhenHighDone = ofType(r.events, "progress")
      .filter((e) => e.file === low.path && Date.parse(e.time) <= Date.parse(highOut?.time ?? ""))
      .pop();
    expect(lowWhenHighDone?.bytesDone ?? 0).toBeGreaterThan(0);
    expect(lowWhenHighDone?.bytesDone ?? Number.POSITIVE_INFINITY).toBeLessThan(low.data.length / 2);
  });

  it("a file the server already holds completes at once, sending nothing", async () => {
    const { path, data } = await makeFile("twice-a.bin", 6 * MiB);
    await writeFile(join(dir, "twice-b.bin"), data);
    const env = await cliEnv(stack);
    expect((await runCli(["send", path], env).done).code).toBe(0);
    const r = await runCli(["send", join(dir, "twice-b.bin"), "--json"], env).done;
    expect(r.code).toBe(0);
    const done = ofType(r.events, "done")[0];
    expect(done?.deduplicated).toBe(true);
    expect(done?.bytesSent).toBe(0);
    expect(ofType(r.events, "part")).toHaveLength(0);
  });

  describe("failures are one line and a distinct exit code", () => {
    it.each([
      ["a missing file", ["send", "/nonexistent/file.bin"], 3, /No such file: \/nonexistent\/file\.bin/],
      ["a device", ["send", "/dev/null"], 3, /is a device/],
      ["no file at all", ["send"], 2, /Name at least one file/],
      ["a bad rate", ["send", "/tmp/x", "--limit-rate", "fast"], 2, /--limit-rate: "fast" is not a rate/],
      ["an unknown flag", ["send", "/tmp/x", "--bogus"], 2, /Nonexistent flag: --bogus/],
    ])("%s", async (_what, args, code, message) => {
      const r = await runCli(args as string[], await cliEnv(stack)).done;
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(message as RegExp);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    it("a wrong token (5)", async () => {
      const { path } = await makeFile("token.bin", 1000);
      const r = await runCli(["send", path], await cliEnv(stack, { SFTS_TOKEN: "sfts_wrong" })).done;
      expect(r.code).toBe(5);
      expect(r.stderr).toContain("refused the API token");
    });

    it("a server that is not there (4)", async () => {
      const { path } = await makeFile("down.bin", 1000);
      const port = await getFreePort();
      const env = await cliEnv(stack, { SFTS_SERVER: `http://127.0.0.1:${port}`, SFTS_MAX_RETRIES: "1" });
      const r = await runCli(["send", path, "--json"], env).done;
      expect(r.code).toBe(4);
      expect(r.stdout).toContain("Cannot reach the SFTS server");
      expect(ofType(r.events, "error").at(-1)?.exitCode).toBe(4);
    });

    it("a transfer cancelled under a running send: storage refuses, exit 6, and nothing local is lost", async () => {
      const { path } = await makeFile("cancelled.bin", 48 * MiB);
      const env = await cliEnv(stack);
      let cancelled = false;
      const run = runCli(
        ["send", path, "--json", "--limit-rate", "8MiB/s", "--chunk-size", "5MiB", "--concurrency", "1"],
        env,
        (e) => {
          if (e.type === "part" && !cancelled) {
            cancelled = true;
            void runCli(["cancel", e.transferId], env).done;
          }
        },
      );
      const r = await run.done;
      expect(r.code).toBe(6);
      expect(ofType(r.events, "error")[0]?.message).toMatch(/aborted|no longer exists/);
    });
  });
});

describe("sfts status and cancel", () => {
  it("show a transfer in progress and cancel it", async () => {
    const { path } = await makeFile("status.bin", 12 * MiB);
    const env = await cliEnv(stack);
    const run = runCli(
      ["send", path, "--json", "--limit-rate", "4MiB/s", "--chunk-size", "5MiB"],
      env,
      (e, child) => {
        if (e.type === "part") child.kill("SIGKILL");
      },
    );
    const r = await run.done;
    const id = ofType(r.events, "start")[0]?.transferId ?? "";
    const list = await runCli(["status"], env).done;
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+SIZE\s+STORED/m);
    const one = await runCli(["status", id], env).done;
    expect(one.stdout).toContain("status     uploading");
    expect(one.stdout).toMatch(/missing\s+bytes 5242880–/);
    const c = await runCli(["cancel", id], env).done;
    expect(c.code).toBe(0);
    expect(c.stdout).toContain(`Cancelled ${id}`);
    expect((await runCli(["status", id, "--json"], env).done).stdout).toContain('"status":"aborted"');
    expect((await runCli(["cancel", "tr_00000000000000000000000000"], env).done).code).toBe(10);
  });
});

describe("sfts send against storage that throttles and URLs that expire", () => {
  it("honours S3 SlowDown with its Retry-After", async () => {
    const { path, data } = await makeFile("slowdown.bin", 6 * MiB);
    s3proxy.addRule({
      match: { method: "PUT" },
      times: 1,
      fault: {
        kind: "status",
        status: 503,
        headers: { "retry-after": "2" },
        body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
      },
    });
    const r = await runCli(["send", path, "--json"], await cliEnv(stack)).done;
    expect(r.code).toBe(0);
    const slow = ofType(r.events, "retry").find((e) => e.code === "SlowDown");
    expect(slow?.delayMs).toBeGreaterThanOrEqual(2000);
    expect((await downloaded(ofType(r.events, "done")[0]?.transferId ?? "")).equals(data)).toBe(true);
  });

  it("writes a log file for post-mortems, without the token", async () => {
    const { path } = await makeFile("logged.bin", 2000);
    const env = await cliEnv(stack);
    expect((await runCli(["send", path], env).done).code).toBe(0);
    const { readdir, readFile } = await import("node:fs/promises");
    const logs = join(env.XDG_STATE_HOME as string, "sfts", "logs");
    const [file] = await readdir(logs);
    const text = await readFile(join(logs, file as string), "utf8");
    expect(text).toContain('"type":"done"');
    expect(text).not.toContain(stack.token);
  });

  it("presigns again when a URL expired before its PUT reached storage", async () => {
    const proxyPort = await getFreePort();
    const short = await startTestStack({
      presignExpiresSeconds: 1,
      s3PublicEndpoint: `http://127.0.0.1:${proxyPort}`,
    });
    const proxy = await startFaultProxy({ target: short.s3Endpoint, port: proxyPort });
    try {
      proxy.addRule({ match: { method: "PUT" }, times: 1, fault: { kind: "delay", ms: 2500 } });
      // Small, so the whole body is through before storage answers 403 and closes.
      const { path, data } = await makeFile("expiring.bin", 3000);
      const r = await runCli(["send", path, "--json"], await cliEnv(short)).done;
      expect(r.code).toBe(0);
      expect(ofType(r.events, "retry").map((e) => e.code)).toContain("URL_EXPIRED");
      const d = await apiClient(short).get(
        `/download/${ofType(r.events, "done")[0]?.transferId}?redirect=false`,
      );
      expect(Buffer.from(await (await fetch(d.body.url)).arrayBuffer()).equals(data)).toBe(true);
    } finally {
      await proxy.close();
      await short.cleanup();
    }
  });
});
