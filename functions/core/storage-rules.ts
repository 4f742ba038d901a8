/**
 * The storage profile's rules as the coordinator applies them to what senders ask for (pure functions):
 *   md5 check      on a profile whose partCheck is md5, every part spec and single-PUT entry carries its
 *                  MD5 (signed as Content-MD5): a spec without one is refused (400 INVALID_INPUT)
 *   uniform parts  an upload whose record has a partSize (made on a uniformParts profile) is cut by it:
 *                  part n covers [(n-1)×partSize, min(n×partSize, size)); other specs are refused
 *                  (400 INVALID_PART), and what is missing is named by those positions
 * The partSize of a new upload is fixed once (uploadPartSize) and kept on its TransferRecord, so a resume
 * under another hint, or after a restart, cuts the file the same way.
 */

import { partSizeFor, uniformPart } from "../contract/part-rules.js";
import { hexToBase64 } from "./checksums.js";
import { AppError } from "./errors.js";
import { type Gap, missingRanges, type PartRange } from "./part-math.js";
import type { Digests } from "./ports.js";
import type { StorageProfile } from "./storage-profiles.js";

/** Refuses specs without an MD5 when storage checks Content-MD5; `what` names the file in the message. */
export function requireMd5(
  profile: StorageProfile,
  specs: readonly { partNumber?: number; md5?: string | undefined }[],
  what = "",
): void {
  if (profile.partCheck !== "md5") return;
  const bare = specs.find((s) => s.md5 === undefined);
  if (!bare) return;
  const which = bare.partNumber === undefined ? "the file's md5 (one PUT)" : "each part's md5";
  throw new AppError(
    "INVALID_INPUT",
    `${what}This storage (${profile.label}, ${profile.name} profile) checks parts by Content-MD5: give ${which}` +
      (bare.partNumber === undefined ? "." : `; part ${bare.partNumber} has none.`),
    { rule: "md5", ...(bare.partNumber !== undefined && { partNumber: bare.partNumber }) },
  );
}

/** A part's or object's digests for the store, base64. */
export const digestsOf = (spec: { sha256: string; md5?: string | undefined }): Digests => ({
  sha256Base64: hexToBase64(spec.sha256),
  ...(spec.md5 !== undefined && { md5Base64: spec.md5 }),
});

/**
 * The one part size of a new upload on a uniform-parts profile (undefined elsewhere): the hint (or 8 MiB)
 * within the profile's part sizes, raised to the whole MiB that fits the file in its part count.
 */
export function uploadPartSize(profile: StorageProfile, fileSize: number, hint?: number): number | undefined {
  if (!profile.uniformParts) return undefined;
  return partSizeFor(fileSize, hint, profile.limits);
}

/** Throws INVALID_PART unless each part sits where the upload's part size puts it. */
export function checkUniform(
  t: { size: number; partSize?: number | undefined },
  parts: readonly PartRange[],
): void {
  const partSize = t.partSize;
  if (partSize === undefined) return;
  const count = Math.ceil(t.size / partSize);
  for (const p of parts) {
    const want = uniformPart(p.partNumber, partSize, t.size);
    if (p.partNumber > count)
      throw new AppError(
        "INVALID_PART",
        `Part ${p.partNumber} does not exist: this upload has ${count} parts of ${partSize} bytes (storage needs one part size).`,
        { rule: "uniform", partSize, partNumber: p.partNumber },
      );
    if (p.offset !== want.offset || p.size !== want.size)
      throw new AppError(
        "INVALID_PART",
        `Part ${p.partNumber} must cover bytes ${want.offset}–${want.offset + want.size - 1} ` +
          `(this storage needs every part but the last to be ${partSize} bytes), not ${p.offset}–${p.offset + p.size - 1}.`,
        { rule: "uniform", partSize, partNumber: p.partNumber },
      );
  }
}

/** What is missing of an upload cut by `partSize`: the ranges no recorded part covers, with their numbers. */
export function uniformMissing(fileSize: number, partSize: number, parts: readonly PartRange[]): Gap[] {
  return missingRanges(fileSize, parts).map((g) => ({
    ...g,
    firstPart: Math.floor(g.offset / partSize) + 1,
    lastPart: Math.ceil((g.offset + g.size) / partSize),
  }));
}
