/**
 * Scheduled Lambda (EventBridge): the janitor, configured like the API (SST links → env → loadConfig).
 * The work is core's runJanitor; this reads its two thresholds and logs the report as one JSON line.
 */
import { Resource } from "sst/resource";
import { z } from "zod";
import { JANITOR_DEFAULTS, janitorLogFields, runJanitor } from "../core/janitor.js";
import { ConfigError, loadConfig } from "./config.js";
import { createCoordinator } from "./coordinator.js";
import { createLogger } from "./logger.js";
import { envFromLinks } from "./sst-links.js";

const JanitorEnv = z.object({
  SFTS_ABANDONED_AFTER_HOURS: z.coerce.number().int().min(1).default(JANITOR_DEFAULTS.abandonedAfterHours),
  SFTS_ASSEMBLING_STUCK_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(JANITOR_DEFAULTS.assemblingStuckAfterMinutes),
});

const env = envFromLinks(Resource, process.env);
const config = loadConfig(env);
const parsed = JanitorEnv.safeParse(env);
if (!parsed.success)
  throw new ConfigError(
    `Invalid janitor configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
  );
const thresholds = parsed.data;
const logger = createLogger((line) => process.stdout.write(`${line}\n`), { fn: "janitor" }, config.logLevel);
const { service, adapters } = createCoordinator(config, logger);

export async function handler(): Promise<Record<string, unknown>> {
  const started = performance.now();
  const report = await runJanitor(
    { repo: adapters.repo, actions: service },
    {
      abandonedAfterMs: thresholds.SFTS_ABANDONED_AFTER_HOURS * 3_600_000,
      assemblingStuckAfterMs: thresholds.SFTS_ASSEMBLING_STUCK_MINUTES * 60_000,
    },
  );
  const fields = { ...janitorLogFields(report), ms: Math.round(performance.now() - started) };
  logger.log("info", "janitor", fields);
  return fields;
}
