/** Plain text tables for terminals and scripts: columns padded to their widest cell, two spaces apart. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

/** "2026-11-29 12:00:00" from an ISO time (UTC). */
export const utcTime = (iso: string): string => new Date(iso).toISOString().replace("T", " ").slice(0, 19);

export const percent = (done: number, size: number): string =>
  `${size ? ((100 * done) / size).toFixed(1) : "100.0"}%`;
