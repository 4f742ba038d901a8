import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, initTransfer, MiB, planParts, sendParts, sha256 } from "../helpers/api.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const run = promisify(execFile);
let stack: TestStack;
let dir: string;
let env: Record<string, string>;
const size = 64 * MiB;
let data: Buffer;
let id: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "sfts-receive-"));
  env = await cliEnv(stack);
  data = randomBytes(size);
  await writeFile(join(dir, "original.bin"), data);
  const r = await runCli(
    ["send", join(dir, "original.bin"), "--json", "--chunk-size", "8MiB", "--no-adaptive"],
    env,
  ).done;
  expect(r.code).toBe(0);
  id = ofType(r.events, "done")[0]?.transferId ?? "";
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function freshDir(name: string) {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  return d;
}

describe("sfts receive", () => {
  it("receives a 64 MiB file elsewhere, byte-identical, under its stored name", async () => {
    const out = await freshDir("elsewhere");
    const r = await runCli(["receive", id], { ...env, PWD: out }, undefined, out).done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`sha256 ${sha256(data)}`);
    expect((await readFile(join(out, "original.bin"))).equals(data)).toBe(true);
    expect(await readdir(out)).toEqual(["original.bin"]); // no partial or journal left behind
  });

  it("killed half way, the same command resumes and fetches only about what was missing", async () => {
    const out = await freshDir("killed");
    const args = ["receive", id, "--json", "--limit-rate", "32MiB/s", "--concurrency", "2"];
    const first = await runCli(
      args,
      env,
      (e, child) => {
        if (e.type === "progress" && e.bytesDone >= size / 2) child.kill("SIGKILL");
      },
      out,
    ).done;
    expect(first.signal).toBe("SIGKILL");
    expect(existsSync(join(out, "original.bin.sfts-partial"))).toBe(true);
    const second = await runCli(args, env, undefined, out).done;
    expect(second.code).toBe(0);
    const start = ofType(second.events, "start")[0];
    expect(start?.resumed).toBe(true);
    expect(start?.bytesDone).toBeGreaterThan(0);
    const fetched = ofType(second.events, "done")[0]?.bytesSent;
    expect(fetched).toBe(size - (start?.bytesDone ?? 0)); // exactly the ranges not yet verified on disk
    expect((await readFile(join(out, "original.bin"))).equals(data)).toBe(true);
  });

  it("a partial file damaged on disk is caught before resuming, and the damaged range fetched again", async () => {
    const out = await freshDir("damaged");
    const args = ["receive", id, "--json", "--limit-rate", "32MiB/s", "--concurrency", "1"];
    const first = await runCli(
      args,
      env,
      (e, child) => {
        if (e.type === "part" && e.partNumber >= 3) child.kill("SIGKILL");
      },
      out,
    ).done;
    expect(first.signal).toBe("SIGKILL");
    const partial = join(out, "original.bin.sfts-partial");
    const f = await open(partial, "r+");
    await f.write(Buffer.from([(data[100] ?? 0) ^ 0xff]), 0, 1, 100); // inside range 1, which was done
    await f.close();
    const second = await runCli(args, env, undefined, out).done;
    expect(second.code).toBe(0);
    const caught = ofType(second.events, "retry").find((e) => e.operation === "verify partial");
    expect(caught?.code).toBe("CHECKSUM");
    expect((await readFile(join(out, "original.bin"))).equals(data)).toBe(true);
  });

  it("never overwrites an existing file without --force (exit 11), and does with it", async () => {
    const out = await freshDir("exists");
    await writeFile(join(out, "original.bin"), "precious");
    const r = await runCli(["receive", id], env, undefined, out).done;
    expect(r.code).toBe(11);
    expect(r.stderr).toContain("already exists; use --force");
    expect(await readFile(join(out, "original.bin"), "utf8")).toBe("precious");
    const forced = await runCli(["receive", id, "--force"], env, undefined, out).done;
    expect(forced.code).toBe(0);
    expect((await readFile(join(out, "original.bin"))).equals(data)).toBe(true);
  });

  it("-o names the file or the folder", async () => {
    const out = await freshDir("named");
    expect((await runCli(["receive", id, "-o", "copy.bin"], env, undefined, out).done).code).toBe(0);
    await mkdir(join(out, "sub"));
    expect((await runCli(["receive", id, "-o", "sub"], env, undefined, out).done).code).toBe(0);
    expect((await readFile(join(out, "copy.bin"))).equals(data)).toBe(true);
    expect((await readFile(join(out, "sub", "original.bin"))).equals(data)).toBe(true);
    // A trailing slash names a folder even when it does not exist yet; without one, a missing folder is an error.
    expect((await runCli(["receive", id, "-o", "new/deeper/"], env, undefined, out).done).code).toBe(0);
    expect((await readFile(join(out, "new", "deeper", "original.bin"))).equals(data)).toBe(true);
    const missing = await runCli(["receive", id, "-o", "nowhere/copy.bin"], env, undefined, out).done;
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/nowhere/);
  });

  it.each([
    ["../../etc/passwd", "passwd"],
    ["/etc/shadow-copy", "shadow-copy"],
    ["a\\..\\..\\windows.ini", "windows.ini"],
    ["line\nbreak\r\tname.txt", "line_break__name.txt"],
    ["..", null],
  ])("stores the hostile name %j as given and receives it safely", async (name, expected) => {
    const api = apiClient(stack);
    const bytes = randomBytes(100);
    const { transferId } = await initTransfer(api, bytes, { name });
    await sendParts(api, transferId, bytes, planParts(bytes, [100]));
    expect((await api.post(`/assemble/${transferId}`)).body.name).toBe(name); // kept as data
    const out = await freshDir(`hostile-${sha256(Buffer.from(name)).slice(0, 8)}`);
    const r = await runCli(["receive", transferId], env, undefined, out).done;
    expect(r.code).toBe(0);
    expect(await readdir(out)).toEqual([expected ?? transferId]);
    expect(await readdir(join(out, ".."))).not.toContain("passwd");
  });

  it("refuses an unknown id (10) and a transfer still uploading (6)", async () => {
    const out = await freshDir("refused");
    expect((await runCli(["receive", "tr_00000000000000000000000000"], env, undefined, out).done).code).toBe(
      10,
    );
    const { transferId } = await initTransfer(apiClient(stack), randomBytes(6 * MiB));
    const r = await runCli(["receive", transferId], env, undefined, out).done;
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("uploading");
  });
});

