import { JANITOR_DEFAULTS } from "../functions/core/janitor.js";

/**
 * What changes with the stage, decided once: which stages are production, and the deploy-time settings
 * (environment variables read by `sst deploy`, each with a default that needs no configuration).
 */

/** `sst deploy --stage prod` (or `production`) deploys production: data is retained and protected. */
export const PRODUCTION_STAGES: readonly string[] = ["prod", "production"];

export const isProductionStage = (stage: string): boolean => PRODUCTION_STAGES.includes(stage);

export interface Settings {
  stage: string;
  production: boolean;
  /** S3 lifecycle: multipart uploads not completed this many days after they started are aborted. */
  abortIncompleteUploadsAfterDays: number;
  /** Janitor: an uploading transfer untouched this long is abandoned and aborted. */
  abandonedAfterHours: number;
  /** Janitor: a transfer assembling this long is stuck (a Lambda runs 15 minutes at most); assemble it again. */
  assemblingStuckAfterMinutes: number;
  /** How often the janitor runs (an EventBridge schedule expression). */
  janitorSchedule: `rate(${string})` | `cron(${string})`;
  /** Origins besides the dashboard's own allowed to PUT parts from a browser (CORS), e.g. a dev server. */
  extraCorsOrigins: string[];
}

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name} must be a whole number of at least 1, not "${text}"`);
  return n;
}

export function settings(stage: string, env: Record<string, string | undefined>): Settings {
  const schedule = env.SFTS_JANITOR_SCHEDULE || "rate(1 hour)";
  if (!/^(rate|cron)\(.+\)$/.test(schedule))
    throw new Error(`SFTS_JANITOR_SCHEDULE must be rate(…) or cron(…), not "${schedule}"`);
  const origins = (env.SFTS_CORS_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of origins)
    if (!/^https?:\/\/[^/]+$/.test(o))
      throw new Error(`SFTS_CORS_ORIGINS: "${o}" is not an origin (scheme://host[:port], no path)`);
  return {
    stage,
    production: isProductionStage(stage),
    abortIncompleteUploadsAfterDays: positiveInt(env, "SFTS_ABORT_INCOMPLETE_DAYS", 7),
    abandonedAfterHours: positiveInt(env, "SFTS_ABANDONED_AFTER_HOURS", JANITOR_DEFAULTS.abandonedAfterHours),
    assemblingStuckAfterMinutes: positiveInt(
      env,
      "SFTS_ASSEMBLING_STUCK_MINUTES",
      JANITOR_DEFAULTS.assemblingStuckAfterMinutes,
    ),
    janitorSchedule: schedule as Settings["janitorSchedule"],
    extraCorsOrigins: origins,
  };
}
