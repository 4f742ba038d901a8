/**
 * The local stack: an S3 server (versitygw, or SeaweedFS with `storage: "seaweedfs"`) + DynamoDB Local +
 * the coordinator API on one machine, no AWS account. `npm start` and the test suite both start it through
 * `startStack`; only ports, folders and the S3 server differ. The coordinator runs under the server's
 * storage profile (SFTS_STORAGE_PROFILE) unless the caller names another one (`profile`).
 */

import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import type { LocalStackInfo } from "../cli/engine/paths.js";
import type { DynamoCall } from "../functions/adapters/clients.js";
import { type AppConfig, loadConfig } from "../functions/api/config.js";
import { createCoordinator } from "../functions/api/coordinator.js";
import { createLogger } from "../functions/api/logger.js";
import type { StorageProbe, StorageProfileName } from "../functions/contract/storage.js";
import { ensureBucket, ensureDevKey, ensureTable } from "./bootstrap.js";
import { startDynamoDbLocal } from "./dynamodb.js";
import type { ManagedProcess } from "./managed-process.js";
import { reapOrphans } from "./pid-registry.js";
import { assertPortFree, hostPort } from "./ports.js";
import { LOCAL_S3_SERVERS, type LocalStorage } from "./s3-servers.js";
import { SEAWEEDFS_VERSION } from "./seaweedfs.js";
import { StackError } from "./stack-error.js";
import { VERSITYGW_VERSION } from "./versitygw.js";
import { defaultWebDir, withDashboard } from "./web-static.js";

export const DYNAMODB_LOCAL_VERSION = "3.3.1";

export interface StackOptions {
  host: string;
  apiPort: number;
  s3Port: number;
  dynamodbPort: number;
  /** S3 objects, DynamoDB files, logs and the dev token live here. */
  dataDir: string;
  /** Built tools (versitygw, SeaweedFS) are cached here. */
  cacheDir: string;
  /** The S3 server (default versitygw). */
  storage?: LocalStorage;
  /** The coordinator's storage profile (SFTS_STORAGE_PROFILE); default the server's own. */
  profile?: StorageProfileName;
  /** More coordinator settings (e.g. SFTS_ALLOW_UNVERIFIED_STORAGE), applied last. */
  coordinatorEnv?: Record<string, string>;
  bucket: string;
  table: string;
  /** Where to write the API address and token for the CLI (LocalStackInfo JSON); none if undefined. */
  clientInfoFile?: string | undefined;
  /** Progress lines for a person. */
  log: (line: string) => void;
  /** Presigned URL lifetime; tests shorten it. */
  presignExpiresSeconds?: number;
  /** Download URL lifetime; tests shorten it. */
  downloadExpiresSeconds?: number;
  /** Extra origins allowed by the bucket's CORS rules. */
  corsOrigins?: string[];
  /** Address put in presigned URLs when clients reach storage another way (tests: a fault proxy). */
  s3PublicEndpoint?: string;
  /** The built dashboard served at `/` (default: web/dist in the repository). */
  webDir?: string;
  /** Requests per second and burst per API key (SFTS_RATE_LIMIT, SFTS_RATE_BURST); the config's defaults if absent. */
  rateLimit?: { perSecond: number; burst: number };
  /** Told about every request the coordinator sends to DynamoDB (benchmarks count writes with it). */
  onDynamoCall?: (call: DynamoCall) => void;
  /** How long advisory counters wait in process (SFTS_STATS_FLUSH_MS); tests use 0 (written at once). */
  statsFlushMs?: number;
}

