import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkJava, startDynamoDbLocal } from "../../local/dynamodb.js";
import { spawnManaged } from "../../local/managed-process.js";
import { processInfo, readRegistry, reapOrphans, registryPath } from "../../local/pid-registry.js";
import { assertPortFree, getFreePort, waitForHttp } from "../../local/ports.js";
import { parseLocalStorage } from "../../local/s3-servers.js";
import { ensureSeaweedfs, type SeaweedfsProcess, startSeaweedfs } from "../../local/seaweedfs.js";
import { StackError } from "../../local/stack-error.js";
import { ensureVersitygw, startVersitygw } from "../../local/versitygw.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const tmpRoot = mkdtempSync(join(tmpdir(), "sfts-local-processes-"));
let dirCount = 0;
const freshDir = (label: string) => mkdtempSync(join(tmpRoot, `${label}-${++dirCount}-`));
/** A PATH that holds neither java nor go. */
const barePath = () => ({ ...process.env, PATH: freshDir("empty-path") });

afterAll(() => {
  rmSync(tmpRoot, { recursive: true, force: true });
});

async function listen(host: string, port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { server, port: address.port };
}

async function rejection(promise: Promise<unknown>): Promise<StackError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StackError);
  return err as StackError;
}

function isRunning(pid: number): boolean {
  const info = processInfo(pid);
  return info !== undefined && !info.zombie;
}

