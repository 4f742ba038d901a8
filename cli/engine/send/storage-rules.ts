/**
 * The storage rules a send follows (contract/storage.ts), learnt from GET /api/storage at the start of the
 * send: which digest each part and single PUT carries (md5 mode adds each body's MD5, computed from the
 * same buffer as its SHA-256; sha256 mode computes nothing extra), whether every part but the last has
 * the upload's one size, and the store's part limits. A coordinator without the route (older than storage
 * profiles) is taken as S3 itself: sha256, parts of any size, S3's limits. A coordinator whose storage is
 * not serving transfers (its probe found storage accepting damaged bytes, or could not finish) stops the
 * send before any entry or part spec goes out, with the probe's words: nothing is lost.
 */
import { createHash } from "node:crypto";
import {
  MAX_OBJECT_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MIN_PART_SIZE,
} from "../../../functions/contract/limits.js";
import type { StorageInfo, StorageRules } from "../../../functions/contract/storage.js";
import { CliError, EXIT } from "../errors.js";

/** What a coordinator without GET /api/storage enforces: S3's own rules. */
export const S3_RULES: StorageRules = {
  profile: "aws",
  partCheck: "sha256",
  uniformParts: false,
  minPartSize: MIN_PART_SIZE,
  maxPartSize: MAX_PART_SIZE,
  maxParts: MAX_PARTS,
  maxObjectSize: MAX_OBJECT_SIZE,
};

/** The rules of a GET /api/storage answer (undefined: an older coordinator), or the refusal to send. */
export function rulesOf(info: StorageInfo | undefined): StorageRules {
  if (!info) return S3_RULES;
  if (!info.serving) {
    const allow =
      info.probe.state === "unverified"
        ? " (SFTS_ALLOW_UNVERIFIED_STORAGE=1 on the coordinator serves transfers anyway, unverified)"
        : "";
    const said = info.probe.message.replace(/[.\s]+$/, "");
    throw new CliError(
      "STORAGE_UNVERIFIED",
      `The coordinator serves no transfers (storage: ${info.label}, probe: ${info.probe.state}): ${said}${allow}. Nothing was sent.`,
      EXIT.NETWORK,
    );
  }
  return info.rules;
}

/** MD5 of a body, base64, as Content-MD5 carries it. */
export const md5Base64 = (b: Uint8Array): string => createHash("md5").update(b).digest("base64");
