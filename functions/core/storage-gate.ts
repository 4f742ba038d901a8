/**
 * The storage gate: whether the coordinator serves transfers, from what the probe found. An explicit
 * state machine:
 *   pending ──ensure()──▶ probing ──▶ verified             (serving)
 *                                 ├─▶ unverified-allowed   (serving; records say storageCheck "none")
 *                                 └─▶ refused              (not serving: unverified, or the probe failed)
 *   refused (probe failed) ──ensure() after retryFailedAfterMs──▶ probing   (a failure is not kept)
 *   any settled phase ──ensure({ fresh: true })──▶ probing                   (npm start probes every time)
 * ensure() runs the resolver (the kept result for this configuration, or a new probe) once at a time:
 * concurrent callers share one run. guard() is what transfer routes call: it waits for a settled phase and
 * throws STORAGE_UNVERIFIED, with the probe's sentence, unless serving.
 */
import type { StorageInfo, StorageProbe, StorageSummary } from "../contract/storage.js";
import { AppError } from "./errors.js";
import type { Clock, StorageCheck } from "./ports.js";
import { type StorageProfile, storageRules } from "./storage-profiles.js";

export type GatePhase = "pending" | "probing" | "verified" | "unverified-allowed" | "refused";

export interface StorageGateDeps {
  profile: StorageProfile;
  allowUnverified: boolean;
  /** The address presigned URLs point at (StorageInfo.endpoint). */
  endpoint: string;
  /** The probe's result for this configuration: kept in the table, or run now (fresh: run regardless). */
  resolve: (opts: { fresh: boolean }) => Promise<StorageProbe>;
  clock?: Clock;
  /** A failed probe is run again by the first ensure() this long after it (default one minute). */
  retryFailedAfterMs?: number;
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}

export const DEFAULT_RETRY_FAILED_AFTER_MS = 60_000;

export class StorageGate {
  private phaseNow: GatePhase = "pending";
  private probe: StorageProbe;
  private running: Promise<void> | undefined;
  private settledAt = 0;
  private readonly clock: Clock;

  constructor(private readonly deps: StorageGateDeps) {
    this.clock = deps.clock ?? { now: () => new Date() };
    this.probe = {
      state: "pending",
      partCheck: deps.profile.partCheck,
      message: "The storage probe has not run yet.",
    };
  }

  get phase(): GatePhase {
    return this.phaseNow;
  }

  get serving(): boolean {
    return this.phaseNow === "verified" || this.phaseNow === "unverified-allowed";
  }

  /** Settles the gate (probing if it must) and says where it stands. */
  async ensure(opts: { fresh?: boolean } = {}): Promise<StorageInfo> {
    if (this.running) await this.running;
    if (opts.fresh || this.due()) await this.start(opts.fresh === true);
    return this.info();
  }

  /** For transfer routes: resolves when serving, else throws STORAGE_UNVERIFIED with the reason. */
  async guard(): Promise<void> {
    if (!this.serving) await this.ensure();
    if (!this.serving) throw new AppError("STORAGE_UNVERIFIED", this.sentence());
  }

  /** What a new transfer's record says storage checks its parts against. */
  storageCheck(): StorageCheck {
    return this.phaseNow === "unverified-allowed" ? "none" : this.deps.profile.partCheck;
  }

  info(): StorageInfo {
    return {
      rules: storageRules(this.deps.profile),
      label: this.deps.profile.label,
      probe: this.probe,
      allowUnverified: this.deps.allowUnverified,
      serving: this.serving,
      endpoint: this.deps.endpoint,
    };
  }

  /** For health and /api/stats; waits up to waitMs for a pending or running probe to settle. */
  async summary(waitMs = 0): Promise<StorageSummary> {
    if (waitMs > 0 && (this.phaseNow === "pending" || this.phaseNow === "probing")) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.ensure().catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, waitMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const p = this.deps.profile;
    return {
      profile: p.name,
      label: p.label,
      partCheck: p.partCheck,
      uniformParts: p.uniformParts,
      probe: this.probe.state,
      serving: this.serving,
      message: this.sentence(),
    };
  }

  /** Why the gate stands where it does, for a person. */
  sentence(): string {
    switch (this.phaseNow) {
      case "pending":
        return "The storage probe has not run yet; transfers wait for it.";
      case "probing":
        return "The storage probe is running; transfers wait for it.";
      case "verified":
        return this.probe.message;
      case "unverified-allowed":
        return `${this.probe.message} Transfers are served anyway (SFTS_ALLOW_UNVERIFIED_STORAGE=1): their records say storageCheck "none".`;
      case "refused":
        return this.probe.state === "unverified"
          ? `${this.probe.message} Transfers are refused; set SFTS_ALLOW_UNVERIFIED_STORAGE=1 to serve them unverified, or choose the profile that matches the store (SFTS_STORAGE_PROFILE).`
          : `${this.probe.message} Transfers are refused until a probe succeeds.`;
    }
  }

  private due(): boolean {
    if (this.phaseNow === "pending") return true;
    if (this.phaseNow !== "refused" || this.probe.state !== "failed") return false;
    const after = this.deps.retryFailedAfterMs ?? DEFAULT_RETRY_FAILED_AFTER_MS;
    return this.clock.now().getTime() - this.settledAt >= after;
  }

  private start(fresh: boolean): Promise<void> {
    this.running ??= (async () => {
      this.phaseNow = "probing";
      let probe: StorageProbe;
      try {
        probe = await this.deps.resolve({ fresh });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        probe = {
          state: "failed",
          partCheck: this.deps.profile.partCheck,
          checkedAt: this.clock.now().toISOString(),
          message: `The storage probe could not finish: ${reason}.`,
        };
      }
      this.settle(probe);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private settle(probe: StorageProbe): void {
    this.probe = probe;
    this.settledAt = this.clock.now().getTime();
    this.phaseNow =
      probe.state === "verified"
        ? "verified"
        : probe.state === "unverified" && this.deps.allowUnverified
          ? "unverified-allowed"
          : "refused";
    if (this.phaseNow !== "verified")
      this.deps.warn?.("storage is not verified", { phase: this.phaseNow, probe: probe.message });
  }
}

/** A service built without a gate (tests that build one by hand): the profile, no probe, served. */
export function ungatedSummary(p: StorageProfile): StorageSummary {
  return {
    profile: p.name,
    label: p.label,
    partCheck: p.partCheck,
    uniformParts: p.uniformParts,
    probe: "pending",
    serving: true,
    message: "This coordinator runs no storage probe.",
  };
}
