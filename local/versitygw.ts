/**
 * versitygw, the S3 emulator of the local stack: built once from a pinned tag with `go install`
 * into a cache folder named after the version (a pin bump builds anew), then run with the posix
 * backend: objects as plain files under `<dataDir>/buckets`, metadata (etags, checksums, multipart
 * state) in a sidecar folder `<dataDir>/meta` beside it, so the disk needs no user xattrs.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { access, chmod, constants, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { findExecutable } from "./find-executable.js";
import { readLogTail } from "./log-tail.js";
import { type ManagedProcess, spawnManaged } from "./managed-process.js";
import { assertPortFree, hostPort, waitForHttp } from "./ports.js";
import { StackError } from "./stack-error.js";

export const VERSITYGW_VERSION = "v1.7.0";
const VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw";
/** versitygw v1.7.0's go.mod says `go 1.25.0`. */
const GO_NEEDED = "Go ≥ 1.25";

/** Where `ensureVersitygw` puts the binary. */
export function versitygwBinaryPath(cacheDir: string): string {
  return join(cacheDir, `versitygw-${VERSITYGW_VERSION}`, "versitygw");
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of the pinned versitygw binary, built with Go on first use (a minute or two with a warm
 * module cache). The build goes to a temporary folder that is renamed into place only when it
 * succeeded, so an interrupted build never counts.
 */
export async function ensureVersitygw(
  cacheDir: string,
  log: (line: string) => void,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const binary = versitygwBinaryPath(cacheDir);
  if (await isExecutable(binary)) return binary;

  const env = options.env ?? process.env;
  const go = findExecutable("go", env);
  if (go === undefined) {
    throw new StackError(
      `Go is needed once to build the S3 emulator versitygw ${VERSITYGW_VERSION}; no \`go\` on PATH`,
      {
        hint: `install ${GO_NEEDED} (https://go.dev/dl/) and start again, or run through .ci/run, which has it`,
      },
    );
  }

  await mkdir(cacheDir, { recursive: true });
  const buildDir = await mkdtemp(join(cacheDir, `versitygw-${VERSITYGW_VERSION}.building-`));
  const buildLog = join(cacheDir, `versitygw-${VERSITYGW_VERSION}-build.log`);
  log(`building versitygw ${VERSITYGW_VERSION} (once, ~1–2 min)…`);
  const started = Date.now();
  const heartbeat = setInterval(() => {
    log(`still building versitygw (${Math.round((Date.now() - started) / 1000)} s)…`);
  }, 20_000);
  try {
    const exit = await runGoInstall(go, buildDir, buildLog, env);
    if (exit !== 0 || !(await isExecutable(join(buildDir, "versitygw")))) {
      const tail = await readLogTail(buildLog, 0, 20);
      throw new StackError(
        `Building versitygw ${VERSITYGW_VERSION} with \`go install\` failed (exit ${exit})`,
        {
          details: tail,
          hint: `full output: ${buildLog}; the first build needs ${GO_NEEDED} and access to the Go module proxy (or a warm Go module cache)`,
        },
      );
    }
    const finalDir = join(cacheDir, `versitygw-${VERSITYGW_VERSION}`);
    // Another start may have finished the same build meanwhile; its binary is as good as ours.
    if (!(await isExecutable(binary))) {
      await rm(finalDir, { recursive: true, force: true });
      await chmod(buildDir, 0o755); // mkdtemp made it private
      await rename(buildDir, finalDir).catch(async (err: unknown) => {
        if (!(await isExecutable(binary))) throw err;
      });
    }
    log(`built versitygw ${VERSITYGW_VERSION} in ${Math.round((Date.now() - started) / 1000)} s`);
    return binary;
  } finally {
    clearInterval(heartbeat);
    await rm(buildDir, { recursive: true, force: true });
  }
}

function runGoInstall(
  go: string,
  buildDir: string,
  buildLog: string,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  // -ldflags: stamp the version for `versitygw --version` and drop debug info (~20 MB smaller);
  // only the link step differs, so Go's build cache still serves every compiled package.
  const args = [
    "install",
    `-ldflags=-s -w -X main.Version=${VERSITYGW_VERSION}`,
    `${VERSITYGW_MODULE}@${VERSITYGW_VERSION}`,
  ];
  return new Promise((resolve, reject) => {
    const out = createWriteStream(buildLog);
    out.write(`$ GOBIN=${buildDir} ${go} ${args.join(" ")}\n`);
    const child = spawn(go, args, {
      cwd: buildDir,
      env: { ...env, GOBIN: buildDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.once("error", (err) => {
      out.end();
      reject(new StackError(`Could not run ${go}: ${err.message}`, { cause: err }));
    });
    child.once("close", (code, signal) => {
      out.end(() => resolve(code ?? (signal === null ? 1 : 128)));
    });
  });
}

export interface VersitygwOptions {
  /** From `ensureVersitygw`. */
  binary: string;
  host: string;
  port: number;
  /** Holds `buckets/` (the objects) and `meta/` (the sidecar metadata); created if missing. */
  dataDir: string;
  accessKey: string;
  secretKey: string;
  region: string;
  logFile: string;
  /** For the pid registry (`reapOrphans`). */
  stateDir: string;
  /** Default Access-Control-Allow-Origin when a bucket has no CORS configuration of its own. */
  corsAllowOrigin?: string;
  /** Hint shown when the port is taken, e.g. which flag or variable sets it. */
  portHint?: string;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export type VersitygwProcess = ManagedProcess & { endpoint: string };

/** Starts versitygw on host:port and resolves once it answers HTTP. */
export async function startVersitygw(options: VersitygwOptions): Promise<VersitygwProcess> {
  const { binary, host, port, dataDir } = options;
  await assertPortFree(host, port, "the S3 emulator versitygw", options.portHint);
  const bucketsDir = join(dataDir, "buckets");
  const metaDir = join(dataDir, "meta");
  await mkdir(bucketsDir, { recursive: true });
  await mkdir(metaDir, { recursive: true });

  const endpoint = `http://${hostPort(host, port)}`;
  const args = [
    "--port",
    hostPort(host, port),
    "--region",
    options.region,
    // Without it every response carries `Connection: close`, and each S3 request pays a new connection.
    "--keep-alive",
    "--quiet",
    ...(options.corsAllowOrigin === undefined ? [] : ["--cors-allow-origin", options.corsAllowOrigin]),
    "posix",
    "--sidecar",
    metaDir,
    bucketsDir,
  ];
  const managed = await spawnManaged({
    name: "versitygw",
    command: binary,
    args,
    logFile: options.logFile,
    // The keys go by environment, not argv, so that `ps` does not show the secret.
    env: {
      ...(options.env ?? process.env),
      ROOT_ACCESS_KEY_ID: options.accessKey,
      ROOT_SECRET_ACCESS_KEY: options.secretKey,
    },
    stateDir: options.stateDir,
    cmdMarker: binary,
  });
  try {
    // Any answer means it serves; an unsigned GET / gets 403 AccessDenied.
    await waitForHttp(`${endpoint}/`, {
      timeoutMs: options.readyTimeoutMs ?? 20_000,
      what: "versitygw",
      child: managed.child,
      logFile: managed.logFile,
      logFrom: managed.logFrom,
    });
  } catch (err) {
    await managed.stop();
    throw err;
  }
  return Object.assign(managed, { endpoint });
}
