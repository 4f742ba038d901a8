/** Wires config → SDK clients → adapters → service → app. Used by the Lambda entry point and the local stack. */
import { type AdapterOptions, buildAdapters } from "../adapters/clients.js";
import { BatchService } from "../core/batch-service.js";
import { KeyService } from "../core/key-service.js";
import { MonitorService } from "../core/monitor-service.js";
import { ShareService } from "../core/share-service.js";
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
  const app = createApp({ service, shares, batches, keys, monitor, rateLimit: config.rateLimit, logger });
  return { app, service, shares, batches, keys, adapters };
}
