/**
 * How the upload benchmarks (links.ts, send.ts) judge sfts against its peers: pure functions over the
 * runs of one comparison, no I/O.
 *
 * - A tool's time is the median of its successful runs; failed, timed-out and corrupt runs are counted
 *   apart and left out of the median (a tool that never finishes has no time, not a bad one).
 * - The ratio is the fastest peer's median ÷ sfts's median, peers measured in the same run: above 1 means
 *   sfts was faster. Rows marked informational (not `peer`) are shown but never the fastest peer.
 * - Capacity is what sfts delivered against what the link could carry while it was up:
 *   file bits ÷ (link rate × (sfts's median seconds − dark seconds of the schedule inside them)).
 */

export interface ToolRuns {
  tool: string;
  /** Counts as a peer for the ratio (false: shown for information). */
  peer: boolean;
  /** Seconds of each successful run. */
  ok: number[];
  failed: number;
  timedOut: number;
  corrupt: number;
}

export interface Comparison {
  sfts?: number;
  fastestPeer?: { tool: string; seconds: number };
  /** fastest peer ÷ sfts; undefined when either has no successful run. */
  ratio?: number;
  /** Peers that ran but never finished (no time), for the printout. */
  peersWithoutTime: string[];
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

export function compare(rows: readonly ToolRuns[]): Comparison {
  const sfts = median(rows.find((r) => r.tool === "sfts")?.ok ?? []);
  let fastestPeer: Comparison["fastestPeer"];
  const peersWithoutTime: string[] = [];
  for (const r of rows) {
    if (!r.peer || r.tool === "sfts") continue;
    const m = median(r.ok);
    if (m === undefined) peersWithoutTime.push(r.tool);
    else if (fastestPeer === undefined || m < fastestPeer.seconds) fastestPeer = { tool: r.tool, seconds: m };
  }
  return {
    ...(sfts !== undefined && { sfts }),
    ...(fastestPeer !== undefined && { fastestPeer }),
    ...(sfts !== undefined && fastestPeer !== undefined && { ratio: fastestPeer.seconds / sfts }),
    peersWithoutTime,
  };
}

/** sfts's share of the link's capacity while the link was up (0..1), or undefined for an unshaped link. */
export function capacityShare(opts: {
  bytes: number;
  seconds: number;
  darkSeconds: number;
  rateBitsPerSec: number | undefined;
}): number | undefined {
  if (opts.rateBitsPerSec === undefined) return undefined;
  const up = opts.seconds - opts.darkSeconds;
  if (!(up > 0)) return undefined;
  return (opts.bytes * 8) / (opts.rateBitsPerSec * up);
}

/** "≥ 1.3×: MET" / "≥ 85 %: NOT MET", bold when not met (markdown). */
export function goalMark(met: boolean | undefined, goal: string): string {
  if (met === undefined) return `${goal}: –`;
  return met ? `${goal}: MET` : `${goal}: **NOT MET**`;
}

/** One table cell for a tool: "41.7" or "41.9 (1 of 3 failed)" or "– (3 of 3 timed out)". */
export function timeCell(r: ToolRuns | undefined): string {
  if (r === undefined) return "not run";
  const total = r.ok.length + r.failed + r.timedOut + r.corrupt;
  const m = median(r.ok);
  const notes = [
    r.failed && `${r.failed} of ${total} failed`,
    r.timedOut && `${r.timedOut} of ${total} timed out`,
    r.corrupt && `${r.corrupt} of ${total} CORRUPT`,
  ].filter(Boolean);
  return `${m === undefined ? "–" : m.toFixed(1)}${notes.length ? ` (${notes.join(", ")})` : ""}`;
}
