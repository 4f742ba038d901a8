/**
 * The coordinator's configuration, read once from the environment and validated.
 * Everything else receives the typed object; tests build it by hand.
 */
import { z } from "zod";
import { DEFAULT_PRESIGN_EXPIRES_SECONDS, MAX_PRESIGN_EXPIRES_SECONDS } from "../contract/limits.js";
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
    s3: { forcePathStyle: e.SFTS_S3_FORCE_PATH_STYLE ?? e.SFTS_S3_ENDPOINT !== undefined },
    dynamodb: {},
    presignExpiresSeconds: e.SFTS_PRESIGN_EXPIRES,
    downloadExpiresSeconds: e.SFTS_DOWNLOAD_EXPIRES,
    version: e.SFTS_VERSION,
    logLevel: e.SFTS_LOG_LEVEL,
    rateLimit: { perSecond: e.SFTS_RATE_LIMIT, burst: e.SFTS_RATE_BURST },
    statsFlushMs: e.SFTS_STATS_FLUSH_MS,
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
