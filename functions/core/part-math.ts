/**
 * Pure arithmetic of S3 multipart layouts: where part N may sit, what is still missing, whether a set of
 * parts can be assembled. Parts are concatenated in part-number order, so part numbers must rise with offsets.
 */
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, MiB } from "../contract/limits.js";
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

/** A part size the client can start from: the hint (or 8 MiB), raised so the file fits in 10,000 parts. */
export const DEFAULT_PART_SIZE = 8 * MiB;

export function minPartSizeFor(fileSize: number): number {
  const needed = Math.ceil(fileSize / MAX_PARTS / MiB) * MiB;
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, needed));
}

export function recommendPartSize(fileSize: number, hint?: number): number {
  const base = hint ?? DEFAULT_PART_SIZE;
  return Math.min(MAX_PART_SIZE, Math.max(base, minPartSizeFor(fileSize)));
}

const fail = (message: string, details?: unknown): never => {
  throw new AppError("INVALID_PART", message, details);
};

/** Checks one part against the file's size and S3's rules; throws INVALID_PART naming the broken rule. */
export function checkPart(fileSize: number, part: PartRange): void {
  const { partNumber: n, offset, size } = part;
  const end = offset + size;
  if (end > fileSize) fail(`Part ${n} ends at byte ${end}, beyond the file's size of ${fileSize} bytes.`);
  if (size > MAX_PART_SIZE) fail(`Part ${n} is ${size} bytes; a part may be at most 5 GiB.`);
  if (size === 0 && fileSize > 0) fail(`Part ${n} is empty.`);
  const isLast = end === fileSize;
  if (!isLast && size < MIN_PART_SIZE)
    fail(
      `Part ${n} is ${size} bytes; every part but the last must be at least 5 MiB (${MIN_PART_SIZE} bytes).`,
    );
  // Parts are concatenated in number order and numbers may be skipped, so the bytes before part n must be
  // coverable by parts numbered below it: none at all (offset 0), or parts of 5 MiB–5 GiB each.
  if (n === 1 && offset !== 0) fail("Part 1 must start at byte 0.");
  if (offset > 0 && offset < MIN_PART_SIZE)
    fail(`Part ${n} starts at byte ${offset}; the bytes before it need at least one part of 5 MiB.`);
  if (offset > (n - 1) * MAX_PART_SIZE)
    fail(`Part ${n} starts too late: earlier parts cannot cover ${offset} bytes.`);
  if (fileSize - end > (MAX_PARTS - n) * MAX_PART_SIZE)
    fail(
      `After part ${n} the remaining ${fileSize - end} bytes cannot fit in the ${MAX_PARTS - n} part numbers left.`,
    );
}

/** Checks that a part does not overlap the other parts (recorded, or in the same batch) numbered around it. */
export function checkNeighbours(part: PartRange, recorded: readonly PartRange[]): void {
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
    const fits = hole === 0 || (count >= 1 && hole >= MIN_PART_SIZE && hole <= count * MAX_PART_SIZE);
    if (!fits)
      fail(
        `The ${hole} bytes between ${span(a)} and ${span(b)} cannot be filled by ${count} part number(s) ` +
          "of 5 MiB–5 GiB each.",
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
export function missingRanges(fileSize: number, parts: readonly PartRange[]): Gap[] {
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
    gaps.push({ offset: cursor, size: fileSize - cursor, firstPart: prev + 1, lastPart: MAX_PARTS });
  return gaps;
}

export interface AssemblyCheck {
  missing: Gap[];
  overlapping: number[];
  undersized: number[];
}

/** What stands between these parts and a valid CompleteMultipartUpload of a file of this size. */
export function checkAssembly(fileSize: number, parts: readonly PartRange[]): AssemblyCheck {
  const sorted = [...parts].sort(byNumber);
  const overlapping: number[] = [];
  const undersized: number[] = [];
  let cursor = 0;
  sorted.forEach((p, i) => {
    if (p.offset < cursor) overlapping.push(p.partNumber);
    cursor = Math.max(cursor, p.offset + p.size);
    if (i < sorted.length - 1 && p.size < MIN_PART_SIZE) undersized.push(p.partNumber);
  });
  return { missing: missingRanges(fileSize, sorted), overlapping, undersized };
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
