/**
 * Wires config → SDK clients → adapters → service → app. Used by the Lambda entry point and the local stack.
 * `storage` is the storage gate (core/storage-gate.ts): `storage.ensure()` settles it (the probe's kept
 * result for this configuration, or a probe run now; `{ fresh: true }` probes regardless, as `npm start`
 * does) and answers StorageInfo; transfer routes wait for it and are refused unless it serves.
 */
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type AdapterOptions, type Adapters, buildAdapters } from "../adapters/clients.js";
import { DynamoProbeResults } from "../adapters/dynamo-probe-results.js";
import { StoreProbeTarget } from "../adapters/store-probe-target.js";
import { BatchService } from "../core/batch-service.js";
import { KeyService } from "../core/key-service.js";
import { MonitorService } from "../core/monitor-service.js";
import { type ProbeConfiguration, resolveProbe } from "../core/probe-results.js";
import { ShareService } from "../core/share-service.js";
import { StorageGate } from "../core/storage-gate.js";
import { runStorageProbe } from "../core/storage-probe.js";
import { TransferService } from "../core/transfer-service.js";
import { createApp } from "./app.js";
import type { AppConfig } from "./config.js";
import { type Logger, silentLogger } from "./logger.js";

export function createCoordinator(
  config: AppConfig,
  logger: Logger = silentLogger,
  adapterOptions: AdapterOptions = {},
) {
  const adapters = buildAdapters(config, adapterOptions);
  const warn = (message: string, fields?: Record<string, unknown>) => logger.log("warn", message, fields);
  const storage = storageGate(config, adapters, warn);
  const storageCheck = () => storage.storageCheck();
  // The batch service counts a batch's multipart files as the transfer service ends them; it is built
  // after the transfer service it delegates to, so the hook reaches it through this variable.
  let batches: BatchService | undefined;
  const service = new TransferService({
    repo: adapters.repo,
    store: adapters.store,
    config: {
      presignExpiresSeconds: config.presignExpiresSeconds,
      downloadExpiresSeconds: config.downloadExpiresSeconds,
      version: config.version,
      statsFlushMs: config.statsFlushMs,
    },
    warn,
    activity: adapters.activity,
    storage: config.storage.profile,
    storageCheck,
    storageStatus: (waitMs) => storage.summary(waitMs),
    onTransferEnded: async (t, status) => batches?.onTransferEnded(t, status),
  });
  batches = new BatchService(
    {
      repo: adapters.repo,
      batches: adapters.batches,
      store: adapters.store,
      transfers: service,
      config: { presignExpiresSeconds: config.presignExpiresSeconds },
      warn,
      activity: adapters.activity,
      storage: config.storage.profile,
      storageCheck,
    },
    () => service.limits(),
  );
  const shares = new ShareService({ repo: adapters.repo, store: adapters.store, batches: adapters.batches });
  const keys = new KeyService({ repo: adapters.repo });
  // Series points are coalesced in the transfer service's stats buffer: a read writes what it holds first.
  const activity = adapters.activity;
  const monitor = new MonitorService(
    {
      record: (e) => activity.record(e),
      timeline: (id) => activity.timeline(id),
      recentErrors: (n) => activity.recentErrors(n),
      addToMinute: (m, d) => activity.addToMinute(m, d),
      series: async (from, to) => {
        await service.flushStats();
        return activity.series(from, to);
      },
    },
    adapters.repo,
  );
  const app = createApp({
    service,
    shares,
    batches,
    keys,
    monitor,
    storage,
    rateLimit: config.rateLimit,
    logger,
  });
  return { app, service, shares, batches, keys, adapters, storage };
}

/** The address presigned URLs point at, as clients see it. */
export function storageEndpoint(config: AppConfig): string {
  return config.s3.publicEndpoint ?? config.s3.endpoint ?? `https://s3.${config.region}.amazonaws.com`;
}

/** What the probe's result depends on (core/probe-results.ts): the store as the coordinator reaches it. */
export function probeConfiguration(config: AppConfig): ProbeConfiguration {
  return {
    profile: config.storage.profile.name,
    endpoint: config.s3.endpoint ?? `aws:${config.region}`,
    bucket: config.bucket,
    version: config.version,
    ignoreChecksumForTests: config.storage.ignoreChecksumForTests,
  };
}

function storageGate(
  config: AppConfig,
  adapters: Adapters,
  warn: (message: string, fields?: Record<string, unknown>) => void,
): StorageGate {
  const profile = config.storage.profile;
  const doc = DynamoDBDocumentClient.from(adapters.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const results = new DynamoProbeResults(doc, config.table);
  const run = () =>
    runStorageProbe(
      new StoreProbeTarget(adapters.store.internal()),
      {
        partCheck: profile.partCheck,
        uniformParts: profile.uniformParts,
        minPartSize: profile.limits.minPartSize,
      },
      { warn },
    );
  return new StorageGate({
    profile,
    allowUnverified: config.storage.allowUnverified,
    endpoint: storageEndpoint(config),
    resolve: ({ fresh }) => resolveProbe({ results, config: probeConfiguration(config), run, fresh, warn }),
    warn,
  });
}
