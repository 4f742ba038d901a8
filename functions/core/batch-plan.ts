/**
 * The pure half of answering a batch's file entries: every entry is checked before anything is read or
 * written (a refused call changes nothing), then each is decided from what the table says about it:
 *   done       complete already (resumed) or the same content is stored (dedupe, or an empty file)
 *   put        one presigned PutObject (new, or resumed: `stored` if storage already holds the bytes)
 *   multipart  delegated to the transfer service's find-or-create init
 * A resumeId counts only for a transfer of this batch at this path; if its content differs (the file
 * changed) the old transfer is superseded: aborted if unfinished, and taken out of the batch's listing.
 * A multipart entry may come without its SHA-256 (content pending: the sender hashes it while sending);
 * it then resumes an unfinished upload of its path and size, else starts one, and POST /upload/{id}/content
 * takes the decisions that need the content (upload-content.ts).
 */
import type { BatchFileEntry } from "../contract/batches.js";
import { DEFAULT_PART_SIZE, MAX_SINGLE_PUT_SIZE } from "../contract/limits.js";
import type { PartSpec, Priority } from "../contract/schemas.js";
import { EMPTY_SHA256_HEX } from "./checksums.js";
import { AppError } from "./errors.js";
import { checkNeighbours, checkPart } from "./part-math.js";
import { CONTENT_PENDING, type StoredObjectRecord, type TransferRecord } from "./ports.js";
import { STORAGE_PROFILES, type StorageProfile } from "./storage-profiles.js";
import { checkUniform, requireMd5, uploadPartSize } from "./storage-rules.js";

/** An entry as parsed by the contract (sha256 lower-cased, defaults applied). */
export type ParsedEntry = Omit<BatchFileEntry, "sha256"> & { sha256?: string | undefined };

export interface PlannedEntry {
  path: string;
  /** The file's name: the last segment of its path. */
  name: string;
  size: number;
  /** CONTENT_PENDING ("") for a multipart file still being hashed. */
  sha256: string;
  priority: Priority;
  contentType?: string | undefined;
  kind: "single" | "multipart" | "empty";
  partSizeHint?: number | undefined;
  resumeId?: string | undefined;
  parts?: PartSpec[] | undefined;
  /** Single PUTs: the file's MD5, base64 (signed as Content-MD5 where storage checks MD5). */
  md5?: string | undefined;
}

/** Same rule as InitRequest.contentType: the value becomes a signed header of the PUT. */
const MEDIA_TYPE = /^[\x21-\x7e]+\/[\x21-\x7e]+( *;[\x20-\x7e]*)?$/;

const refuse = (path: string, why: string): never => {
  throw new AppError("INVALID_INPUT", `File ${JSON.stringify(path)}: ${why}.`, { path });
};

export const fileNameOf = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/**
 * Checks every entry of one call and fixes how each is sent: empty files are complete at once; others go
 * as one PUT if asked, or by default when they fit in one part (the hint, else 8 MiB). Throws on the first
 * entry that cannot be served, before anything was read or written. Storage's rules hold here too: in
 * md5 mode every single PUT and part carries its MD5; on a uniform-parts profile the parts asked for sit
 * where the upload's part size (from the hint) puts them; no file is above the store's object size.
 */
