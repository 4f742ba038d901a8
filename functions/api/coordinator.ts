/** Wires config → SDK clients → adapters → service → app. Used by the Lambda entry point and the local stack. */
import { type AdapterOptions, buildAdapters } from "../adapters/clients.js";
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
  const service = new TransferService({
    repo: adapters.repo,
    store: adapters.store,
    config: {
      presignExpiresSeconds: config.presignExpiresSeconds,
      downloadExpiresSeconds: config.downloadExpiresSeconds,
      version: config.version,
    },
    warn: (message, fields) => logger.log("warn", message, fields),
    activity: adapters.activity,
  });
  const shares = new ShareService({ repo: adapters.repo, store: adapters.store });
  const keys = new KeyService({ repo: adapters.repo });
  const monitor = new MonitorService(adapters.activity, adapters.repo);
  const app = createApp({ service, shares, keys, monitor, rateLimit: config.rateLimit, logger });
  return { app, service, shares, keys, adapters };
}
