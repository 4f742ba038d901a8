/**
 * What the page says of storage, from the StorageSummary health and /api/stats carry: the profile, what
 * storage verifies per part, and the probe's result, in words (a state is never told by colour alone).
 * Pure: the health card's Storage row and the page's banner both read `storageView`.
 *
 *   probe       serving  state    word         banner
 *   verified    yes      ok       Verified     -
 *   unverified  yes      warn     Unverified   parts are not verified by storage (allowed by the operator)
 *   pending     yes      warn     Not probed   -
 *   any         no       down     Refused      transfers are refused: the probe's sentence
 *   (no summary: an older coordinator)  unknown  Unknown  -
 * With a banner, the row says what happened in a few words; without, it gives the probe's sentence.
 */
import type { StorageSummary } from "../../functions/contract/storage.js";

export interface StorageView {
  state: "ok" | "warn" | "down" | "unknown";
  word: string;
  /** The profile and what storage verifies, e.g. "versitygw (profile versitygw) · checks each part's SHA-256". */
  detail: string;
  /** The probe's sentence, shown when the state is not ok. */
  message?: string;
  /** A page-wide notice, for states that change what transfers get. */
  banner?: { title: string; text: string };
}

/** "checks" only once the probe proved storage does; before, the digest is only signed. */
const CHECKS = {
  sha256: ["storage checks each part's SHA-256", "parts signed with SHA-256"],
  md5: ["storage checks each part's MD5", "parts signed with MD5"],
} as const;

export function storageView(s: StorageSummary | undefined): StorageView {
  if (!s)
    return { state: "unknown", word: "Unknown", detail: "this coordinator does not report its storage" };
  const checks = CHECKS[s.partCheck][s.probe === "verified" ? 0 : 1];
  const detail = `${s.label} (profile ${s.profile}) · ${checks}${s.uniformParts ? " · uniform parts" : ""}`;
  // With a banner, the row says it in a few words and the banner gives the probe's whole sentence.
  const short = `Storage ${phrase(s.probe)}.`;
  if (!s.serving)
    return {
      state: "down",
      word: "Refused",
      detail,
      message: short,
      banner: { title: "Transfers are refused", text: s.message },
    };
  if (s.probe === "verified") return { state: "ok", word: "Verified", detail };
  if (s.probe === "unverified")
    return {
      state: "warn",
      word: "Unverified",
      detail,
      message: short,
      banner: {
        title: "Storage does not verify parts",
        text: `Transfers are served because unverified storage is allowed; only each file's SHA-256 protects its bytes. ${s.message}`,
      },
    };
  return {
    state: "warn",
    word: s.probe === "pending" ? "Not probed" : "Probe failed",
    detail,
    message: s.message,
  };
}

function phrase(probe: StorageSummary["probe"]): string {
  switch (probe) {
    case "unverified":
      return "accepted damaged bytes";
    case "pending":
      return "has not been probed yet";
    case "failed":
      return "could not be probed";
    default:
      return "is not served";
  }
}