export function planEntries(
  entries: readonly ParsedEntry[],
  batchPriority: Priority,
  profile: StorageProfile = STORAGE_PROFILES.aws,
): PlannedEntry[] {
  const paths = new Set<string>();
  return entries.map((e) => {
    if (paths.has(e.path)) refuse(e.path, "is given twice in this call");
    paths.add(e.path);
    if (e.contentType !== undefined && !MEDIA_TYPE.test(e.contentType))
      refuse(e.path, "contentType must be a media type such as video/mp4");
    let kind: PlannedEntry["kind"];
    if (e.size === 0) {
      if (e.sha256 !== undefined && e.sha256 !== EMPTY_SHA256_HEX)
        refuse(e.path, "an empty file's SHA-256 is e3b0c442…b855; the one given differs");
      kind = "empty";
    } else {
      kind = e.upload ?? (e.size <= (e.partSizeHint ?? DEFAULT_PART_SIZE) ? "single" : "multipart");
    }
    if (e.sha256 === undefined && kind !== "multipart")
      refuse(e.path, "sha256 may be left out only for a file sent in parts (its content is named later)");
    if (kind === "single" && e.size > MAX_SINGLE_PUT_SIZE)
      refuse(e.path, `one PUT carries at most ${MAX_SINGLE_PUT_SIZE} bytes; send it as multipart`);
    if (e.size > profile.limits.maxObjectSize)
      refuse(e.path, `this storage holds objects of at most ${profile.limits.maxObjectSize} bytes`);
    const file = `File ${JSON.stringify(e.path)}: `;
    if (kind === "single") requireMd5(profile, [{ md5: e.md5 }], file);
    if (kind === "multipart" && e.parts) {
      requireMd5(profile, e.parts, file);
      const seen = new Set<number>();
      for (const p of e.parts) {
        if (seen.has(p.partNumber))
          throw new AppError(
            "INVALID_PART",
            `File ${JSON.stringify(e.path)}: part ${p.partNumber} is given twice.`,
          );
        seen.add(p.partNumber);
        checkPart(e.size, p, profile.limits);
      }
      for (const p of e.parts)
        checkNeighbours(
          p,
          e.parts.filter((q) => q.partNumber !== p.partNumber),
          profile.limits,
        );
      checkUniform({ size: e.size, partSize: uploadPartSize(profile, e.size, e.partSizeHint) }, e.parts);
    }
    const planned: PlannedEntry = {
      path: e.path,
      name: fileNameOf(e.path),
      size: e.size,
      sha256: e.sha256 ?? CONTENT_PENDING,
      priority: e.priority ?? batchPriority,
      kind,
    };
    if (e.contentType !== undefined) planned.contentType = e.contentType;
    if (e.partSizeHint !== undefined) planned.partSizeHint = e.partSizeHint;
    if (e.resumeId !== undefined) planned.resumeId = e.resumeId;
    if (kind === "multipart" && e.parts !== undefined) planned.parts = e.parts;
    if (kind === "single" && e.md5 !== undefined) planned.md5 = e.md5;
    return planned;
  });
}

export type Decision =
  /** The transfer of an earlier run is complete with this content: nothing to write. */
  | { action: "done-resumed"; transfer: TransferRecord }
  /** A single PUT of an earlier run, not completed yet: check storage, then PUT (or not) and complete. */
  | { action: "put-resumed"; transfer: TransferRecord; reopen: boolean }
  /** The same content is stored: a complete record pointing at it (one write). */
  | { action: "dedupe"; stored: StoredObjectRecord }
  /** An empty file nobody stored yet: an empty object, complete at once. */
  | { action: "empty" }
  | { action: "put-new" }
  | { action: "multipart"; resumeId?: string };

export interface Decided {
  decision: Decision;
  /** A transfer of this path with other content, replaced by this entry. */
  supersedes?: TransferRecord;
}

/**
 * What to do with one planned entry, given its resume candidate (the transfer named by resumeId, if it
 * exists) and the dedupe entry for its content. The record's own upload kind wins on resume: a file that
 * went as one PUT goes on as one, whatever the client would choose today.
 */
export function decide(
  e: PlannedEntry,
  batchId: string,
  candidate: TransferRecord | undefined,
  stored: StoredObjectRecord | undefined,
): Decided {
  const mine =
    candidate && candidate.batchId === batchId && candidate.path === e.path ? candidate : undefined;
  const fresh = (): Decision => {
    if (e.kind === "multipart") return { action: "multipart" };
    if (stored) return { action: "dedupe", stored };
    return e.kind === "empty" ? { action: "empty" } : { action: "put-new" };
  };
  if (!mine) return { decision: fresh() };
  if (e.sha256 === CONTENT_PENDING && mine.size === e.size && mine.status !== "aborted") {
    // Content still being hashed: an unfinished upload of this path goes on (its content is named later);
    // beside a complete one a new upload starts, and naming its content finds the complete one.
    if (mine.upload !== "single" && mine.status !== "complete")
      return { decision: { action: "multipart", resumeId: mine.id } };
    return { decision: fresh() };
  }
  // An aborted transfer of this path, or one of other content (the file changed): a new one replaces it.
  // A multipart upload whose content is still pending is named by the init (upload-init.ts decides).
  const pendingMine = mine.sha256 === CONTENT_PENDING && mine.upload !== "single";
  if (mine.status === "aborted" || (mine.sha256 !== e.sha256 && !pendingMine) || mine.size !== e.size)
    return { decision: fresh(), supersedes: mine };
  if (mine.status === "complete") return { decision: { action: "done-resumed", transfer: mine } };
  if (mine.upload === "single")
    return { decision: { action: "put-resumed", transfer: mine, reopen: mine.status === "failed" } };
  return { decision: { action: "multipart", resumeId: mine.id } };
}
