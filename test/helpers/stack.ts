/**
 * The one way tests get a local stack: the same `startStack` as `npm start`, on free ports, in a
 * temporary folder, sharing the repo's build cache. The S3 server is SFTS_TEST_STORAGE's (versitygw
 * unless set to seaweedfs; vitest.config.ts sets it per project) unless a test names one.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StorageProfileName } from "../../functions/contract/storage.js";
import { startLocalStack } from "../../harness/local-stack.js";
import type { LocalStorage } from "../../local/s3-servers.js";
import type { RunningStack } from "../../local/stack.js";

export interface TestStack extends RunningStack {
  dataDir: string;
  cleanup(): Promise<void>;
}

export async function startTestStack(
  options: {
    presignExpiresSeconds?: number;
    downloadExpiresSeconds?: number;
    s3PublicEndpoint?: string;
    /** How long the coordinator coalesces advisory counters; default 0 (written through). */
    statsFlushMs?: number;
    /** Fixed ports (a link in front of the stack needs them before it starts); default free ones. */
    ports?: { api: number; s3: number; dynamodb: number };
    /** The S3 server; default SFTS_TEST_STORAGE's. */
    storage?: LocalStorage;
    /** The coordinator's storage profile (e.g. generic, MD5 mode); default the server's own. */
    profile?: StorageProfileName;
    /** More coordinator settings (SFTS_ALLOW_UNVERIFIED_STORAGE, SFTS_TEST_STORAGE_IGNORES_CHECKSUM…). */
    coordinatorEnv?: Record<string, string>;
  } = {},
): Promise<TestStack> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const dataDir = await mkdtemp(join(tmpdir(), "sfts-test-stack-"));
  const stack = await startLocalStack({
    name: "test",
    ports: options.ports,
    dataDir,
    clientInfoFile: join(dataDir, "client", "local-stack.json"),
    log: (line) => process.stderr.write(`[stack] ${line}\n`),
    // Counters written at once: "a refused request changes nothing" compares the stats items too, and an
    // earlier request's coalesced counters must not land in the middle of that comparison.
    statsFlushMs: options.statsFlushMs ?? 0,
    ...(options.s3PublicEndpoint !== undefined && { s3PublicEndpoint: options.s3PublicEndpoint }),
    ...(options.storage !== undefined && { storage: options.storage }),
    ...(options.profile !== undefined && { profile: options.profile }),
    ...(options.coordinatorEnv !== undefined && { coordinatorEnv: options.coordinatorEnv }),
    ...(options.downloadExpiresSeconds !== undefined && {
      downloadExpiresSeconds: options.downloadExpiresSeconds,
    }),
    ...(options.presignExpiresSeconds !== undefined && {
      presignExpiresSeconds: options.presignExpiresSeconds,
    }),
  });
  return {
    ...stack,
    dataDir,
    async cleanup() {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** What integration tests receive from the global setup (serialisable). */
export interface StackInfo {
  /** The S3 server (versitygw, seaweedfs); the coordinator's profile is env.SFTS_STORAGE_PROFILE. */
  storage: LocalStorage;
  apiUrl: string;
  token: string;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  bucket: string;
  table: string;
  env: Record<string, string>;
  dataDir: string;
}

export const stackInfo = (s: TestStack): StackInfo => ({
  storage: s.storage,
  apiUrl: s.apiUrl,
  token: s.token,
  s3Endpoint: s.s3Endpoint,
  dynamodbEndpoint: s.dynamodbEndpoint,
  bucket: s.bucket,
  table: s.table,
  env: s.env,
  dataDir: s.dataDir,
});