export interface RunningStack {
  /** The S3 server that runs (the coordinator's profile is `config.storage.profile`). */
  storage: LocalStorage;
  /** What the storage probe found at start (the stack runs only on storage that serves). */
  storageProbe: StorageProbe;
  apiUrl: string;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  bucket: string;
  table: string;
  token: string;
  s3Credentials: { accessKeyId: string; secretAccessKey: string };
  /** The environment the coordinator was configured from (what a Lambda would get). */
  env: Record<string, string>;
  config: AppConfig;
  logFiles: { api: string; s3: string; dynamodb: string };
  /** Closes only the HTTP server (storage and table keep running): clients see the API go away. */
  stopApi(): Promise<void>;
  /** Listens again on the same address after stopApi(). */
  startApi(): Promise<void>;
  /**
   * Stops one emulator (SIGKILL with `kill`, else a clean stop), waits `downMs`, and starts it again on
   * the same port over the same data: what a storage or table outage looks like to the coordinator.
   */
  restartService(service: "s3" | "dynamodb", options?: { kill?: boolean; downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/** Fixed local credentials: the S3 server runs on loopback for this machine only. */
const S3_ACCESS_KEY = "sfts-local";
const S3_SECRET_KEY = "sfts-local-secret";

async function writeAtomic(file: string, text: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}

/**
 * The table of a data folder names objects of one S3 server: a folder first used with one server is
 * refused to another (a folder from before this marker, with an `s3` folder, is versitygw's).
 */
async function claimDataDir(dataDir: string, storage: LocalStorage): Promise<void> {
  const marker = join(dataDir, "s3-server");
  const recorded = await readFile(marker, "utf8").then(
    (s) => s.trim(),
    () => (existsSync(join(dataDir, "s3")) ? "versitygw" : undefined),
  );
  if (recorded !== undefined && recorded !== storage) {
    const theirs = LOCAL_S3_SERVERS[recorded as LocalStorage]?.label ?? recorded;
    throw new StackError(
      `${dataDir} holds the data of a stack on ${theirs}; its table names objects that ${LOCAL_S3_SERVERS[storage].label} does not have`,
      {
        hint: `start it with --storage ${recorded}, or choose another data folder (--data-dir / SFTS_DATA_DIR)`,
      },
    );
  }
  if (recorded === undefined) await writeAtomic(marker, `${storage}\n`, 0o644);
}

export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const { host } = opts;
  const logs = join(opts.dataDir, "logs");
  await mkdir(logs, { recursive: true });
  const stateDir = opts.dataDir;
  await reapOrphans(stateDir);
  await claimDataDir(opts.dataDir, opts.storage ?? "versitygw");

  // Fail on a taken API port before spending time on the emulators.
  await assertPortFree(host, opts.apiPort, "the SFTS API", "set SFTS_PORT (or --port) to another port");

  const started: ManagedProcess[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.map((p) => p.stop()));
  };
  try {
    const storage = opts.storage ?? "versitygw";
    const s3Server = LOCAL_S3_SERVERS[storage];
    const profile = opts.profile ?? s3Server.profile;
    opts.log(`S3 server: ${s3Server.label} ${s3Server.version} (storage profile ${profile})`);
    const binary = await s3Server.ensure(opts.cacheDir, opts.log);
    const logFiles = {
      api: join(logs, "api.log"),
      s3: join(logs, s3Server.logName),
      dynamodb: join(logs, "dynamodb.log"),
    };
    const startS3 = () =>
      s3Server
        .start({
          binary,
          host,
          port: opts.s3Port,
          dataDir: join(opts.dataDir, "s3"),
          accessKey: S3_ACCESS_KEY,
          secretKey: S3_SECRET_KEY,
          region: "us-east-1",
          logFile: logFiles.s3,
          stateDir,
          portHint: "set SFTS_S3_PORT (or --s3-port) to another port",
        })
        .then((p) => {
          started.push(p);
          return p;
        });
    const startDdb = () =>
      startDynamoDbLocal({
        host,
        port: opts.dynamodbPort,
        dataDir: join(opts.dataDir, "dynamodb"),
        logFile: logFiles.dynamodb,
        stateDir,
        portHint: "set SFTS_DYNAMODB_PORT (or --dynamodb-port) to another port",
      }).then((p) => {
        started.push(p);
        return p;
      });
    const [s3, ddb] = await Promise.all([startS3(), startDdb()]);
    const services: Record<"s3" | "dynamodb", ManagedProcess> = { s3, dynamodb: ddb };
    const restarts: Record<"s3" | "dynamodb", Promise<void>> = {
      s3: Promise.resolve(),
      dynamodb: Promise.resolve(),
    };

    const env: Record<string, string> = {
      SFTS_BUCKET: opts.bucket,
      SFTS_TABLE: opts.table,
      SFTS_REGION: "us-east-1",
      SFTS_S3_ENDPOINT: s3.endpoint,
      SFTS_S3_FORCE_PATH_STYLE: "true",
      SFTS_S3_ACCESS_KEY_ID: S3_ACCESS_KEY,
      SFTS_S3_SECRET_ACCESS_KEY: S3_SECRET_KEY,
      SFTS_DYNAMODB_ENDPOINT: ddb.endpoint,
      SFTS_STORAGE_PROFILE: profile,
      ...(opts.downloadExpiresSeconds !== undefined && {
        SFTS_DOWNLOAD_EXPIRES: String(opts.downloadExpiresSeconds),
      }),
      ...(opts.presignExpiresSeconds !== undefined && {
        SFTS_PRESIGN_EXPIRES: String(opts.presignExpiresSeconds),
      }),
      ...(opts.s3PublicEndpoint !== undefined && { SFTS_S3_PUBLIC_ENDPOINT: opts.s3PublicEndpoint }),
      ...(opts.statsFlushMs !== undefined && { SFTS_STATS_FLUSH_MS: String(opts.statsFlushMs) }),
      ...(opts.rateLimit !== undefined && {
        SFTS_RATE_LIMIT: String(opts.rateLimit.perSecond),
        SFTS_RATE_BURST: String(opts.rateLimit.burst),
      }),
      ...opts.coordinatorEnv,
    };
    const config = loadConfig(env);
    const apiLog = createWriteStream(logFiles.api, { flags: "a" });
    const coordinator = createCoordinator(
      config,
      // A request still running when the stack stops may log after the file is closed: drop that line.
      createLogger((line) => {
        if (!apiLog.writableEnded) apiLog.write(`${line}\n`);
      }),
      opts.onDynamoCall ? { onDynamoCall: opts.onDynamoCall } : {},
    );
    const { adapters, app } = coordinator;

    const apiUrl = `http://${hostPort(host, opts.apiPort)}`;
    await ensureBucket(adapters.s3, opts.bucket, [
      apiUrl,
      `http://localhost:${opts.apiPort}`,
      ...(opts.corsOrigins ?? []),
    ]);
    await ensureTable(adapters.dynamodb, opts.table);
    const tokenFile = join(opts.dataDir, "dev-token");
    const previous = await readFile(tokenFile, "utf8").then(
      (s) => s.trim(),
      () => undefined,
    );
    const token = await ensureDevKey(adapters.repo, previous);
    if (token !== previous) await writeAtomic(tokenFile, `${token}\n`);

    // The probe runs on every start (the table keeps the result for this configuration): the stack serves
    // only storage that refused damaged bytes, or storage allowed unverified (SFTS_ALLOW_UNVERIFIED_STORAGE=1).
    const storageInfo = await coordinator.storage.ensure({ fresh: true });
    opts.log(`storage probe: ${storageInfo.probe.state}: ${storageInfo.probe.message}`);
    if (!storageInfo.serving) {
      throw new StackError(
        `The coordinator will not serve transfers on this storage (${storageInfo.label})`,
        {
          details: coordinator.storage.sentence(),
          hint:
            storageInfo.probe.state === "failed"
              ? `see ${logFiles.s3} and ${logFiles.api}`
              : "choose the profile that matches the store (SFTS_STORAGE_PROFILE), or set SFTS_ALLOW_UNVERIFIED_STORAGE=1 to serve it unverified",
        },
      );
    }

    const handler = withDashboard(app.fetch, opts.webDir ?? defaultWebDir(import.meta.dirname));
    const listen = (port: number) =>
      new Promise<ServerType>((resolve, reject) => {
        // Long query strings reach the app (which answers 400) instead of Node's bare 431.
        const s = serve(
          { fetch: handler, hostname: host, port, serverOptions: { maxHeaderSize: 64 * 1024 } },
          () => resolve(s),
        );
        s.once("error", (err: NodeJS.ErrnoException) =>
          reject(
            err.code === "EADDRINUSE"
              ? new StackError(`Port ${port} on ${host} (needed for the SFTS API) is already in use`, {
                  hint: "set SFTS_PORT (or --port) to another port",
                })
              : err,
          ),
        );
      });
    const close = (s: ServerType) =>
      new Promise<void>((resolve) => {
        s.close(() => resolve());
        (s as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    let server: ServerType | undefined = await listen(opts.apiPort);
    const port = (server.address() as AddressInfo).port;
    const info: LocalStackInfo = {
      server: `http://${hostPort(host, port)}`,
      token,
      startedAt: new Date().toISOString(),
      pid: process.pid,
    };
    if (opts.clientInfoFile) await writeAtomic(opts.clientInfoFile, `${JSON.stringify(info, null, 2)}\n`);

    let stopping: Promise<void> | undefined;
    return {
      storage,
      storageProbe: storageInfo.probe,
      apiUrl: info.server,
      s3Endpoint: s3.endpoint,
      dynamodbEndpoint: ddb.endpoint,
      bucket: opts.bucket,
      table: opts.table,
      token,
      s3Credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
      env,
      config,
      logFiles,
      async stopApi() {
        const s = server;
        server = undefined;
        if (s) await close(s);
      },
      async startApi() {
        if (stopping) throw new Error("the stack is stopping");
        server ??= await listen(port);
      },
      restartService(service, { kill = false, downMs = 0 } = {}) {
        if (stopping) return Promise.reject(new Error("the stack is stopping"));
        // One restart of a service at a time: a second one waits for the first to finish.
        const next = restarts[service].then(async () => {
          const old = services[service];
          if (kill) {
            old.child.kill("SIGKILL");
            await old.exited;
          } else {
            await old.stop();
          }
          started.splice(started.indexOf(old), 1);
          if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
          services[service] = await (service === "s3" ? startS3() : startDdb());
        });
        restarts[service] = next.catch(() => {});
        return next;
      },
      stop() {
        stopping ??= (async () => {
          const s = server;
          server = undefined;
          if (s) await close(s);
          await coordinator.service.flushStats();
          adapters.destroy();
          await stopAll();
          await new Promise<void>((resolve) => apiLog.end(() => resolve()));
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export const STACK_VERSIONS = {
  versitygw: VERSITYGW_VERSION,
  seaweedfs: SEAWEEDFS_VERSION,
  dynamodbLocal: DYNAMODB_LOCAL_VERSION,
};
