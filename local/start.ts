/**
 * `npm start`: brings up the local stack and keeps it running until Ctrl-C.
 * Options: --port/SFTS_PORT (API, 5000), --s3-port/SFTS_S3_PORT (5070), --dynamodb-port/SFTS_DYNAMODB_PORT (5080),
 * --host/SFTS_HOST (127.0.0.1), --data-dir/SFTS_DATA_DIR (.sfts-local), SFTS_BUCKET and SFTS_TABLE (sfts-local),
 * --storage/SFTS_STORAGE: the S3 server, versitygw (default) or seaweedfs; SeaweedFS's data goes to
 * .sfts-local/seaweedfs unless a data folder is given (a data folder belongs to one server).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { localStackFile } from "../cli/engine/paths.js";
import { LOCAL_S3_SERVERS, parseLocalStorage } from "./s3-servers.js";
import { STACK_VERSIONS, startStack } from "./stack.js";
import { formatStackError, StackError } from "./stack-error.js";

const env = process.env;

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new StackError(`${name} must be a port number from 1 to 65535, not "${value}"`);
  return n;
}

async function main(): Promise<void> {
  // Node 20 is what this machine runs; the SDK's reminder that 22 is coming is in the README, not on every start.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      "s3-port": { type: "string" },
      "dynamodb-port": { type: "string" },
      host: { type: "string" },
      "data-dir": { type: "string" },
      storage: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      "Usage: npm start -- [--storage versitygw|seaweedfs] [--port 5000] [--s3-port 5070] [--dynamodb-port 5080] [--host 127.0.0.1] [--data-dir .sfts-local]\n",
    );
    return;
  }
  const root = resolve(import.meta.dirname, "..", "..");
  const storageValue = values.storage ?? env.SFTS_STORAGE;
  const storage =
    storageValue === undefined || storageValue === ""
      ? "versitygw"
      : parseLocalStorage(storageValue, values.storage !== undefined ? "--storage" : "SFTS_STORAGE");
  const server = LOCAL_S3_SERVERS[storage];
  const defaultDataDir = resolve(root, server.defaultDataDir);
  const clientInfoFile = localStackFile(env);
  const stack = await startStack({
    host: values.host ?? env.SFTS_HOST ?? "127.0.0.1",
    apiPort: port(values.port ?? env.SFTS_PORT, 5000, "--port / SFTS_PORT"),
    s3Port: port(values["s3-port"] ?? env.SFTS_S3_PORT, 5070, "--s3-port / SFTS_S3_PORT"),
    dynamodbPort: port(
      values["dynamodb-port"] ?? env.SFTS_DYNAMODB_PORT,
      5080,
      "--dynamodb-port / SFTS_DYNAMODB_PORT",
    ),
    dataDir: resolve(values["data-dir"] ?? env.SFTS_DATA_DIR ?? defaultDataDir),
    storage,
    cacheDir: resolve(root, ".cache"),
    bucket: env.SFTS_BUCKET ?? "sfts-local",
    table: env.SFTS_TABLE ?? "sfts-local",
    clientInfoFile,
    log: (line) => process.stdout.write(`${line}\n`),
  });

  const out = [
    "",
    "SFTS local stack is running",
    `  Dashboard  ${stack.apiUrl}/`,
    `  API        ${stack.apiUrl}   (OpenAPI ${stack.apiUrl}/openapi.json, health ${stack.apiUrl}/health)`,
    `  S3         ${stack.s3Endpoint}   (${server.label} ${server.version}, bucket ${stack.bucket}, storage profile ${stack.config.storage.profile.name})`,
    `  Probe      ${stack.storageProbe.state}: ${stack.storageProbe.message}`,
    `  DynamoDB   ${stack.dynamodbEndpoint}   (DynamoDB Local ${STACK_VERSIONS.dynamodbLocal}, table ${stack.table})`,
    `  API token  ${stack.token}`,
    `             (saved for the sfts CLI in ${clientInfoFile})`,
    `  Logs       ${stack.logFiles.api}`,
    "",
    "Try:",
    `  curl -s -H "Authorization: Bearer ${stack.token}" ${stack.apiUrl}/api/stats`,
    "",
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(out.join("\n"));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the local stack…\n`);
    stack.stop().then(
      () => {
        process.stdout.write("Stopped. Data is kept for next time.\n");
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`Stopping failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("Ctrl-C"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((err: unknown) => {
  if (err instanceof StackError) {
    process.stderr.write(`sfts: ${formatStackError(err)}\n`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`sfts: the local stack could not start: ${message}\n`);
    if (env.SFTS_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  }
  process.exit(1);
});