describe("ports", () => {
  it("assertPortFree names a taken port and gives the hint", async () => {
    const { server, port } = await listen("127.0.0.1");
    try {
      const err = await rejection(assertPortFree("127.0.0.1", port, "the API", "set SFTS_PORT or --port"));
      expect(err.message).toBe(`Port ${port} on 127.0.0.1 (needed for the API) is already in use`);
      expect(err.hint).toBe("set SFTS_PORT or --port");
    } finally {
      server.close();
    }
  });

  it("getFreePort returns a port that is free, and assertPortFree releases it again", async () => {
    const port = await getFreePort();
    await assertPortFree("127.0.0.1", port, "the test");
    const again = await listen("127.0.0.1", port); // the probe closed its server: the port binds
    again.server.close();
    expect(again.port).toBe(port);
  });

  it("waitForHttp fails at once with the log tail when the child exits", async () => {
    const port = await getFreePort();
    const logFile = join(freshDir("log"), "nested", "crash.log");
    const crash = await spawnManaged({
      name: "crasher",
      command: process.execPath,
      args: ["-e", "console.error('fatal: cannot open data dir'); process.exit(3)"],
      logFile,
    });
    const started = Date.now();
    const err = await rejection(
      waitForHttp(`http://127.0.0.1:${port}/`, {
        timeoutMs: 20_000,
        what: "crasher",
        child: crash.child,
        logFile,
        logFrom: crash.logFrom,
      }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.message).toMatch(/^crasher exited \(code 3\) before it answered/);
    expect(err.details).toContain("fatal: cannot open data dir");
    expect(err.hint).toContain(logFile);
  });

  it("waitForHttp gives up after the timeout", async () => {
    const port = await getFreePort();
    const err = await rejection(waitForHttp(`http://127.0.0.1:${port}/`, { timeoutMs: 300, what: "nobody" }));
    expect(err.message).toMatch(/^nobody did not answer on http:\/\/127\.0\.0\.1:\d+\/ within 0 s$/);
  });
});

describe("ManagedProcess", () => {
  it("stop() escalates to SIGKILL when SIGTERM is ignored, and is idempotent", async () => {
    const logFile = join(freshDir("log"), "stubborn.log");
    const stubborn = await spawnManaged({
      name: "stubborn",
      command: "sh",
      // An ignored signal stays ignored across exec.
      args: ["-c", "trap '' TERM; echo ready; exec sleep 600"],
      logFile,
      stopGraceMs: 300,
    });
    while (!(await stubborn.logTail()).includes("ready")) await new Promise((r) => setTimeout(r, 20));
    const [a, b] = [stubborn.stop(), stubborn.stop()];
    expect(a).toBe(b);
    await a;
    expect((await stubborn.exited).signal).toBe("SIGKILL");
    expect(isRunning(stubborn.pid)).toBe(false);
    await stubborn.stop();
  });

  it("reports a missing command as a StackError", async () => {
    const err = await rejection(
      spawnManaged({
        name: "ghost",
        command: "sfts-no-such-command",
        args: [],
        logFile: join(freshDir("log"), "g.log"),
      }),
    );
    expect(err.message).toBe("Could not start ghost: sfts-no-such-command was not found");
  });
});

describe("reapOrphans", () => {
  it("kills a recorded leftover whose parent is gone, and spares pids that run something else", async () => {
    const stateDir = freshDir("state");
    const marker = `sfts-orphan-${process.pid}-${Date.now()}`;
    // A real orphan: started in the background by a shell that exits at once.
    const orphanPid = Number(
      execFileSync("sh", [
        "-c",
        `"${process.execPath}" -e "setInterval(() => {}, 1000)" ${marker} >/dev/null 2>&1 & echo $!`,
      ])
        .toString()
        .trim(),
    );
    const deadOwner = spawnSync("true").pid;
    expect(isRunning(orphanPid)).toBe(true);
    const entry = (name: string, pid: number, cmdMarker: string) => ({
      name,
      pid,
      cmdMarker,
      ownerPid: deadOwner,
      startedAt: new Date().toISOString(),
    });
    writeFileSync(
      registryPath(stateDir),
      JSON.stringify([
        entry("DynamoDB Local", orphanPid, marker),
        // This pid is alive but runs vitest, not the recorded command: a reused pid.
        entry("versitygw", process.pid, "/no/such/versitygw"),
      ]),
    );

    const lines: string[] = [];
    const reaped = await reapOrphans(stateDir, { log: (line) => lines.push(line) });

    expect(reaped.map((e) => e.pid)).toEqual([orphanPid]);
    expect(isRunning(orphanPid)).toBe(false);
    expect(lines.join("\n")).toContain(`stopping DynamoDB Local (pid ${orphanPid})`);
    expect(readRegistry(stateDir)).toEqual([]);
  });

  it("leaves the processes of a live owner alone", async () => {
    const stateDir = freshDir("state");
    const sleeper = await spawnManaged({
      name: "sleeper",
      command: "sleep",
      args: ["600"],
      logFile: join(stateDir, "sleeper.log"),
      stateDir,
      cmdMarker: "sleep 600",
    });
    expect(readRegistry(stateDir).map((e) => e.pid)).toEqual([sleeper.pid]);
    expect(await reapOrphans(stateDir)).toEqual([]);
    expect(isRunning(sleeper.pid)).toBe(true);
    await sleeper.stop();
    expect(readRegistry(stateDir)).toEqual([]);
  });
});

describe("versitygw", () => {
  let binary: string;
  const credentials = { accessKeyId: "sfts-test-access", secretAccessKey: "sfts-test-secret-1234" };

  beforeAll(async () => {
    // The same cache `npm start` uses: built once per version, later runs find it.
    binary = await ensureVersitygw(join(repoRoot, ".cache"), (line) => console.log(line));
  }, 300_000);

  it("without go on PATH, building it is a StackError naming Go", async () => {
    const err = await rejection(ensureVersitygw(freshDir("cache"), () => {}, { env: barePath() }));
    expect(err.message).toMatch(/^Go is needed once to build the S3 emulator versitygw v1\.7\.0/);
    expect(err.hint).toMatch(/Go ≥ 1\.25/);
  });

  it("starts, answers a signed ListBuckets, and stops cleanly", async () => {
    const dataDir = freshDir("s3");
    const stateDir = freshDir("state");
    const port = await getFreePort();
    const gw = await startVersitygw({
      binary,
      host: "127.0.0.1",
      port,
      dataDir,
      accessKey: credentials.accessKeyId,
      secretKey: credentials.secretAccessKey,
      region: "us-east-1",
      logFile: join(stateDir, "logs", "versitygw.log"),
      stateDir,
    });
    try {
      expect(gw.endpoint).toBe(`http://127.0.0.1:${port}`);
      expect(processInfo(gw.pid)?.cmdline).not.toContain(credentials.secretAccessKey);
      expect(readRegistry(stateDir).map((e) => e.name)).toEqual(["versitygw"]);
      const s3 = new S3Client({
        endpoint: gw.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials,
      });
      await s3.send(new CreateBucketCommand({ Bucket: "sfts-local" }));
      const { Buckets } = await s3.send(new ListBucketsCommand({}));
      expect(Buckets?.map((b) => b.Name)).toEqual(["sfts-local"]);
      s3.destroy();
    } finally {
      await gw.stop();
    }
    expect(isRunning(gw.pid)).toBe(false);
    expect(readRegistry(stateDir)).toEqual([]);
  });

  it("refuses a taken port before starting anything", async () => {
    const { server, port } = await listen("127.0.0.1");
    try {
      const err = await rejection(
        startVersitygw({
          binary,
          host: "127.0.0.1",
          port,
          dataDir: freshDir("s3"),
          accessKey: "a",
          secretKey: "b",
          region: "us-east-1",
          logFile: join(freshDir("log"), "versitygw.log"),
          stateDir: freshDir("state"),
          portHint: "set SFTS_S3_PORT",
        }),
      );
      expect(err.message).toBe(
        `Port ${port} on 127.0.0.1 (needed for the S3 emulator versitygw) is already in use`,
      );
      expect(err.hint).toBe("set SFTS_S3_PORT");
    } finally {
      server.close();
    }
  });
});

describe("SeaweedFS", () => {
  let binary: string;
  const credentials = { accessKeyId: "sfts-test-access", secretAccessKey: "sfts-test-secret-1234" };
  const start = async (dataDir: string, stateDir: string, port?: number) =>
    startSeaweedfs({
      binary,
      host: "127.0.0.1",
      port: port ?? (await getFreePort()),
      dataDir,
      accessKey: credentials.accessKeyId,
      secretKey: credentials.secretAccessKey,
      logFile: join(stateDir, "logs", "seaweedfs.log"),
      stateDir,
      portHint: "set SFTS_S3_PORT",
    });
  const client = (gw: SeaweedfsProcess) =>
    new S3Client({ endpoint: gw.endpoint, region: "us-east-1", forcePathStyle: true, credentials });

  beforeAll(async () => {
    // The same cache `npm start` uses; a first build takes minutes (the test projects' global setup
    // normally did it already).
    binary = await ensureSeaweedfs(join(repoRoot, ".cache"), (line) => console.log(line));
  }, 900_000);

  it("without go on PATH, building it is a StackError naming Go and the version its go.mod needs", async () => {
    const err = await rejection(ensureSeaweedfs(freshDir("cache"), () => {}, { env: barePath() }));
    expect(err.message).toMatch(/^Go is needed once to build the S3 server SeaweedFS 4\.53/);
    expect(err.hint).toMatch(/Go ≥ 1\.26\.6/);
  });

  it("a build that cannot fetch the module is a StackError with the build log's tail, and leaves no binary", async () => {
    const cacheDir = freshDir("cache");
    const env = { ...process.env, GOPROXY: "off", GOMODCACHE: freshDir("modcache"), GOFLAGS: "-modcacherw" };
    const err = await rejection(ensureSeaweedfs(cacheDir, () => {}, { env }));
    expect(err.message).toBe("Building SeaweedFS 4.53 with `go mod download` and `go build` failed (exit 1)");
    expect(err.details).toContain("GOPROXY=off");
    expect(err.hint).toContain(join(cacheDir, "seaweedfs-v0.0.0-20261109003541-7506e5f91cd6-build.log"));
    expect(existsSync(join(cacheDir, "seaweedfs-v0.0.0-20261109003541-7506e5f91cd6"))).toBe(false);
  });

  it("an unknown server name is refused with the flag's name", () => {
    expect(() => parseLocalStorage("minio", "--storage")).toThrow(
      '--storage must be one of versitygw, seaweedfs, not "minio"',
    );
    expect(parseLocalStorage("seaweedfs", "--storage")).toBe("seaweedfs");
  });

  it("starts with every internal listener on a port of its own, checks signatures, keeps objects across a restart, and stops cleanly", async () => {
    const dataDir = freshDir("seaweedfs");
    const stateDir = freshDir("state");
    const first = await start(dataDir, stateDir);
    const internal = Object.values(first.ports);
    const s3Port = Number(new URL(first.endpoint).port);
    try {
      // Nine listeners besides S3, all distinct, none on mini's defaults, all taken by it now.
      expect(new Set([s3Port, ...internal]).size).toBe(10);
      for (const p of [9333, 9340, 8888, 8333, 12535, 7333, 8181, 9101, 23646])
        expect(internal).not.toContain(p);
      const listening = async (p: number) =>
        assertPortFree("127.0.0.1", p, "x").then(
          () => false,
          () => true,
        );
      const free = [];
      for (const [flag, p] of Object.entries(first.ports)) if (!(await listening(p))) free.push(flag);
      expect(free).toEqual([]);
      expect(processInfo(first.pid)?.cmdline).not.toContain(credentials.secretAccessKey);
      expect(readRegistry(stateDir).map((e) => e.name)).toEqual(["seaweedfs"]);

      const s3 = client(first);
      await s3.send(new CreateBucketCommand({ Bucket: "sfts-local" }));
      await s3.send(new PutObjectCommand({ Bucket: "sfts-local", Key: "kept.txt", Body: "kept" }));
      const { Buckets } = await s3.send(new ListBucketsCommand({}));
      expect(Buckets?.map((b) => b.Name)).toEqual(["sfts-local"]);
      s3.destroy();
      // A wrong secret is refused: the gateway checks SigV4.
      const wrong = new S3Client({
        endpoint: first.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { ...credentials, secretAccessKey: "not-the-secret" },
      });
      const refused = await wrong.send(new ListBucketsCommand({})).then(
        () => undefined,
        (e: unknown) => e as { name?: string },
      );
      wrong.destroy();
      expect(refused?.name).toBe("SignatureDoesNotMatch");
    } finally {
      await first.stop();
    }
    expect(isRunning(first.pid)).toBe(false);
    expect(readRegistry(stateDir)).toEqual([]);
    for (const p of [s3Port, ...internal]) await assertPortFree("127.0.0.1", p, "a port SeaweedFS used");
    // Nor does it leave its gRPC sockets in /tmp (named after our ports).
    expect(existsSync(`/tmp/seaweedfs-admin-grpc-${first.ports["admin.port.grpc"]}.sock`)).toBe(false);

    // Over the same data it takes the same internal ports (the master's state is named after its port).
    const second = await start(dataDir, stateDir, s3Port);
    try {
      expect(second.ports).toEqual(first.ports);
      const s3 = client(second);
      const got = await s3.send(new GetObjectCommand({ Bucket: "sfts-local", Key: "kept.txt" }));
      expect(await got.Body?.transformToString()).toBe("kept");
      s3.destroy();
    } finally {
      await second.stop();
    }
  }, 120_000);

  it("refuses a taken S3 port, and a taken kept port, before starting anything", async () => {
    const { server, port } = await listen("127.0.0.1");
    try {
      const err = await rejection(start(freshDir("seaweedfs"), freshDir("state"), port));
      expect(err.message).toBe(
        `Port ${port} on 127.0.0.1 (needed for the S3 server SeaweedFS) is already in use`,
      );
      expect(err.hint).toBe("set SFTS_S3_PORT");
    } finally {
      server.close();
    }

    const dataDir = freshDir("seaweedfs");
    const stateDir = freshDir("state");
    const gw = await start(dataDir, stateDir);
    await gw.stop();
    const blocker = await listen("127.0.0.1", gw.ports["filer.port"]);
    try {
      const err = await rejection(start(dataDir, stateDir));
      expect(err.message).toBe(
        `Port ${gw.ports["filer.port"]} on 127.0.0.1 (needed for SeaweedFS's filer.port, kept from its first start over ${dataDir}) is already in use`,
      );
      expect(err.hint).toContain(`delete ${dataDir}`);
      expect(readRegistry(stateDir)).toEqual([]);
    } finally {
      blocker.server.close();
    }
  }, 120_000);
});

describe("DynamoDB Local", () => {
  it("without java on PATH, it is a StackError naming Java 17", async () => {
    const err = await rejection(checkJava(barePath()));
    expect(err.message).toMatch(/^Java 17\+ is needed to run DynamoDB Local/);
    expect(err.hint).toContain("openjdk-17-jre-headless");
  });

  it("keeps a table across stop and start with the same data folder", async () => {
    const dataDir = freshDir("dynamodb");
    const stateDir = freshDir("state");
    const start = async () =>
      startDynamoDbLocal({
        host: "127.0.0.1",
        port: await getFreePort(),
        dataDir,
        logFile: join(stateDir, "logs", "dynamodb.log"),
        stateDir,
      });
    const client = (endpoint: string) =>
      new DynamoDBClient({
        endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      });

    const first = await start();
    try {
      expect(readRegistry(stateDir).map((e) => e.pid)).toEqual([first.pid]);
      const ddb = client(first.endpoint);
      await ddb.send(
        new CreateTableCommand({
          TableName: "sfts-transfers",
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            { AttributeName: "PK", AttributeType: "S" },
            { AttributeName: "SK", AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "PK", KeyType: "HASH" },
            { AttributeName: "SK", KeyType: "RANGE" },
          ],
        }),
      );
      ddb.destroy();
    } finally {
      await first.stop();
    }
    expect(isRunning(first.pid)).toBe(false);

    const second = await start();
    try {
      const ddb = client(second.endpoint);
      const { TableNames } = await ddb.send(new ListTablesCommand({}));
      expect(TableNames).toEqual(["sfts-transfers"]);
      ddb.destroy();
    } finally {
      await second.stop();
    }
    expect(readRegistry(stateDir)).toEqual([]);
  });
});
