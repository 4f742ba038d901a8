/**
 * SeaweedFS, the second, independent S3 server of the local stack (`weed mini`: master, volume server,
 * filer and S3 gateway in one process). Built once into the cache from a pinned module version: its
 * go.mod has `replace` directives, so `go install …@version` refuses it; instead `go mod download -json`
 * fetches that exact module and `go build ./weed` runs in the downloaded folder.
 *
 * Ports: S3 is on the given port; mini also opens master, volume, filer, S3 gRPC and admin (HTTP and gRPC)
 * listeners (by default 9333, 9340, 8888, 8333, 12535 and each +10000 for gRPC, plus WebDAV 7333,
 * Iceberg 8181, Lance 9101 and a legacy admin port 23646/33646). The extras are turned off; the other
 * nine get free ports of their own, so several stacks run side by side. They are kept in
 * `<dataDir>/ports.json` and reused on the next start over the same data: the master keeps its state
 * in a folder named after its port (`m<port>`), and a master started afresh freezes volume growth.
 * mini also puts gRPC sockets in /tmp named after these ports (`/tmp/seaweedfs-*-<port>.sock`).
 *
 * Credentials: one identity with the stack's key and admin actions, in `<dataDir>/identities.json`
 * (-s3.config; never on the command line). Logs go to the stack's log file (-logtostderr), not /tmp.
 * CORS: a bucket's own CORS configuration is enforced (a preflight from an origin it does not list gets
 * 403); a bucket without one allows every origin (-s3.allowedOrigins defaults to `*`).
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureGoBinary, type GoBuildSpec, goBinaryPath } from "./go-build.js";
import { type ManagedProcess, spawnManaged } from "./managed-process.js";
import { assertPortFree, getFreePort, hostPort, waitForHttp, waitForPort } from "./ports.js";
import type { S3StartOptions } from "./s3-servers.js";

/** What `weed version` says of the pinned module version below. */
export const SEAWEEDFS_VERSION = "4.53";
/** The pseudo-version the Go module proxy serves for SeaweedFS 4.53 (its tags are not module versions). */
export const SEAWEEDFS_MODULE_VERSION = "v0.0.0-20261109003541-7506e5f91cd6";
const SEAWEEDFS_MODULE = "github.com/seaweedfs/seaweedfs";

interface ModuleDownload {
  Dir?: string;
  Error?: string;
}

const BUILD: GoBuildSpec = {
  what: `the S3 server SeaweedFS ${SEAWEEDFS_VERSION}`,
  short: `SeaweedFS ${SEAWEEDFS_VERSION}`,
  folder: `seaweedfs-${SEAWEEDFS_MODULE_VERSION}`,
  binaryName: "weed",
  /** Its go.mod says `go 1.26.6`: an older Go of 1.21 or later fetches that toolchain (GOTOOLCHAIN=auto). */
  goNeeded: "Go ≥ 1.26.6 (or Go ≥ 1.21 with GOTOOLCHAIN=auto)",
  expected: "~3–8 min",
  command: "go mod download` and `go build",
  async build({ run, note, outDir, env }) {
    // No workspace or vendor folder of the caller may take part: the module builds as it was published.
    const goEnv = { ...env, GOWORK: "off" };
    await run(["version"], { env: goEnv });
    const stdout: string[] = [];
    const downloaded = await run(
      ["mod", "download", "-json", `${SEAWEEDFS_MODULE}@${SEAWEEDFS_MODULE_VERSION}`],
      {
        env: goEnv,
        stdout,
      },
    );
    const text = stdout.join("");
    note(text);
    let info: ModuleDownload = {};
    try {
      info = JSON.parse(text) as ModuleDownload;
    } catch {
      // the exit code and the log say what went wrong
    }
    if (downloaded !== 0 || info.Dir === undefined) {
      if (info.Error !== undefined) note(`go mod download: ${info.Error}`);
      return downloaded === 0 ? 1 : downloaded;
    }
    // -mod=readonly: the downloaded folder is read-only and its go.sum is complete; -s -w drops debug info.
    const exit = await run(
      ["build", "-mod=readonly", "-ldflags=-s -w", "-o", join(outDir, "weed"), "./weed"],
      {
        cwd: info.Dir,
        env: goEnv,
      },
    );
    if (exit !== 0) return exit;
    const said = await runVersion(join(outDir, "weed"));
    note(`weed version: ${said}`);
    if (!said.includes(` ${SEAWEEDFS_VERSION} `)) {
      note(
        `expected SeaweedFS ${SEAWEEDFS_VERSION} from ${SEAWEEDFS_MODULE_VERSION}; the pin and its label disagree`,
      );
      return 1;
    }
    return 0;
  },
};

function runVersion(weed: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(weed, ["version"], { timeout: 10_000 }, (err, stdout) =>
      resolve(err ? `failed: ${err.message}` : stdout.trim()),
    );
  });
}

/** Where `ensureSeaweedfs` puts the binary. */
export function seaweedfsBinaryPath(cacheDir: string): string {
  return goBinaryPath(cacheDir, BUILD);
}

/** The path of the pinned `weed` binary, built on first use (see go-build.ts for the cache). */
export function ensureSeaweedfs(
  cacheDir: string,
  log: (line: string) => void,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return ensureGoBinary(cacheDir, BUILD, log, options);
}

/** mini's listeners besides S3's own, each given its own port (flag name → port). */
const INTERNAL_PORT_FLAGS = [
  "master.port",
  "master.port.grpc",
  "volume.port",
  "volume.port.grpc",
  "filer.port",
  "filer.port.grpc",
  "s3.port.grpc",
  "admin.port",
  "admin.port.grpc",
] as const;
type InternalPorts = Record<(typeof INTERNAL_PORT_FLAGS)[number], number>;

