/**
 * The verdicts of `sfts doctor` (doctor.ts runs them in order): each turns an answer into a check, data
 * a person reads (detail) and acts on (hint). Pure: no I/O, no clock but the times the answer carries.
 */
import type { StorageInfo, StorageSummary } from "../../functions/contract/storage.js";
import type { CheckName, CheckStatus, DoctorCheck, HealthAnswer, StorageAnswer } from "./doctor.js";

export const SKEW_WARN_MS = 60_000;
/** SigV4: storage refuses a request whose X-Amz-Date is more than 15 minutes from its clock. */
export const SKEW_FAIL_MS = 15 * 60_000;

const TITLES: Record<CheckName, string> = {
  server: "Server",
  token: "API token",
  storage: "Storage",
  "storage-reach": "Storage reachable",
  clock: "Clock",
};

export const check = (name: CheckName, status: CheckStatus, detail: string, hint?: string): DoctorCheck => ({
  name,
  title: TITLES[name],
  status,
  detail,
  ...(hint !== undefined && { hint }),
});

export function serverCheck(server: string, h: HealthAnswer): DoctorCheck {
  const dep = (name: string, c: HealthAnswer["checks"]["s3"]) =>
    c.ok ? `${name} ok (${c.latencyMs} ms)` : `${name} down${c.error ? ` (${c.error})` : ""}`;
  const detail = `${server} answers: SFTS v${h.version}; ${dep("S3", h.checks.s3)}, ${dep("DynamoDB", h.checks.dynamodb)}`;
  if (!h.checks.s3.ok || !h.checks.dynamodb.ok)
    return check(
      "server",
      "fail",
      detail,
      "The coordinator cannot reach its storage or its table: see its log and its configuration",
    );
  // Degraded because storage refuses transfers: the storage check tells it, once.
  if (h.status !== "ok" && h.storage?.serving === false)
    return check("server", "ok", `${detail}; degraded: storage refuses transfers (see Storage)`);
  if (h.status !== "ok") return check("server", "warn", `${detail}; it reports itself degraded`);
  return check("server", "ok", detail);
}

const DIGEST = {
  sha256: "each part's SHA-256 (signed x-amz-checksum-sha256)",
  md5: "each part's MD5 (signed Content-MD5)",
} as const;

/** What the profile has storage check; "verifies" only once the probe proved it does. */
function rulesText(
  s: { label: string; profile: string; partCheck: "sha256" | "md5"; uniformParts: boolean },
  state: string,
) {
  const parts = s.uniformParts
    ? "uniform parts (every part but the last has one size)"
    : "parts may differ in size";
  const who = state === "verified" ? "storage verifies" : "the coordinator signs";
  return `${s.label} (profile ${s.profile}): ${who} ${DIGEST[s.partCheck]}; ${parts}`;
}

/** The probe's sentence says what was found and what follows: told unless storage is verified. */
const sentence = (state: string, message: string) => (state === "verified" ? "" : `. ${message}`);

export function storageCheck(info: StorageInfo): DoctorCheck {
  const p = info.probe;
  const found = [
    p.damagedPart && `damaged part: ${p.damagedPart}`,
    p.damagedObject && `damaged object: ${p.damagedObject}`,
    p.uniformAssembled !== undefined && `uniform upload: ${p.uniformAssembled ? "assembled" : "refused"}`,
  ].filter(Boolean);
  const probe = `probe ${p.state}${found.length ? ` (${found.join(", ")})` : ""}${sentence(p.state, p.message)}`;
  return judgeStorage(
    p.state,
    info.serving,
    `${rulesText({ ...info.rules, label: info.label }, p.state)}; ${probe}`,
  );
}

export function summaryCheck(s: StorageSummary): DoctorCheck {
  const detail = `${rulesText(s, s.probe)}; probe ${s.probe}${sentence(s.probe, s.message)} (from /health)`;
  return judgeStorage(s.probe, s.serving, detail);
}

function judgeStorage(state: StorageInfo["probe"]["state"], serving: boolean, detail: string): DoctorCheck {
  if (!serving)
    return check(
      "storage",
      "fail",
      `Transfers are refused: ${detail}`,
      state === "unverified"
        ? "On the coordinator: set SFTS_STORAGE_PROFILE to your store's profile, or SFTS_ALLOW_UNVERIFIED_STORAGE=1 to serve with each file's SHA-256 as the only check"
        : state === "pending"
          ? "The coordinator has not probed storage yet: try again in a moment"
          : "The probe could not finish: check the coordinator's bucket, endpoint and credentials, and its log",
    );
  if (state === "verified") return check("storage", "ok", detail);
  return check(
    "storage",
    "warn",
    detail,
    state === "unverified"
      ? "Served because SFTS_ALLOW_UNVERIFIED_STORAGE=1: parts are not verified by storage (receivers still check each file's SHA-256)"
      : undefined,
  );
}

/** Storage's clock minus this machine's. Date has whole seconds: storage's time is in [Date, Date + 1 s). */
export function skewOf(a: StorageAnswer): number | undefined {
  const at = a.date ? Date.parse(a.date) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.round(at + 500 - (a.sentAt + a.answeredAt) / 2);
}

export function formatSkew(ms: number): string {
  const sign = ms < 0 ? "−" : "+";
  const abs = Math.abs(ms);
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(1)} s`;
  const seconds = Math.round(abs / 1000);
  return `${sign}${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export function clockCheck(
  answer: StorageAnswer | undefined,
  local: number | undefined,
  coordinator: number | undefined,
): DoctorCheck {
  if (local === undefined && coordinator === undefined)
    return answer
      ? check("clock", "warn", "Storage's answer had no Date header: the clock could not be compared")
      : check("clock", "skip", "Not checked: it needs an answer from storage");
  const parts = [
    local !== undefined ? `this machine ${formatSkew(-local)} against storage` : "this machine not compared",
    coordinator !== undefined ? `the coordinator ${formatSkew(-coordinator)} (its probe)` : undefined,
  ].filter(Boolean);
  const detail = parts.join("; ");
  const worst = Math.max(Math.abs(local ?? 0), Math.abs(coordinator ?? 0));
  const whose =
    Math.abs(local ?? 0) >= Math.abs(coordinator ?? 0)
      ? "Set this machine's clock (NTP)"
      : "Set the coordinator's clock (NTP): it signs the presigned URLs";
  if (worst > SKEW_FAIL_MS)
    return check("clock", "fail", `${detail}: storage refuses requests signed more than 15 min away`, whose);
  if (worst > SKEW_WARN_MS) return check("clock", "warn", `${detail}: more than a minute`, whose);
  return check("clock", "ok", detail);
}
