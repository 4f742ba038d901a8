/**
 * Pure arithmetic of S3 multipart layouts: where part N may sit, what is still missing, whether a set of
 * parts can be assembled. Parts are concatenated in part-number order, so part numbers must rise with offsets.
 * The limits are the storage profile's (functions/core/storage-profiles.ts); S3's when none are given.
 */
import { MAX_PARTS, MiB } from "../contract/limits.js";
import { type PartLimits, S3_PART_LIMITS } from "../contract/part-rules.js";
import { AppError } from "./errors.js";

export interface PartRange {
  partNumber: number;
  offset: number;
  size: number;
}

export interface Gap {
  offset: number;
  size: number;
  firstPart: number;
  lastPart: number;
}

/** Part records one transaction carries beside the transfer's META update (DynamoDB allows 100 items). */
export const RECORD_TRANSACTION_PARTS = 99;

/** "5 MiB", "5 GiB", or bytes when not a whole MiB. */
export function sizeLabel(n: number): string {
  if (n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n % MiB === 0) return `${n / MiB} MiB`;
  return `${n} bytes`;
}

const fail = (message: string, details?: unknown): never => {
  throw new AppError("INVALID_PART", message, details);
};

/** Checks one part against the file's size and S3's rules; throws INVALID_PART naming the broken rule. */
export function checkPart(fileSize: number, part: PartRange, limits: PartLimits = S3_PART_LIMITS): void {
  const { minPartSize: min, maxPartSize: max, maxParts } = limits;
  const { partNumber: n, offset, size } = part;
  const end = offset + size;
  if (end > fileSize) fail(`Part ${n} ends at byte ${end}, beyond the file's size of ${fileSize} bytes.`);
  if (size > max) fail(`Part ${n} is ${size} bytes; a part may be at most ${sizeLabel(max)}.`);
  if (size === 0 && fileSize > 0) fail(`Part ${n} is empty.`);
  const isLast = end === fileSize;
  if (!isLast && size < min)
    fail(
      `Part ${n} is ${size} bytes; every part but the last must be at least ${sizeLabel(min)} (${min} bytes).`,
    );
  // Parts are concatenated in number order and numbers may be skipped, so the bytes before part n must be
  // coverable by parts numbered below it: none at all (offset 0), or parts of 5 MiB–5 GiB each (on S3).
  if (n === 1 && offset !== 0) fail("Part 1 must start at byte 0.");
  if (offset > 0 && offset < min)
    fail(
      `Part ${n} starts at byte ${offset}; the bytes before it need at least one part of ${sizeLabel(min)}.`,
    );
  if (offset > (n - 1) * max) fail(`Part ${n} starts too late: earlier parts cannot cover ${offset} bytes.`);
  if (fileSize - end > (maxParts - n) * max)
    fail(
      `After part ${n} the remaining ${fileSize - end} bytes cannot fit in the ${maxParts - n} part numbers left.`,
    );
}

/** Checks that a part does not overlap the other parts (recorded, or in the same batch) numbered around it. */
export function checkNeighbours(
  part: PartRange,
  recorded: readonly PartRange[],
  limits: PartLimits = S3_PART_LIMITS,
): void {
  const { minPartSize: min, maxPartSize: max } = limits;
  const span = (p: PartRange) => `part ${p.partNumber} (bytes ${p.offset}–${p.offset + p.size - 1})`;
  let lower: PartRange | undefined;
  let upper: PartRange | undefined;
  for (const r of recorded) {
    const before = r.partNumber < part.partNumber && r.offset + r.size > part.offset;
    const after = r.partNumber > part.partNumber && r.offset < part.offset + part.size;
    if (before || after)
      fail(
        `${span(part).replace("part", "Part")} overlaps ${span(r)}; parts must follow each other in number order.`,
      );
    if (r.partNumber < part.partNumber && (!lower || r.partNumber > lower.partNumber)) lower = r;
    if (r.partNumber > part.partNumber && (!upper || r.partNumber < upper.partNumber)) upper = r;
  }
  // The bytes between neighbours must fit in the part numbers between them, each 5 MiB–5 GiB,
  // or the file could never be completed.
  const check = (a: PartRange, b: PartRange) => {
    const hole = b.offset - (a.offset + a.size);
    const count = b.partNumber - a.partNumber - 1;
    // Unused part numbers are allowed (S3 only needs ascending numbers), so j parts for any 1 ≤ j ≤ count
    // will do: the hole is empty, or at least one minimum part and at most count maximum parts.
    const fits = hole === 0 || (count >= 1 && hole >= min && hole <= count * max);
    if (!fits)
      fail(
        `The ${hole} bytes between ${span(a)} and ${span(b)} cannot be filled by ${count} part number(s) ` +
          `of ${sizeLabel(min)}–${sizeLabel(max)} each.`,
      );
  };
  if (lower) check(lower, part);
  if (upper) check(part, upper);
}

