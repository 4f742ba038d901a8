/**
 * versitygw, the S3 emulator of the local stack: built once from a pinned tag with `go install`
 * into a cache folder named after the version (a pin bump builds anew), then run with the posix
 * backend: objects as plain files under `<dataDir>/buckets`, metadata (etags, checksums, multipart
 * state) in a sidecar folder `<dataDir>/meta` beside it, so the disk needs no user xattrs.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ensureGoBinary, type GoBuildSpec, goBinaryPath } from "./go-build.js";
import { type ManagedProcess, spawnManaged } from "./managed-process.js";
import { assertPortFree, hostPort, waitForHttp } from "./ports.js";
import type { S3StartOptions } from "./s3-servers.js";

export const VERSITYGW_VERSION = "v1.7.0";
const VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw";

const BUILD: GoBuildSpec = {
  what: `the S3 emulator versitygw ${VERSITYGW_VERSION}`,
  short: `versitygw ${VERSITYGW_VERSION}`,
  folder: `versitygw-${VERSITYGW_VERSION}`,
  binaryName: "versitygw",
  /** versitygw v1.7.0's go.mod says `go 1.25.0`. */
  goNeeded: "Go ≥ 1.25",
  expected: "~1–2 min",
  command: "go install",
  // -ldflags: stamp the version for `versitygw --version` and drop debug info (~20 MB smaller);
  // only the link step differs, so Go's build cache still serves every compiled package.
  build: ({ run, outDir, env }) =>
    run(
      [
        "install",
        `-ldflags=-s -w -X main.Version=${VERSITYGW_VERSION}`,
        `${VERSITYGW_MODULE}@${VERSITYGW_VERSION}`,
      ],
      { env: { ...env, GOBIN: outDir } },
    ),
};

/** Where `ensureVersitygw` puts the binary. */
export function versitygwBinaryPath(cacheDir: string): string {
  return goBinaryPath(cacheDir, BUILD);
}

/**
 * The path of the pinned versitygw binary, built with `go install` on first use (a minute or two with a
 * warm module cache); see go-build.ts for how the cache is kept whole.
 */
export function ensureVersitygw(
  cacheDir: string,
  log: (line: string) => void,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return ensureGoBinary(cacheDir, BUILD, log, options);
}

export interface VersitygwOptions extends S3StartOptions {
  /** Holds `buckets/` (the objects) and `meta/` (the sidecar metadata); created if missing. */
  dataDir: string;
  /** Default Access-Control-Allow-Origin when a bucket has no CORS configuration of its own. */
  corsAllowOrigin?: string;
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
