/** Which byte ranges of a file are stored, from the parts the API lists. Pure. */

export interface ByteRange {
  offset: number;
  size: number;
}

/** Stored parts merged into sorted, non-overlapping ranges within [0, size). */
export function storedRanges(parts: readonly ByteRange[], size: number): ByteRange[] {
  const sorted = parts
    .filter((p) => p.size > 0)
    .map((p) => ({ start: Math.max(0, p.offset), end: Math.min(size, p.offset + p.size) }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out.map((r) => ({ offset: r.start, size: r.end - r.start }));
}

/** The gaps between stored ranges: what is not stored yet. */
export function missingRanges(stored: readonly ByteRange[], size: number): ByteRange[] {
  const out: ByteRange[] = [];
  let at = 0;
  for (const r of stored) {
    if (r.offset > at) out.push({ offset: at, size: r.offset - at });
    at = Math.max(at, r.offset + r.size);
  }
  if (at < size) out.push({ offset: at, size: size - at });
  return out;
}