const byNumber = (a: PartRange, b: PartRange) => a.partNumber - b.partNumber;

/**
 * The byte ranges of the file that no recorded part covers, each with the part numbers free for it
 * (a range may use any of them, in ascending order, and leave the others unused).
 */
export function missingRanges(
  fileSize: number,
  parts: readonly PartRange[],
  limits: PartLimits = S3_PART_LIMITS,
): Gap[] {
  const gaps: Gap[] = [];
  let cursor = 0;
  let prev = 0;
  for (const p of [...parts].sort(byNumber)) {
    if (p.offset > cursor)
      gaps.push({ offset: cursor, size: p.offset - cursor, firstPart: prev + 1, lastPart: p.partNumber - 1 });
    cursor = Math.max(cursor, p.offset + p.size);
    prev = p.partNumber;
  }
  if (cursor < fileSize)
    gaps.push({ offset: cursor, size: fileSize - cursor, firstPart: prev + 1, lastPart: limits.maxParts });
  return gaps;
}

export interface AssemblyCheck {
  missing: Gap[];
  overlapping: number[];
  undersized: number[];
}

/** What stands between these parts and a valid CompleteMultipartUpload of a file of this size. */
export function checkAssembly(
  fileSize: number,
  parts: readonly PartRange[],
  limits: PartLimits = S3_PART_LIMITS,
): AssemblyCheck {
  const sorted = [...parts].sort(byNumber);
  const overlapping: number[] = [];
  const undersized: number[] = [];
  let cursor = 0;
  sorted.forEach((p, i) => {
    if (p.offset < cursor) overlapping.push(p.partNumber);
    cursor = Math.max(cursor, p.offset + p.size);
    if (i < sorted.length - 1 && p.size < limits.minPartSize) undersized.push(p.partNumber);
  });
  return { missing: missingRanges(fileSize, sorted, limits), overlapping, undersized };
}

export const assemblyReady = (c: AssemblyCheck): boolean =>
  c.missing.length === 0 && c.overlapping.length === 0 && c.undersized.length === 0;

/** "part 2 (bytes 6291456–11534335)" style description of gaps for 409 messages. */
export function describeGaps(gaps: readonly Gap[]): string {
  return gaps
    .map((g) => {
      const parts =
        g.firstPart === g.lastPart
          ? `part ${g.firstPart}`
          : g.lastPart === MAX_PARTS
            ? `part ${g.firstPart} onward`
            : `parts ${g.firstPart}–${g.lastPart}`;
      return `${parts} (bytes ${g.offset}–${g.offset + g.size - 1})`;
    })
    .join(", ");
}

export interface StoredPartInfo {
  partNumber: number;
  size: number;
  etag: string;
  /** Hex SHA-256 storage verified, if it keeps one. */
  sha256?: string | undefined;
}

export interface Unrecorded extends PartRange {
  sha256: string;
  etag: string;
}

/**
 * Parts storage holds that have no record (a sender crashed between its PUT and the record), each with
 * the offset it would have if it follows the part numbered just before it: part 1 starts at 0, part n at
 * the end of part n−1 when that one is recorded or is itself an unrecorded part with a known offset.
 * Parts without such an offset, without a stored SHA-256 (the client could not check its bytes), or that
 * would not fit beside the recorded parts are left out: the client sends those ranges again.
 */
export function unrecordedParts(
  fileSize: number,
  recorded: readonly PartRange[],
  stored: readonly StoredPartInfo[],
  limits: PartLimits = S3_PART_LIMITS,
): Unrecorded[] {
  const known = new Map<number, PartRange>(recorded.map((p) => [p.partNumber, p]));
  const out: Unrecorded[] = [];
  for (const s of [...stored].sort((a, b) => a.partNumber - b.partNumber)) {
    if (known.has(s.partNumber) || s.sha256 === undefined) continue;
    const before = s.partNumber === 1 ? undefined : known.get(s.partNumber - 1);
    if (s.partNumber !== 1 && !before) continue;
    const offset = before ? before.offset + before.size : 0;
    const candidate = { partNumber: s.partNumber, offset, size: s.size };
    if (offset + s.size > fileSize) continue;
    try {
      checkPart(fileSize, candidate, limits);
      checkNeighbours(candidate, recorded, limits);
    } catch {
      continue;
    }
    known.set(s.partNumber, candidate);
    out.push({ ...candidate, sha256: s.sha256, etag: s.etag });
  }
  return out;
}
