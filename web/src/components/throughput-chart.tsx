/**
 * Bytes per second, minute by minute (the API's per-minute byte counts divided by 60), as a lean SVG bar
 * chart: no charting library (tens of kilobytes) for one bar series. Axis labels are HTML over the SVG so
 * they stay crisp while the bars stretch to any width. Minutes with failures carry a red mark.
 */
import type { SeriesPoint } from "../../../functions/contract/monitor.js";
import { niceScale, ticks } from "../chart-scale.js";
import { formatBytes, formatRate, formatTime } from "../format.js";

const BAR = 10;

export function ThroughputChart({ points }: { points: readonly SeriesPoint[] }) {
  const rates = points.map((p) => p.bytes / 60);
  const max = Math.max(0, ...rates);
  const scale = niceScale(max);
  const top = scale.top || 1;
  const peakAt = rates.indexOf(max);
  const peak = points[peakAt];
  const width = Math.max(1, points.length) * BAR;
  const failures = points.reduce((n, p) => n + p.failed, 0);
  const first = points[0];
  const middle = points[Math.floor(points.length / 2)];
  const summary =
    max > 0 && peak
      ? `Upload throughput per minute over the last ${points.length} minutes; peak ${formatRate(max)} at ${formatTime(peak.minute).slice(0, 5)}.`
      : `No bytes recorded in the last ${points.length} minutes.`;

  return (
    <figure class="chart">
      <div class="chart-plot">
        <div class="chart-grid" aria-hidden="true">
          {ticks(scale).map((t) => (
            <div key={t} class="chart-gridline" style={{ bottom: `${(t / top) * 100}%` }}>
              <span>{formatRate(t)}</span>
            </div>
          ))}
        </div>
        <svg
          class="chart-svg"
          viewBox={`0 0 ${width} 100`}
          preserveAspectRatio="none"
          role="img"
          aria-label={summary}
          data-testid="throughput-chart"
        >
          {points.map((p, i) => {
            const h = ((rates[i] ?? 0) / top) * 100;
            return (
              <g key={p.minute} class="chart-col">
                <rect class="chart-hit" x={i * BAR} y={0} width={BAR} height={100} />
                {h > 0 && <rect class="chart-bar" x={i * BAR + 1.5} y={100 - h} width={BAR - 3} height={h} />}
                {p.failed > 0 && (
                  <rect class="chart-fail" x={i * BAR + 1.5} y={0} width={BAR - 3} height={4} />
                )}
                <title>
                  {`${formatTime(p.minute).slice(0, 5)} — ${formatRate(rates[i] ?? 0)} (${formatBytes(p.bytes)} in ${p.parts} parts; ${p.completed} completed, ${p.failed} failed)`}
                </title>
              </g>
            );
          })}
        </svg>
        {max === 0 && <p class="chart-empty">No bytes recorded in this window.</p>}
      </div>
      <div class="chart-x" aria-hidden="true">
        <span>{first ? formatTime(first.minute).slice(0, 5) : ""}</span>
        <span>{middle ? formatTime(middle.minute).slice(0, 5) : ""}</span>
        <span>now</span>
      </div>
      <figcaption class="chart-legend">
        <span>
          <i class="swatch swatch-bar" /> bytes/s, per minute
        </span>
        <span>
          <i class="swatch swatch-fail" /> minute with failures{failures > 0 ? ` (${failures} in all)` : ""}
        </span>
      </figcaption>
    </figure>
  );
}
