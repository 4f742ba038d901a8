/**
 * Part sizes both sides compute, in one place: a store's part limits (S3's unless its profile says
 * otherwise), the smallest part that fits a file in the part count, the part size the coordinator records
 * for an upload and the CLI asks for (the same function, so a hint the CLI sends is the size recorded), and
 * where part n sits under the uniform rule. Pure; no server or client imports.
 */
import { DEFAULT_PART_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, MiB } from "./limits.js";

/** The part limits a store sets (a profile's limits carry these and more). */
export interface PartLimits {
  minPartSize: number;
  maxPartSize: number;
  maxParts: number;
}

export const S3_PART_LIMITS: PartLimits = {
  minPartSize: MIN_PART_SIZE,
  maxPartSize: MAX_PART_SIZE,
  maxParts: MAX_PARTS,
};

/** The smallest whole-MiB part size that fits `fileSize` in maxParts parts, within the limits. */
export function minPartSizeFor(fileSize: number, limits: PartLimits = S3_PART_LIMITS): number {
  const needed = Math.ceil(fileSize / limits.maxParts / MiB) * MiB;
  return Math.min(limits.maxPartSize, Math.max(limits.minPartSize, needed));
}

/**
 * The part size for a file: the hint (or 8 MiB) within the limits, raised to `minPartSizeFor`. The
 * coordinator recommends it, and records it as the one size of an upload under the uniform rule.
 */
export function partSizeFor(
  fileSize: number,
  hint: number = DEFAULT_PART_SIZE,
  limits: PartLimits = S3_PART_LIMITS,
): number {
  return Math.min(limits.maxPartSize, Math.max(Math.floor(hint), minPartSizeFor(fileSize, limits)));
}

/** Part n under the uniform rule: [(n-1) × size, n × size), cut at the end of the file. */
export function uniformPart(
  n: number,
  size: number,
  fileSize: number,
): { partNumber: number; offset: number; size: number } {
  const offset = (n - 1) * size;
  return { partNumber: n, offset, size: Math.min(size, fileSize - offset) };
}
