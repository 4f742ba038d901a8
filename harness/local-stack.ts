/**
 * The local stack for tests, benchmarks and the soak: the same `startStack` as `npm start`, on free
 * ports (unless given), with its data in `dataDir`, the repository's build cache, and a bucket and table
 * named `sfts-<name>`. The S3 server is the caller's `storage`, else SFTS_TEST_STORAGE (versitygw unless
 * set; `SFTS_TEST_STORAGE=seaweedfs npm test` runs the suites on SeaweedFS).
 */
import { join } from "node:path";
import { getFreePort } from "../local/ports.js";
import { type LocalStorage, parseLocalStorage } from "../local/s3-servers.js";
import { type RunningStack, type StackOptions, startStack } from "../local/stack.js";
import { repoRoot } from "./cli-process.js";

export type LocalStackOptions = Omit<
  StackOptions,
  "host" | "apiPort" | "s3Port" | "dynamodbPort" | "cacheDir" | "bucket" | "table"
> & {
  name: string;
  ports?: { api: number; s3: number; dynamodb: number } | undefined;
};

/** The S3 server SFTS_TEST_STORAGE names (default versitygw); a clear error for any other value. */
export function testStorage(env: NodeJS.ProcessEnv = process.env): LocalStorage {
  const value = env.SFTS_TEST_STORAGE;
  return value === undefined || value === "" ? "versitygw" : parseLocalStorage(value, "SFTS_TEST_STORAGE");
}

export async function startLocalStack({ name, ports, ...rest }: LocalStackOptions): Promise<RunningStack> {
  const host = "127.0.0.1";
  return startStack({
    host,
    apiPort: ports?.api ?? (await getFreePort(host)),
    s3Port: ports?.s3 ?? (await getFreePort(host)),
    dynamodbPort: ports?.dynamodb ?? (await getFreePort(host)),
    cacheDir: join(repoRoot, ".cache"),
    bucket: `sfts-${name}`,
    table: `sfts-${name}`,
    storage: testStorage(),
    ...rest,
  });
}
