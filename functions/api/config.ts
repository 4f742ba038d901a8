/**
 * The coordinator's configuration, read once from the environment and validated.
 * Everything else receives the typed object; tests build it by hand.
 */
import { z } from "zod";
import { DEFAULT_PRESIGN_EXPIRES_SECONDS, MAX_PRESIGN_EXPIRES_SECONDS } from "../contract/limits.js";
import { STORAGE_PROFILE_NAMES } from "../contract/storage.js";
import { type StorageProfile, storageProfile } from "../core/storage-profiles.js";
import { LOG_LEVELS, type LogLevel } from "./logger.js";

export interface AppConfig {
  bucket: string;
  table: string;
  region: string;
  s3: {
    endpoint?: string;
    /** Address clients use for presigned URLs, if it differs from the one the coordinator uses. */
    publicEndpoint?: string;
    forcePathStyle: boolean;
    credentials?: { accessKeyId: string; secretAccessKey: string };
  };
  dynamodb: {
    endpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
  };
  presignExpiresSeconds: number;
  downloadExpiresSeconds: number;
  version: string;
  logLevel: LogLevel | "silent";
  /** Requests per second per API key (a token bucket per process), and the burst allowed. */
  rateLimit: { perSecond: number; burst: number };
  /**
   * The store behind the bucket (SFTS_STORAGE_PROFILE; storage-profiles.ts): `aws` unless configured (the
   * local stack sets its server's). allowUnverified: SFTS_ALLOW_UNVERIFIED_STORAGE=1 serves transfers even
   * when the probe finds storage accepts damaged bytes (records then say so). ignoreChecksumForTests:
   * SFTS_TEST_STORAGE_IGNORES_CHECKSUM=1, for tests only: the adapter sends its digest under a header storage
   * does not check, which makes any store behave as one that does not verify (the probe must catch it).
   */
  storage: { profile: StorageProfile; allowUnverified: boolean; ignoreChecksumForTests: boolean };
  /** Longest the advisory counters (stats, per-minute series) wait in process before they are written; 0 = at once. */
  statsFlushMs: number;
}

const Seconds = z.coerce.number().int().min(1).max(MAX_PRESIGN_EXPIRES_SECONDS);
const Bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const Env = z.object({
  SFTS_BUCKET: z.string().min(3, "SFTS_BUCKET must name the S3 bucket"),
  SFTS_TABLE: z.string().min(3, "SFTS_TABLE must name the DynamoDB table"),
  SFTS_REGION: z.string().optional(),
  AWS_REGION: z.string().optional(),
  SFTS_S3_ENDPOINT: z.url().optional(),
  SFTS_S3_PUBLIC_ENDPOINT: z.url().optional(),
  SFTS_S3_FORCE_PATH_STYLE: Bool.optional(),
  SFTS_S3_ACCESS_KEY_ID: z.string().optional(),
  SFTS_S3_SECRET_ACCESS_KEY: z.string().optional(),
  SFTS_DYNAMODB_ENDPOINT: z.url().optional(),
  SFTS_PRESIGN_EXPIRES: Seconds.default(DEFAULT_PRESIGN_EXPIRES_SECONDS),
  SFTS_DOWNLOAD_EXPIRES: Seconds.default(3600),
  SFTS_VERSION: z.string().default("0.1.0"),
  SFTS_LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  SFTS_RATE_LIMIT: z.coerce.number().positive().default(200),
  SFTS_RATE_BURST: z.coerce.number().int().min(1).default(1000),
  SFTS_STATS_FLUSH_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  SFTS_STORAGE_PROFILE: z
    .enum(STORAGE_PROFILE_NAMES, { error: `must be one of ${STORAGE_PROFILE_NAMES.join(", ")}` })
    .default("aws"),
  SFTS_ALLOW_UNVERIFIED_STORAGE: Bool.default(false),
  SFTS_TEST_STORAGE_IGNORES_CHECKSUM: Bool.default(false),
});

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`Invalid coordinator configuration: ${problems}`);
  }
  const e = parsed.data;
  const config: AppConfig = {
    bucket: e.SFTS_BUCKET,
    table: e.SFTS_TABLE,
    region: e.SFTS_REGION ?? e.AWS_REGION ?? "us-east-1",
    s3: {
      // A custom endpoint is addressed path style (what emulators need) unless a profile named
      // explicitly says virtual host; SFTS_S3_FORCE_PATH_STYLE overrides both.
      forcePathStyle:
        e.SFTS_S3_FORCE_PATH_STYLE ??
        (e.SFTS_S3_ENDPOINT !== undefined &&
          (env.SFTS_STORAGE_PROFILE === undefined ||
            storageProfile(e.SFTS_STORAGE_PROFILE).addressing === "path")),
    },
    dynamodb: {},
    presignExpiresSeconds: e.SFTS_PRESIGN_EXPIRES,
    downloadExpiresSeconds: e.SFTS_DOWNLOAD_EXPIRES,
    version: e.SFTS_VERSION,
    logLevel: e.SFTS_LOG_LEVEL,
    rateLimit: { perSecond: e.SFTS_RATE_LIMIT, burst: e.SFTS_RATE_BURST },
    statsFlushMs: e.SFTS_STATS_FLUSH_MS,
    storage: {
      profile: storageProfile(e.SFTS_STORAGE_PROFILE),
      allowUnverified: e.SFTS_ALLOW_UNVERIFIED_STORAGE,
      ignoreChecksumForTests: e.SFTS_TEST_STORAGE_IGNORES_CHECKSUM,
    },
  };
  if (e.SFTS_S3_ENDPOINT) config.s3.endpoint = e.SFTS_S3_ENDPOINT;
  if (e.SFTS_S3_PUBLIC_ENDPOINT) config.s3.publicEndpoint = e.SFTS_S3_PUBLIC_ENDPOINT;
  if (e.SFTS_S3_ACCESS_KEY_ID && e.SFTS_S3_SECRET_ACCESS_KEY)
    config.s3.credentials = {
      accessKeyId: e.SFTS_S3_ACCESS_KEY_ID,
      secretAccessKey: e.SFTS_S3_SECRET_ACCESS_KEY,
    };
  if (e.SFTS_DYNAMODB_ENDPOINT) {
    config.dynamodb.endpoint = e.SFTS_DYNAMODB_ENDPOINT;
    // DynamoDB Local accepts any credentials; real DynamoDB uses the default chain.
    config.dynamodb.credentials = { accessKeyId: "local", secretAccessKey: "local" };
  }
  return config;
}
