import { describe, expect, it } from "vitest";
import { type AppConfig, ConfigError, loadConfig } from "../../functions/api/config.js";
import { STORAGE_PROFILES } from "../../functions/core/storage-profiles.js";

const awsStorage = { profile: STORAGE_PROFILES.aws, allowUnverified: false, ignoreChecksumForTests: false };

const localEnv = {
  SFTS_BUCKET: "sfts-local",
  SFTS_TABLE: "sfts-local-table",
  SFTS_REGION: "eu-west-1",
  SFTS_S3_ENDPOINT: "http://127.0.0.1:7070",
  SFTS_S3_ACCESS_KEY_ID: "local-key",
  SFTS_S3_SECRET_ACCESS_KEY: "local-secret",
  SFTS_DYNAMODB_ENDPOINT: "http://127.0.0.1:8000",
};

/** Runs loadConfig and returns the ConfigError it throws; fails if it throws nothing or something else. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError, but loadConfig returned");
}

describe("loadConfig", () => {
  it("turns a valid local environment into the typed config", () => {
    const expected: AppConfig = {
      bucket: "sfts-local",
      table: "sfts-local-table",
      region: "eu-west-1",
      s3: {
        endpoint: "http://127.0.0.1:7070",
        forcePathStyle: true,
        credentials: { accessKeyId: "local-key", secretAccessKey: "local-secret" },
      },
      dynamodb: {
        endpoint: "http://127.0.0.1:8000",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      },
      presignExpiresSeconds: 900,
      downloadExpiresSeconds: 3600,
      version: "0.1.0",
      logLevel: "info",
      rateLimit: { perSecond: 200, burst: 1000 },
      statsFlushMs: 1000,
      storage: awsStorage,
    };
    expect(loadConfig(localEnv)).toEqual(expected);
  });

  it("uses virtual-hosted style, the default chains and us-east-1 without endpoints", () => {
    expect(loadConfig({ SFTS_BUCKET: "bucket", SFTS_TABLE: "table" })).toEqual({
      bucket: "bucket",
      table: "table",
      region: "us-east-1",
      s3: { forcePathStyle: false },
      dynamodb: {},
      presignExpiresSeconds: 900,
      downloadExpiresSeconds: 3600,
      version: "0.1.0",
      logLevel: "info",
      rateLimit: { perSecond: 200, burst: 1000 },
      statsFlushMs: 1000,
      storage: awsStorage,
    });
  });

  it("reads the storage profile and its switches, and refuses an unknown profile", () => {
    const base = { SFTS_BUCKET: "bucket", SFTS_TABLE: "table" };
    const c = loadConfig({ ...base, SFTS_STORAGE_PROFILE: "r2", SFTS_ALLOW_UNVERIFIED_STORAGE: "1" });
    expect(c.storage.profile.name).toBe("r2");
    expect(c.storage.profile.uniformParts).toBe(true);
    expect(c.storage.allowUnverified).toBe(true);
    expect(configError({ ...base, SFTS_STORAGE_PROFILE: "dropbox" }).message).toMatch(
      /SFTS_STORAGE_PROFILE: must be one of aws, versitygw/,
    );
    // A profile addressed by virtual host keeps it on a custom endpoint; others go path style there.
    const endpoint = { ...base, SFTS_S3_ENDPOINT: "https://s3.example.test" };
    expect(loadConfig({ ...endpoint, SFTS_STORAGE_PROFILE: "b2" }).s3.forcePathStyle).toBe(false);
    expect(loadConfig({ ...endpoint, SFTS_STORAGE_PROFILE: "ceph" }).s3.forcePathStyle).toBe(true);
    expect(loadConfig(endpoint).s3.forcePathStyle).toBe(true);
  });

  it("falls back to AWS_REGION, and SFTS_REGION wins over it", () => {
    const base = { SFTS_BUCKET: "bucket", SFTS_TABLE: "table" };
    expect(loadConfig({ ...base, AWS_REGION: "ap-south-1" }).region).toBe("ap-south-1");
    expect(loadConfig({ ...base, AWS_REGION: "ap-south-1", SFTS_REGION: "eu-north-1" }).region).toBe(
      "eu-north-1",
    );
  });

  it("lets SFTS_S3_FORCE_PATH_STYLE override the endpoint's default", () => {
    expect(loadConfig({ ...localEnv, SFTS_S3_FORCE_PATH_STYLE: "false" }).s3.forcePathStyle).toBe(false);
    expect(loadConfig({ ...localEnv, SFTS_S3_FORCE_PATH_STYLE: "0" }).s3.forcePathStyle).toBe(false);
    const aws = { SFTS_BUCKET: "bucket", SFTS_TABLE: "table" };
    expect(loadConfig({ ...aws, SFTS_S3_FORCE_PATH_STYLE: "true" }).s3.forcePathStyle).toBe(true);
    expect(loadConfig({ ...aws, SFTS_S3_FORCE_PATH_STYLE: "1" }).s3.forcePathStyle).toBe(true);
  });

  it("keeps a public endpoint for presigned URLs", () => {
    const c = loadConfig({ ...localEnv, SFTS_S3_PUBLIC_ENDPOINT: "https://files.example.com" });
    expect(c.s3.publicEndpoint).toBe("https://files.example.com");
    expect(c.s3.endpoint).toBe("http://127.0.0.1:7070");
  });

  it("sets S3 credentials only when both halves are given", () => {
    const { SFTS_S3_SECRET_ACCESS_KEY: _, ...keyOnly } = localEnv;
    expect(loadConfig(keyOnly).s3.credentials).toBeUndefined();
  });

  it("reads expiries and the version from strings", () => {
    const c = loadConfig({
      ...localEnv,
      SFTS_PRESIGN_EXPIRES: "60",
      SFTS_DOWNLOAD_EXPIRES: "43200",
      SFTS_VERSION: "1.2.3",
    });
    expect(c.presignExpiresSeconds).toBe(60);
    expect(c.downloadExpiresSeconds).toBe(43_200);
    expect(c.version).toBe("1.2.3");
  });

  it("accepts a presign expiry of exactly 1 s and exactly 12 h", () => {
    expect(loadConfig({ ...localEnv, SFTS_PRESIGN_EXPIRES: "1" }).presignExpiresSeconds).toBe(1);
    expect(loadConfig({ ...localEnv, SFTS_PRESIGN_EXPIRES: "43200" }).presignExpiresSeconds).toBe(43_200);
  });

  it("ignores unrelated variables", () => {
    expect(loadConfig({ ...localEnv, PATH: "/usr/bin", HOME: "/root" })).toEqual(loadConfig(localEnv));
  });

  it("reads SFTS_STATS_FLUSH_MS (0 writes counters at once) and rejects a negative one, naming it", () => {
    const base = { SFTS_BUCKET: "bucket", SFTS_TABLE: "table" };
    expect(loadConfig({ ...base, SFTS_STATS_FLUSH_MS: "0" }).statsFlushMs).toBe(0);
    expect(loadConfig({ ...base, SFTS_STATS_FLUSH_MS: "250" }).statsFlushMs).toBe(250);
    expect(() => loadConfig({ ...base, SFTS_STATS_FLUSH_MS: "-1" })).toThrow(/SFTS_STATS_FLUSH_MS/);
  });

  it("rejects a missing SFTS_BUCKET, naming it", () => {
    const { SFTS_BUCKET: _, ...env } = localEnv;
    const err = configError(env);
    expect(err.name).toBe("ConfigError");
    expect(err.message).toMatch(/^Invalid coordinator configuration: /);
    expect(err.message).toContain("SFTS_BUCKET");
    expect(err.message).not.toContain("SFTS_TABLE");
  });

  it("rejects an undefined or too-short SFTS_BUCKET, naming it", () => {
    expect(configError({ ...localEnv, SFTS_BUCKET: undefined }).message).toContain("SFTS_BUCKET");
    expect(configError({ ...localEnv, SFTS_BUCKET: "ab" }).message).toContain(
      "SFTS_BUCKET: SFTS_BUCKET must name the S3 bucket",
    );
  });

  it("rejects a missing SFTS_TABLE, naming it", () => {
    const { SFTS_TABLE: _, ...env } = localEnv;
    expect(configError(env).message).toContain("SFTS_TABLE");
  });

  it("rejects a bad S3 endpoint URL, naming the variable", () => {
    const err = configError({ ...localEnv, SFTS_S3_ENDPOINT: "not a url" });
    expect(err.message).toContain("SFTS_S3_ENDPOINT");
    expect(err.message).not.toContain("SFTS_DYNAMODB_ENDPOINT");
  });

  it("rejects a bad public endpoint or DynamoDB endpoint URL, naming the variable", () => {
    expect(configError({ ...localEnv, SFTS_S3_PUBLIC_ENDPOINT: "files.example" }).message).toContain(
      "SFTS_S3_PUBLIC_ENDPOINT",
    );
    expect(configError({ ...localEnv, SFTS_DYNAMODB_ENDPOINT: "localhost 8000" }).message).toContain(
      "SFTS_DYNAMODB_ENDPOINT",
    );
  });

  it("rejects a presign expiry of 0, naming the variable", () => {
    expect(configError({ ...localEnv, SFTS_PRESIGN_EXPIRES: "0" }).message).toContain("SFTS_PRESIGN_EXPIRES");
  });

  it("rejects a presign expiry above 12 h, naming the variable", () => {
    expect(configError({ ...localEnv, SFTS_PRESIGN_EXPIRES: "43201" }).message).toContain(
      "SFTS_PRESIGN_EXPIRES",
    );
  });

  it("rejects a non-numeric or fractional expiry, naming the variable", () => {
    expect(configError({ ...localEnv, SFTS_PRESIGN_EXPIRES: "soon" }).message).toContain(
      "SFTS_PRESIGN_EXPIRES",
    );
    expect(configError({ ...localEnv, SFTS_DOWNLOAD_EXPIRES: "1.5" }).message).toContain(
      "SFTS_DOWNLOAD_EXPIRES",
    );
  });

  it("rejects a path-style flag that is not a boolean word, naming the variable", () => {
    expect(configError({ ...localEnv, SFTS_S3_FORCE_PATH_STYLE: "yes" }).message).toContain(
      "SFTS_S3_FORCE_PATH_STYLE",
    );
  });

  it("names every broken variable at once", () => {
    const err = configError({ SFTS_PRESIGN_EXPIRES: "0" });
    expect(err.message).toContain("SFTS_BUCKET");
    expect(err.message).toContain("SFTS_TABLE");
    expect(err.message).toContain("SFTS_PRESIGN_EXPIRES");
  });
});