describe("clients no one here wrote", () => {
  it("the AWS CLI reads the stored object from the same versitygw, and its SHA-256 matches", async () => {
    const aws = existsSync("/usr/bin/aws") ? "/usr/bin/aws" : "aws";
    const out = join(dir, "via-aws.bin");
    await run(
      aws,
      [
        "s3",
        "cp",
        `s3://${stack.bucket}/objects/${id}`,
        out,
        "--endpoint-url",
        stack.s3Endpoint,
        "--only-show-errors",
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: stack.env.SFTS_S3_ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: stack.env.SFTS_S3_SECRET_ACCESS_KEY,
          AWS_DEFAULT_REGION: "us-east-1",
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        },
      },
    );
    expect(sha256(await readFile(out))).toBe(sha256(data));
  });
});

describe("a download URL that expires mid-download", () => {
  it("is fetched again and the download completes", async () => {
    const { getFreePort } = await import("../../local/ports.js");
    const { startFaultProxy } = await import("../../harness/fault-proxy.js");
    const proxyPort = await getFreePort();
    const short = await startTestStack({
      downloadExpiresSeconds: 1,
      s3PublicEndpoint: `http://127.0.0.1:${proxyPort}`,
    });
    const proxy = await startFaultProxy({ target: short.s3Endpoint, port: proxyPort });
    try {
      const shortEnv = await cliEnv(short);
      const bytes = randomBytes(12 * MiB);
      await writeFile(join(dir, "expiring-download.bin"), bytes);
      const sent = await runCli(
        ["send", join(dir, "expiring-download.bin"), "--json", "--chunk-size", "5MiB"],
        shortEnv,
      ).done;
      expect(sent.code).toBe(0);
      const fileId = ofType(sent.events, "done")[0]?.transferId ?? "";
      // The first range request reaches storage after its URL's one second is over.
      proxy.addRule({ match: { method: "GET" }, times: 1, fault: { kind: "delay", ms: 2500 } });
      const out = await freshDir("expiring");
      const r = await runCli(["receive", fileId, "--json", "--concurrency", "1"], shortEnv, undefined, out)
        .done;
      expect(r.code).toBe(0);
      expect(ofType(r.events, "retry").map((e) => e.code)).toContain("URL_EXPIRED");
      expect((await readFile(join(out, "expiring-download.bin"))).equals(bytes)).toBe(true);
    } finally {
      await proxy.close();
      await short.cleanup();
    }
  }, 120_000);
});
