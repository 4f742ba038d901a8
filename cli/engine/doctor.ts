/**
 * `sfts doctor`: what stands between this machine and a working transfer, as a list of checks, each
 * data (name, status, detail, hint). The engine only judges answers (the verdicts are in doctor-checks.ts);
 * the calls it needs are injected (`DoctorProbes`; doctor-probes.ts makes them over HTTP), so every
 * verdict is unit-tested with fakes.
 *
 * The checks, in order (a check that needs what an earlier one could not get is `skip`, never a guess):
 *   server         GET /health answers: version, its S3 and DynamoDB checks          fail → exit 4
 *   token          GET /api/keys/me accepts the token                                 fail → exit 5
 *   storage        GET /api/storage (an admin key: POST /api/storage/probe, a probe run
 *                  now): profile, what storage verifies per part, the
 *                  probe's result, uniform parts; fail when transfers are refused
 *                  (an older coordinator without the route: warn; without a token,
 *                  health's storage summary stands in)                               fail → exit 6
 *   storage-reach  an HTTP request to the endpoint presigned URLs name: any answer,
 *                  even 403, means this machine reaches storage                       fail → exit 7
 *   clock          storage's Date header against this machine's clock, and the
 *                  probe's skew of the coordinator's: warn above 1 min, fail above
 *                  15 min (SigV4 refuses a request signed 15 min away from storage)  fail → exit 6
 * Warnings never fail the command; the exit code is the first failing check's.
 */
import type { ApiKeyInfo } from "../../functions/contract/keys.js";
import type { HealthResponse } from "../../functions/contract/schemas.js";
import type { StorageInfo, StorageSummary } from "../../functions/contract/storage.js";
import { check, clockCheck, serverCheck, skewOf, storageCheck, summaryCheck } from "./doctor-checks.js";
import { EXIT, type ExitCode } from "./errors.js";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";
export type CheckName = "server" | "token" | "storage" | "storage-reach" | "clock";

export interface DoctorCheck {
  name: CheckName;
  title: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warning or a failure. */
  hint?: string;
}

/** /health's answer as an older coordinator may give it too (no storage summary). */
export type HealthAnswer = Omit<HealthResponse, "storage"> & { storage?: StorageSummary | undefined };

/** A call that got no usable answer: the reason in words (and the CLI's code, e.g. UNAUTHORIZED). */
export class ProbeFailure extends Error {
  constructor(
    message: string,
    readonly code = "UNREACHABLE",
  ) {
    super(message);
  }
}

export interface StorageAnswer {
  /** HTTP status storage answered with (403 for an unsigned request is the usual). */
  status: number;
  /** Storage's Date header, if any. */
  date: string | null;
  /** Local clock (ms) when the request was sent and when its answer arrived. */
  sentAt: number;
  answeredAt: number;
}

export interface DoctorProbes {
  /** GET /health (200 or 503 both carry the answer); throws ProbeFailure when nothing usable came. */
  health(): Promise<HealthAnswer>;
  /** GET /api/keys/me; throws ProbeFailure (code UNAUTHORIZED for a refused token). */
  whoAmI(): Promise<ApiKeyInfo>;
  /**
   * GET /api/storage, or with `fresh` (an admin key) POST /api/storage/probe, which probes storage now; null
   * when the coordinator has no such route (older than storage profiles).
   */
  storage(opts?: { fresh?: boolean }): Promise<StorageInfo | null>;
  /** Any HTTP request to storage's endpoint; throws ProbeFailure when no answer came. */
  reach(endpoint: string): Promise<StorageAnswer>;
}

export interface DoctorReport {
  server: string;
  ok: boolean;
  exitCode: ExitCode;
  checks: DoctorCheck[];
  version?: string;
  storage?: StorageInfo | StorageSummary;
  /** Storage's clock minus this machine's, and minus the coordinator's (the probe's), in ms. */
  clockSkewMs?: { local?: number; coordinator?: number };
}