/** SeaweedFS takes any region in a signature; it has no region flag. */
export interface SeaweedfsOptions extends Omit<S3StartOptions, "region"> {
  /** mini's -dir (volumes, filer metadata, master state), the identities file and ports.json; created if missing. */
  dataDir: string;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export type SeaweedfsProcess = ManagedProcess & { endpoint: string; ports: InternalPorts };

/** Starts `weed mini` with S3 on host:port and resolves once S3 answers HTTP. */
export async function startSeaweedfs(options: SeaweedfsOptions): Promise<SeaweedfsProcess> {
  const { binary, host, port, dataDir } = options;
  await assertPortFree(host, port, "the S3 server SeaweedFS", options.portHint);
  await mkdir(dataDir, { recursive: true });
  const ports = await internalPorts(host, port, dataDir);
  const identities = join(dataDir, "identities.json");
  await writeFile(
    identities,
    `${JSON.stringify(
      {
        identities: [
          {
            name: "sfts",
            credentials: [{ accessKey: options.accessKey, secretKey: options.secretKey }],
            actions: ["Admin", "Read", "Write", "List", "Tagging"],
          },
        ],
      },
      null,
      2,
    )}\n`,
    { mode: 0o600 },
  );

  const endpoint = `http://${hostPort(host, port)}`;
  const args = [
    // Global flags: glog writes files under /tmp unless told to use stderr (our log file).
    "-logtostderr=true",
    "mini",
    `-dir=${dataDir}`,
    `-s3.config=${identities}`,
    `-ip=${host}`,
    `-ip.bind=${host}`,
    `-s3.port=${port}`,
    ...INTERNAL_PORT_FLAGS.map((flag) => `-${flag}=${ports[flag]}`),
    "-admin.port.legacy=0",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    "-webdav=false",
    "-admin.ui=false",
    // It would report to telemetry.seaweedfs.com otherwise.
    "-master.telemetry=false",
  ];
  const env = { ...(options.env ?? process.env) };
  // mini makes an extra identity (and a bucket) from these when set; ours is the identities file.
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_BUCKET", "S3_TABLE_BUCKET"])
    delete env[name];
  const managed = await spawnManaged({
    name: "seaweedfs",
    command: binary,
    args,
    logFile: options.logFile,
    env,
    stateDir: options.stateDir,
    cmdMarker: binary,
    // mini drains S3 and the filer before the volume server; it takes about 3 s.
    stopGraceMs: 15_000,
  });
  try {
    // Any answer means it serves (S3 listens only once the filer is ready); an unsigned GET / gets 403.
    await waitForHttp(`${endpoint}/`, {
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      what: "SeaweedFS",
      child: managed.child,
      logFile: managed.logFile,
      logFrom: managed.logFrom,
    });
    // The admin server starts last, after S3: once it listens, every port is held and startup is over.
    await waitForPort(host, ports["admin.port"], {
      timeoutMs: 30_000,
      what: "SeaweedFS's admin server",
      child: managed.child,
      logFile: managed.logFile,
      logFrom: managed.logFrom,
    });
  } catch (err) {
    await managed.stop();
    await removeSockets(ports, port);
    throw err;
  }
  // Whoever waits for the exit (a stop, a restart on the same ports) finds the sockets gone too.
  const exited = managed.exited.then(async (info) => {
    await removeSockets(ports, port);
    return info;
  });
  return {
    ...managed,
    exited,
    async stop() {
      await managed.stop();
      await exited;
    },
    endpoint,
    ports,
  };
}

/**
 * The internal ports: those of the last start over this data when all are still free, else new free ones
 * (then the master starts with fresh state, so this is logged in the data folder's ports.json only).
 */
async function internalPorts(host: string, s3Port: number, dataDir: string): Promise<InternalPorts> {
  const file = join(dataDir, "ports.json");
  const kept = await readFile(file, "utf8").then(
    (text) => JSON.parse(text) as Partial<InternalPorts>,
    () => undefined,
  );
  if (kept !== undefined && INTERNAL_PORT_FLAGS.every((f) => Number.isInteger(kept[f]))) {
    const ports = kept as InternalPorts;
    for (const flag of INTERNAL_PORT_FLAGS) {
      await assertPortFree(
        host,
        ports[flag],
        `SeaweedFS's ${flag}, kept from its first start over ${dataDir}`,
        `stop what listens there, or delete ${dataDir} to start SeaweedFS with empty storage`,
      );
    }
    return ports;
  }
  const taken = new Set([s3Port]);
  const ports: Partial<InternalPorts> = {};
  for (const flag of INTERNAL_PORT_FLAGS) {
    let p = await getFreePort(host);
    while (taken.has(p)) p = await getFreePort(host);
    taken.add(p);
    ports[flag] = p;
  }
  await writeFile(file, `${JSON.stringify(ports, null, 2)}\n`);
  return ports as InternalPorts;
}

/**
 * mini leaves its admin socket in /tmp even after a clean stop, and every socket when it is killed; they
 * are named after our ports, so they are ours.
 */
async function removeSockets(ports: InternalPorts, s3Port: number): Promise<void> {
  const names = [
    `s3-${s3Port}`,
    `filer-${ports["filer.port"]}`,
    `master-grpc-${ports["master.port.grpc"]}`,
    `volume-grpc-${ports["volume.port.grpc"]}`,
    `filer-grpc-${ports["filer.port.grpc"]}`,
    `s3-grpc-${ports["s3.port.grpc"]}`,
    `admin-grpc-${ports["admin.port.grpc"]}`,
  ];
  await Promise.allSettled(names.map((n) => rm(`/tmp/seaweedfs-${n}.sock`, { force: true })));
}
