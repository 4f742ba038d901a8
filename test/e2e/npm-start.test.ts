import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFreePort } from "../../local/ports.js";
import { apiClient, initTransfer, planParts, randomFile, sendParts, sha256 } from "../helpers/api.js";
import { repoRoot } from "../helpers/build.js";

const START = join(repoRoot, "dist", "local", "start.js");

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(process.execPath, [START, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

async function waitFor(cond: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let dir: string;
let ports: { api: number; s3: number; ddb: number };
const envFor = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  XDG_STATE_HOME: join(dir, "state"),
  SFTS_DATA_DIR: join(dir, "data"),
  SFTS_PORT: String(ports.api),
  SFTS_S3_PORT: String(ports.s3),
  SFTS_DYNAMODB_PORT: String(ports.ddb),
  ...extra,
});
const hasNoStackTrace = (s: string) => !/\n\s+at .+:\d+:\d+/.test(s);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sfts-npm-start-"));
  ports = { api: await getFreePort(), s3: await getFreePort(), ddb: await getFreePort() };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("npm start", () => {
  let firstToken: string;
  let fileId: string;
  const data = randomFile(1500);

  it("starts storage, table and API, prints the addresses and a token, and saves them for the CLI", async () => {
    const r = run([], envFor());
    try {
      await waitFor(() => r.out().includes("Press Ctrl-C to stop."), 90_000, "the stack to start");
      const out = r.out();
      expect(out).toContain(`API        http://127.0.0.1:${ports.api}`);
      expect(out).toContain(`S3         http://127.0.0.1:${ports.s3}`);
      expect(out).toContain(`DynamoDB   http://127.0.0.1:${ports.ddb}`);
      firstToken = /API token {2}(sfts_\S+)/.exec(out)?.[1] ?? "";
      expect(firstToken).toMatch(/^sfts_[A-Za-z0-9_-]{43}$/);
      const saved = JSON.parse(await readFile(join(dir, "state", "sfts", "local-stack.json"), "utf8"));
      expect(saved).toMatchObject({ server: `http://127.0.0.1:${ports.api}`, token: firstToken });

      // A full upload with plain HTTP against the printed address.
      const info = { apiUrl: `http://127.0.0.1:${ports.api}`, token: firstToken } as never;
      const api = apiClient(info);
      fileId = (await initTransfer(api, data, { name: "kept.bin" })).transferId;
      await sendParts(api, fileId, data, planParts(data, [data.length]));
      expect((await api.post(`/assemble/${fileId}`)).status).toBe(200);
    } finally {
      r.child.kill("SIGINT");
    }
    expect(await r.exited).toBe(0);
    expect(r.out()).toContain("Stopped.");
    // Nothing left behind: the registry of started processes is empty and the ports are free again.
    const registry = join(dir, "data", "pids.json");
    if (existsSync(registry)) expect(JSON.parse(await readFile(registry, "utf8"))).toEqual([]);
    for (const p of Object.values(ports)) await expect(canListen(p)).resolves.toBe(true);
  }, 120_000);

  it("keeps state across a restart: same token, same files", async () => {
    const r = run([], envFor());
    try {
      await waitFor(() => r.out().includes("Press Ctrl-C to stop."), 60_000, "the stack to start again");
      expect(r.out()).toContain(firstToken);
      const api = apiClient({ apiUrl: `http://127.0.0.1:${ports.api}`, token: firstToken } as never);
      const d = await api.get(`/download/${fileId}?redirect=false`);
      expect(d.status).toBe(200);
      expect(sha256(Buffer.from(await (await fetch(d.body.url)).arrayBuffer()))).toBe(sha256(data));
    } finally {
      r.child.kill("SIGTERM");
    }
    expect(await r.exited).toBe(0);
  }, 90_000);

  it("a taken API port is one clear message and exit 1, before anything starts", async () => {
    const blocker = await listen(ports.api);
    try {
      const r = run([], envFor());
      expect(await r.exited).toBe(1);
      expect(r.err()).toContain(`Port ${ports.api} on 127.0.0.1 (needed for the SFTS API) is already in use`);
      expect(r.err()).toContain("hint: set SFTS_PORT");
      expect(hasNoStackTrace(r.err())).toBe(true);
    } finally {
      blocker.close();
    }
  }, 30_000);

  it("a missing Java is one clear message and exit 1, and nothing is left running", async () => {
    const r = run(
      [],
      envFor({ PATH: dirname(process.execPath) === "/usr/bin" ? "/nonexistent" : dirname(process.execPath) }),
    );
    expect(await r.exited).toBe(1);
    expect(r.err()).toMatch(/Java 17\+ is needed to run DynamoDB Local/);
    expect(hasNoStackTrace(r.err())).toBe(true);
    await expect(canListen(ports.s3)).resolves.toBe(true);
  }, 30_000);

  it("--storage seaweedfs runs the stack on SeaweedFS under its profile, and an upload through it completes", async () => {
    const r = run(["--storage", "seaweedfs"], envFor({ SFTS_DATA_DIR: join(dir, "data-seaweedfs") }));
    try {
      await waitFor(
        () => r.out().includes("Press Ctrl-C to stop."),
        120_000,
        "the stack on SeaweedFS to start",
      );
      const out = r.out();
      expect(out).toContain("S3 server: SeaweedFS 4.53 (storage profile seaweedfs)");
      expect(out).toMatch(
        new RegExp(
          `S3 {9}http://127\\.0\\.0\\.1:${ports.s3} {3}\\(SeaweedFS 4\\.53, bucket sfts-local, storage profile seaweedfs\\)`,
        ),
      );
      expect(out).toMatch(/Probe {6}verified: /);
      const token = /API token {2}(sfts_\S+)/.exec(out)?.[1] ?? "";
      const api = apiClient({ apiUrl: `http://127.0.0.1:${ports.api}`, token } as never);
      const health = await api.get("/health");
      expect(health.body.storage).toMatchObject({ profile: "seaweedfs", probe: "verified", serving: true });
      const id = (await initTransfer(api, data, { name: "on-seaweedfs.bin" })).transferId;
      await sendParts(api, id, data, planParts(data, [data.length]));
      expect((await api.post(`/assemble/${id}`)).status).toBe(200);
      const d = await api.get(`/download/${id}?redirect=false`);
      expect(sha256(Buffer.from(await (await fetch(d.body.url)).arrayBuffer()))).toBe(sha256(data));
    } finally {
      r.child.kill("SIGINT");
    }
    expect(await r.exited).toBe(0);
    expect(r.out()).toContain("Stopped.");
    const registry = join(dir, "data-seaweedfs", "pids.json");
    if (existsSync(registry)) expect(JSON.parse(await readFile(registry, "utf8"))).toEqual([]);
    for (const p of Object.values(ports)) await expect(canListen(p)).resolves.toBe(true);
  }, 180_000);

  it("a data folder belongs to one S3 server: SeaweedFS over versitygw's data is refused before anything starts", async () => {
    const r = run([], envFor({ SFTS_STORAGE: "seaweedfs" }));
    expect(await r.exited).toBe(1);
    expect(r.err()).toContain(`${join(dir, "data")} holds the data of a stack on versitygw`);
    expect(r.err()).toContain("hint: start it with --storage versitygw, or choose another data folder");
    expect(hasNoStackTrace(r.err())).toBe(true);
    await expect(canListen(ports.s3)).resolves.toBe(true);
  }, 30_000);

  it("an unknown S3 server is refused with the flag's or the variable's name (the flag wins)", async () => {
    const byVariable = run([], envFor({ SFTS_STORAGE: "minio" }));
    expect(await byVariable.exited).toBe(1);
    expect(byVariable.err()).toContain('SFTS_STORAGE must be one of versitygw, seaweedfs, not "minio"');
    const byFlag = run(["--storage", "s3rver"], envFor({ SFTS_STORAGE: "seaweedfs" }));
    expect(await byFlag.exited).toBe(1);
    expect(byFlag.err()).toContain('--storage must be one of versitygw, seaweedfs, not "s3rver"');
    expect(hasNoStackTrace(byFlag.err())).toBe(true);
  });

  it("a bad port value is refused with the variable's name", async () => {
    const r = run(["--port", "70000"], envFor());
    expect(await r.exited).toBe(1);
    expect(r.err()).toContain("--port / SFTS_PORT must be a port number from 1 to 65535");
  });
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve(s));
  });
}

async function canListen(port: number): Promise<boolean> {
  try {
    (await listen(port)).close();
    return true;
  } catch {
    return false;
  }
}
