/**
 * The local stack for tests, benchmarks and the soak: the same `startStack` as `npm start`, on free
 * ports (unless given), with its data in `dataDir`, the repository's versitygw build cache, and a
 * bucket and table named `sfts-<name>`.
 */
import { join } from "node:path";
import { getFreePort } from "../local/ports.js";
import { type RunningStack, type StackOptions, startStack } from "../local/stack.js";
import { repoRoot } from "./cli-process.js";

export type LocalStackOptions = Omit<
  StackOptions,
  "host" | "apiPort" | "s3Port" | "dynamodbPort" | "cacheDir" | "bucket" | "table"
> & {
  name: string;
  ports?: { api: number; s3: number; dynamodb: number } | undefined;
};

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
    ...rest,
  });
}