const FAIL_EXIT: Record<CheckName, ExitCode> = {
  server: EXIT.SERVER_UNREACHABLE,
  token: EXIT.AUTH,
  storage: EXIT.REJECTED,
  "storage-reach": EXIT.NETWORK,
  clock: EXIT.REJECTED,
};

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function runDoctor(
  server: string,
  probes: DoctorProbes,
  opts: { hasToken: boolean },
): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const report: Omit<DoctorReport, "ok" | "exitCode" | "checks"> = { server };

  let health: HealthAnswer | undefined;
  try {
    health = await probes.health();
    report.version = health.version;
    checks.push(serverCheck(server, health));
  } catch (e) {
    checks.push(
      check(
        "server",
        "fail",
        `No answer from ${server}: ${reason(e)}`,
        "Is the coordinator running at that address? Set it with --server or SFTS_SERVER (`npm start` runs a local one)",
      ),
    );
  }

  let tokenOk = false;
  let admin = false;
  if (!opts.hasToken)
    checks.push(
      check(
        "token",
        "fail",
        "No API token",
        "Pass --token, set SFTS_TOKEN, or run `sfts login`; an admin makes one with `sfts keys create`",
      ),
    );
  else if (!health) checks.push(check("token", "skip", "Not checked: the server did not answer"));
  else
    try {
      const key = await probes.whoAmI();
      tokenOk = true;
      admin = key.role === "admin";
      checks.push(check("token", "ok", `Key "${key.name}" (${key.keyId}, ${key.role})`));
    } catch (e) {
      const refused = e instanceof ProbeFailure && e.code === "UNAUTHORIZED";
      checks.push(
        refused
          ? check(
              "token",
              "fail",
              reason(e),
              "Check --token or SFTS_TOKEN (or the one `sfts login` saved); it may have been revoked",
            )
          : check("token", "fail", `Could not check the token: ${reason(e)}`),
      );
    }

  let info: StorageInfo | null | undefined;
  if (tokenOk)
    try {
      // An admin's doctor has the coordinator probe storage now; any other key reads the kept result.
      info = await probes.storage({ fresh: admin });
    } catch (e) {
      checks.push(check("storage", "fail", `GET /api/storage failed: ${reason(e)}`));
    }
  if (info) {
    report.storage = info;
    checks.push(storageCheck(info));
  } else if (info === null)
    checks.push(
      check(
        "storage",
        "warn",
        "This coordinator has no GET /api/storage (it is older than storage profiles): what storage verifies is not known",
        "Update the coordinator to learn its storage profile and probe",
      ),
    );
  else if (!checks.some((c) => c.name === "storage")) {
    if (health?.storage) {
      report.storage = health.storage;
      checks.push(summaryCheck(health.storage));
    } else checks.push(check("storage", "skip", "Not checked: it needs the server and a valid token"));
  }

  let answer: StorageAnswer | undefined;
  if (!info)
    checks.push(check("storage-reach", "skip", "Not checked: storage's address comes from GET /api/storage"));
  else
    try {
      answer = await probes.reach(info.endpoint);
      checks.push(
        check(
          "storage-reach",
          "ok",
          `${info.endpoint} answered ${answer.status} in ${Math.round(answer.answeredAt - answer.sentAt)} ms`,
        ),
      );
    } catch (e) {
      checks.push(
        check(
          "storage-reach",
          "fail",
          `${info.endpoint} cannot be reached from this machine: ${reason(e)}`,
          "Presigned URLs point there: this machine must reach it (DNS, firewall, proxy). If it is an address only the coordinator sees, set SFTS_S3_PUBLIC_ENDPOINT on the coordinator",
        ),
      );
    }

  const coordinatorSkew = info?.probe.clockSkewMs;
  const localSkew = answer ? skewOf(answer) : undefined;
  if (localSkew !== undefined || coordinatorSkew !== undefined)
    report.clockSkewMs = {
      ...(localSkew !== undefined && { local: localSkew }),
      ...(coordinatorSkew !== undefined && { coordinator: coordinatorSkew }),
    };
  checks.push(clockCheck(answer, localSkew, coordinatorSkew));

  const failed = checks.find((c) => c.status === "fail");
  return { ...report, ok: !failed, exitCode: failed ? FAIL_EXIT[failed.name] : EXIT.OK, checks };
}

const MARK: Record<CheckStatus, string> = { ok: "✓", warn: "!", fail: "✗", skip: "-" };

/** One line per check, its hint under it; then a verdict. */
export function renderDoctor(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.title.length));
  const lines = [`sfts doctor: ${r.server}`];
  for (const c of r.checks) {
    lines.push(`${MARK[c.status]} ${c.title.padEnd(width)}  ${c.detail}`);
    if (c.hint && c.status !== "ok") lines.push(`  ${" ".repeat(width)}  → ${c.hint}`);
  }
  const failed = r.checks.filter((c) => c.status === "fail").map((c) => c.title);
  const warned = r.checks.filter((c) => c.status === "warn").length;
  lines.push(
    failed.length
      ? `${failed.length} check${failed.length > 1 ? "s" : ""} failed: ${failed.join(", ")}.`
      : `All checks pass${warned ? ` (${warned} warning${warned > 1 ? "s" : ""})` : ""}.`,
  );
  return `${lines.join("\n")}\n`;
}
