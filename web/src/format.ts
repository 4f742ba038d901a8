/** How numbers from the API are written on the page. Pure: formats what it is given, never estimates. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** Binary units, as the CLI prints them (`--limit-rate 2MiB/s`). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "—";
  let v = Math.abs(n);
  let u = 0;
  // Switch unit before a value would print with four digits ("1023 KiB" reads better as "1.00 MiB").
  while (v >= 999.5 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${n < 0 ? "-" : ""}${v.toFixed(digits)} ${UNITS[u]}`;
}

export const formatRate = (bytesPerSecond: number): string => `${formatBytes(bytesPerSecond)}/s`;

export const formatCount = (n: number): string => n.toLocaleString("en-US");

export function formatPercent(ratio: number, digits = 1): string {
  if (!Number.isFinite(ratio)) return "—";
  const p = ratio * 100;
  // 99.96 % must not read as 100 %: show done only when it is.
  const shown = p > 99.9 && p < 100 ? "99.9" : p > 0 && p < 0.1 ? "0.1" : p.toFixed(p === 100 ? 0 : digits);
  return `${shown} %`;
}

/** "45 s", "3 min 20 s", "2 h 05 min", "3 d 4 h". */
export function formatDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return "—";
  const s = Math.round(totalSeconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local wall-clock time, seconds included: "14:03:27". */
export function formatTime(iso: string | number | Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "2026-11-29 14:03:27" (local); today's times keep only the clock. */
export function formatDateTime(iso: string | number | Date, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return sameDay ? formatTime(d) : `${day} ${formatTime(d)}`;
}

/** "just now", "12 s ago", "4 min ago", "3 h ago". */
export function formatAgo(then: string | number | Date, now: number = Date.now()): string {
  const t = new Date(then).getTime();
  if (Number.isNaN(t)) return "—";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A long hex digest cut for a table cell: "6062ee6a…b7c2". The full value goes in a title or a copy button. */
export const shortHash = (hex: string, head = 8, tail = 4): string =>
  hex.length <= head + tail + 1 ? hex : `${hex.slice(0, head)}…${hex.slice(-tail)}`;
