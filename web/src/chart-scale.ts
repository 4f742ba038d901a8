/** Axis of the throughput chart: a round top value and step in the unit the values are shown in. Pure. */

export interface Scale {
  top: number;
  step: number;
}

/** Four or five gridlines at round values of binary units (1, 2, 2.5, 5 × 10ⁿ KiB/s, MiB/s…). */
export function niceScale(max: number, lines = 4): Scale {
  if (!(max > 0)) return { top: 0, step: 0 };
  const unit = 1024 ** Math.max(0, Math.floor(Math.log(max) / Math.log(1024)));
  const raw = max / unit / lines;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  const step = nice * mag * unit;
  // The epsilon keeps float noise (2.0000000001 steps) from adding a step; the check keeps the peak inside.
  const top = Math.ceil(max / step - 1e-9) * step;
  return { top: top < max ? top + step : top, step };
}

export function ticks(scale: Scale): number[] {
  if (scale.step <= 0) return [];
  const n = Math.round(scale.top / scale.step);
  return Array.from({ length: n + 1 }, (_, i) => i * scale.step);
}
