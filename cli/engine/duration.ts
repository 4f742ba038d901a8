/**
 * Durations as people type them for link lifetimes: "90s", "30m", "24h", "7d", "1.5h", or bare seconds
 * ("3600"). Whole seconds come out, since that is what the API takes.
 */
import { UnitError } from "./units.js";

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 60 * 60, d: 24 * 60 * 60 };

/** "90s" → 90, "30m" → 1800, "24h" → 86400, "7d" → 604800, "3600" → 3600. At least one second. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(text);
  if (!m) throw new UnitError(`"${text}" is not a duration (examples: 90s, 30m, 24h, 7d, 3600)`);
  const seconds = Math.round(Number(m[1]) * (SECONDS[(m[2] || "s").toLowerCase()] ?? 1));
  if (!Number.isSafeInteger(seconds)) throw new UnitError(`"${text}" is too long`);
  if (seconds < 1) throw new UnitError(`"${text}" must be at least one second`);
  return seconds;
}
