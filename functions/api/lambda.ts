/**
 * AWS Lambda entry point (API Gateway HTTP API, payload v2): the same app, built once per container.
 * Configuration: the resources sst.config.ts links (SST's Resource, read here and in janitor-lambda.ts
 * only) become the SFTS_* environment loadConfig takes; plain SFTS_* variables work as well, and win.
 * On a cold start the first admin API key (SST secret AdminApiKey, or SFTS_ADMIN_TOKEN) is stored hashed
 * if the table does not know it yet: idempotent, and a key revoked since stays revoked.
 * Storage: the first request of a container waits for the storage gate (coordinator.ts): the probe's
 * result kept in the table for this configuration, or, once after each deploy, a probe run now and kept.
 * A gate that does not serve leaves reads and health up and answers transfer routes 503.
 */
import { handle } from "hono/aws-lambda";
// sst/resource, not sst: only the link reader, so nothing else of SST's client is loaded or bundled.
import { Resource } from "sst/resource";
import { checkAdminToken } from "../core/key-service.js";
import { ConfigError, loadConfig } from "./config.js";
import { createCoordinator } from "./coordinator.js";
import { createLogger } from "./logger.js";
import { ADMIN_TOKEN_ENV, envFromLinks } from "./sst-links.js";

const env = envFromLinks(Resource, process.env);
const config = loadConfig(env);
const adminToken = env[ADMIN_TOKEN_ENV] || undefined;
const badToken = adminToken === undefined ? undefined : checkAdminToken(adminToken);
if (badToken) throw new ConfigError(`Invalid coordinator configuration: ${badToken}`);

const logger = createLogger((line) => process.stdout.write(`${line}\n`), {}, config.logLevel);
const { app, keys, storage } = createCoordinator(config, logger);
const serve = handle(app);

let adminKeyStored: Promise<void> | undefined;
/** Once per container; a failure (the table unreachable) is logged and tried again on the next request. */
function storeAdminKey(): Promise<void> {
  adminKeyStored ??= keys.ensureAdminKey(adminToken, "first admin (AdminApiKey secret)").then(
    (outcome) => {
      if (outcome === "created") logger.log("info", "stored the first admin API key");
    },
    (err: unknown) => {
      adminKeyStored = undefined;
      logger.log("error", "could not store the first admin API key", {
        error: err instanceof Error ? err.message : String(err),
      });
    },
  );
  return adminKeyStored;
}

let storageSettled: Promise<void> | undefined;
/** Once per container (a failed probe is run again by the gate itself, a minute later). */
function settleStorage(): Promise<void> {
  storageSettled ??= storage.ensure().then((info) => {
    logger.log(info.serving ? "info" : "error", "storage", {
      profile: info.rules.profile,
      probe: info.probe.state,
      serving: info.serving,
      message: info.probe.message,
    });
  });
  return storageSettled;
}

export const handler = async (
  ...args: Parameters<typeof serve>
): Promise<Awaited<ReturnType<typeof serve>>> => {
  await Promise.all([storeAdminKey(), settleStorage()]);
  return serve(...args);
};
