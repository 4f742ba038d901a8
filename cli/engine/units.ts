/**
 * Human units for sizes and rates. Binary suffixes (KiB, MiB, GiB, TiB, and bare K/M/G/T as rclone and dd
 * read them) and decimal ones (KB, MB, GB, TB); rates in bytes per second (`10MB/s`, `8MiB/s`) or bits
 * (`2Mbit/s`, `500kbps`).
 */
const BINARY: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

export class UnitError extends Error {
  override name = "UnitError";
}

function multiplier(prefix: string, unit: string): number | undefined {
  const p = prefix.toLowerCase();
  if (p === "") return 1;
  const table = unit === "ib" || unit === "" ? BINARY : DECIMAL;
  return table[p];
}

/** "8MiB" → 8388608, "10MB" → 10000000, "512k" → 524288, "1048576" → 1048576. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(ib|b)?\s*$/i.exec(text);
  if (!m) throw new UnitError(`"${text}" is not a size (examples: 8MiB, 16MB, 512k, 1048576)`);
  const value = Number(m[1]);
  const unit = (m[3] ?? "").toLowerCase();
  const mult = multiplier(m[2] ?? "", unit === "b" ? "b" : unit);
  if (mult === undefined) throw new UnitError(`"${text}" is not a size`);
  const bytes = Math.round(value * mult);
  if (!Number.isSafeInteger(bytes)) throw new UnitError(`"${text}" is too large`);
  return bytes;
}

/** "10MB/s" → 1e7 bytes/s, "8MiB/s" → 8388608, "2Mbit/s" → 250000, "1M" → 1048576. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(ib|bit|bps|b)?\s*(\/\s*s|ps)?\s*$/i.exec(text);
  if (!m) throw new UnitError(`"${text}" is not a rate (examples: 10MB/s, 8MiB/s, 2Mbit/s)`);
  const value = Number(m[1]);
  const raw = m[3] ?? "";
  const unit = raw.toLowerCase();
  // "bit", or a lower-case "bps" (Mbps, kbps), is bits; "Bps" (MBps) is bytes.
  if (unit === "bit" || raw === "bps") {
    const mult = multiplier(m[2] ?? "", "b");
    if (mult === undefined) throw new UnitError(`"${text}" is not a rate`);
    if (value <= 0) throw new UnitError(`"${text}" must be more than zero`);
    return (value * mult) / 8;
  }
  const mult = multiplier(m[2] ?? "", unit === "b" || unit === "bps" ? "b" : unit);
  if (mult === undefined) throw new UnitError(`"${text}" is not a rate`);
  const rate = value * mult;
  if (rate <= 0) throw new UnitError(`"${text}" must be more than zero`);
  return rate;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

export const formatRate = (bytesPerSecond: number): string => `${formatBytes(Math.round(bytesPerSecond))}/s`;

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "--";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
