/**
 * The probe's results, kept per configuration so a Lambda probes once after each deploy rather than on
 * every cold start. The configuration is what the result depends on: profile, storage endpoint, bucket,
 * version (a deploy) and the test-only setting that makes storage ignore checksums; allowUnverified is
 * not part of it (it decides what the gate does with a result, not the result).
 * resolveProbe: a kept result wins; else the probe runs and its result is kept, put-if-absent, so of
 * concurrent cold starts the first to write wins and the others take its result. A failed probe is never
 * kept (it is run again later); a table that cannot be read or written only costs a probe, it is warned
 * about and never fails the result.
 */
import { createHash } from "node:crypto";
import type { StorageProbe } from "../contract/storage.js";

export interface ProbeConfiguration {
  profile: string;
  endpoint: string;
  bucket: string;
  version: string;
  ignoreChecksumForTests: boolean;
}

/** Where results are kept (adapters/dynamo-probe-results.ts). */
export interface ProbeResults {
  get(configKey: string): Promise<StorageProbe | undefined>;
  /** Keeps the result unless one is kept; the result kept afterwards (this one, or the earlier one). */
  putIfAbsent(configKey: string, probe: StorageProbe, config: ProbeConfiguration): Promise<StorageProbe>;
  /** Keeps the result, replacing any. */
  put(configKey: string, probe: StorageProbe, config: ProbeConfiguration): Promise<void>;
}

/** A stable key of the configuration: the same settings give the same key in every process. */
export function probeConfigKey(c: ProbeConfiguration): string {
  const canonical = JSON.stringify([c.profile, c.endpoint, c.bucket, c.version, c.ignoreChecksumForTests]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 32);
}

export async function resolveProbe(deps: {
  results: ProbeResults;
  config: ProbeConfiguration;
  run: () => Promise<StorageProbe>;
  fresh: boolean;
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}): Promise<StorageProbe> {
  const key = probeConfigKey(deps.config);
  const warn = (what: string, err: unknown) =>
    deps.warn?.(what, { error: err instanceof Error ? err.message : String(err) });
  if (!deps.fresh) {
    const kept = await deps.results.get(key).catch((err: unknown) => {
      warn("could not read the kept storage probe result", err);
      return undefined;
    });
    if (kept) return kept;
  }
  const probe = await deps.run();
  if (probe.state === "failed") return probe;
  try {
    if (deps.fresh) await deps.results.put(key, probe, deps.config);
    else return await deps.results.putIfAbsent(key, probe, deps.config);
  } catch (err) {
    warn("could not keep the storage probe result", err);
  }
  return probe;
}
