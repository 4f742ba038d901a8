/**
 * Overview: counts, bytes, success rate, throughput (now, mean, last hour), health (API, S3, DynamoDB, and
 * storage: its profile and the probe's result), what is uploading now.
 */
import type { Priority, TransferStatus } from "../../../functions/contract/schemas.js";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatPercent,
  formatRate,
  formatTime,
} from "../format.js";
import { type PollState, usePolled, usePollState } from "../poller.js";
import { href } from "../route.js";
import { api, poller } from "../services.js";
import { storageView } from "../storage-health.js";
import { progressOf } from "../transfer-table.js";
import { Ago, Card, ErrorNote, PriorityBadge, ProgressBar, StatusBadge } from "./bits.js";
import { ThroughputChart } from "./throughput-chart.js";

const STATUSES: TransferStatus[] = ["uploading", "assembling", "complete", "failed", "aborted"];
const PRIORITIES: Priority[] = ["high", "normal", "low"];
const MOVING_SHOWN = 8;

export function Overview() {
  const poll = usePollState(poller);
  const stats = usePolled(poller, "stats", () => api.stats());
  const series = usePolled(poller, "series", () => api.series(60));
  const moving = usePolled(poller, "moving", () => api.files({ status: "uploading", limit: MOVING_SHOWN }));
  const s = stats.data;

  return (
    <div class="view">
      <div class="view-head">
        <h1>Overview</h1>
        {s && (
          <p class="muted small">
            Stats as of <time dateTime={s.generatedAt}>{formatTime(s.generatedAt)}</time>
          </p>
        )}
      </div>
      <ErrorNote error={stats.error} />
      <div class="kpis">
        <Card title="Transfers" class="kpi">
          <p class="kpi-value" data-testid="kpi-total">
            {s ? formatCount(s.transfers.total) : "…"}
          </p>
          <ul class="kpi-list">
            {STATUSES.map((st) => (
              <li key={st}>
                <a href={href.transfers({ status: st })} class="kpi-link">
                  <StatusBadge status={st} />
                  <span class="num">{s ? formatCount(s.transfers.byStatus[st]) : "…"}</span>
                </a>
              </li>
            ))}
          </ul>
        </Card>
        <Card title="By priority" class="kpi">
          <ul class="kpi-list kpi-list-bars">
            {PRIORITIES.map((p) => {
              const n = s?.transfers.byPriority[p] ?? 0;
              const share = s && s.transfers.total > 0 ? n / s.transfers.total : 0;
              return (
                <li key={p}>
                  <a href={href.transfers({ priority: p })} class="kpi-link">
                    <PriorityBadge priority={p} />
                    <span class="num">{s ? formatCount(n) : "…"}</span>
                  </a>
                  <span
                    class={`mini-bar prio-bar-${p}`}
                    style={{ width: `${share * 100}%` }}
                    aria-hidden="true"
                  />
                </li>
              );
            })}
          </ul>
        </Card>
        <Card title="Bytes" class="kpi">
          <p class="kpi-value">{s ? formatBytes(s.bytes.stored) : "…"}</p>
          <p class="kpi-sub">stored in complete files</p>
          <dl class="kpi-dl">
            <dt>Received as parts</dt>
            <dd>{s ? formatBytes(s.bytes.received) : "…"}</dd>
            <dt>Not sent (dedupe)</dt>
            <dd>
              {s ? formatBytes(s.bytes.deduplicated) : "…"}
              {s && s.dedupeHits > 0 ? <span class="muted"> · {formatCount(s.dedupeHits)} files</span> : null}
            </dd>
          </dl>
        </Card>
        <Card title="Success rate" class="kpi">
          <p class="kpi-value" data-testid="kpi-success">
            {s ? (s.successRate === null ? "—" : formatPercent(s.successRate)) : "…"}
          </p>
          <p class="kpi-sub">
            {s?.successRate === null
              ? "no transfer has ended yet"
              : "complete ÷ ended (complete, failed, aborted)"}
          </p>
        </Card>
        <Card title="Throughput now" class="kpi">
          <p class="kpi-value" data-testid="kpi-throughput">
            {series.data ? formatRate(series.data.throughputBps) : "…"}
          </p>
          <p class="kpi-sub">bytes of parts stored in the last full minute</p>
        </Card>
        <Card title="Mean upload speed" class="kpi">
          <p class="kpi-value">{s ? (s.meanSpeedBps === null ? "—" : formatRate(s.meanSpeedBps)) : "…"}</p>
          <p class="kpi-sub">
            {s?.meanSpeedBps === null ? "no upload finished yet" : "bytes uploaded ÷ upload time, all files"}
          </p>
        </Card>
      </div>

      <div class="grid-2-1">
        <Card title="Throughput, last 60 minutes" id="chart">
          <ErrorNote error={series.error} />
          {series.data ? <ThroughputChart points={series.data.points} /> : <p class="muted">Loading…</p>}
        </Card>
        <HealthCard poll={poll} />
      </div>

      <Card
        title="Uploading now"
        actions={
          <a class="btn btn-ghost btn-small" href={href.transfers({ status: "uploading" })}>
            All uploading
          </a>
        }
      >
        <ErrorNote error={moving.error} />
        {moving.data === undefined ? (
          <p class="muted">Loading…</p>
        ) : moving.data.items.length === 0 ? (
          <p class="muted">
            Nothing is uploading. Send a file with <code>npx sfts send FILE</code>.
          </p>
        ) : (
          <ul class="moving">
            {moving.data.items.map((t) => (
              <li key={t.id} class={t.priority === "high" ? "moving-item is-high" : "moving-item"}>
                <div class="moving-top">
                  <a href={href.transfer(t.id)} class="strong ellipsis" title={t.name}>
                    {t.name}
                  </a>
                  <PriorityBadge priority={t.priority} />
                </div>
                <ProgressBar ratio={progressOf(t)} status={t.status} label={`Progress of ${t.name}`} />
                <p class="moving-meta muted small">
                  {formatBytes(t.bytesDone)} of {formatBytes(t.size)}
                  {t.speedBps !== undefined && <> · {formatRate(t.speedBps)}</>}
                  {t.etaSeconds !== undefined && <> · {formatDuration(t.etaSeconds)} left</>}
                  {t.retries ? <> · {t.retries} retries</> : null} · updated <Ago at={t.updatedAt} />
                </p>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

function HealthRow({
  name,
  state,
  detail,
  word = state === "ok" ? "OK" : state === "down" ? "Down" : "Unknown",
  message,
  probe,
}: {
  name: string;
  state: "ok" | "warn" | "down" | "unknown";
  detail: string;
  word?: string;
  /** A sentence that says why the state is not ok, shown under the detail. */
  message?: string | undefined;
  probe?: string | undefined;
}) {
  return (
    <li
      class={`health-row health-${state}`}
      data-testid={`health-${name.toLowerCase()}`}
      data-state={state}
      data-probe={probe}
    >
      <span class="health-dot" aria-hidden="true" />
      <span class="health-name">{name}</span>
      <span class="health-state">{word}</span>
      <span class="health-detail muted small">{detail}</span>
      {message && <span class="health-message small">{message}</span>}
    </li>
  );
}

function StorageRow({ reading, reachable }: { reading: PollState["health"]; reachable: boolean }) {
  const summary = reading?.body.storage;
  const v = storageView(summary);
  if (!reading) return <HealthRow name="Storage" state="unknown" detail="not checked yet" />;
  if (!reachable)
    return (
      <HealthRow
        name="Storage"
        state="unknown"
        detail={`API unreachable; was ${v.word.toLowerCase()} at ${formatTime(reading.body.time)} · ${v.detail}`}
        probe={summary?.probe}
      />
    );
  return (
    <HealthRow
      name="Storage"
      state={v.state}
      word={v.word}
      detail={v.detail}
      message={v.message}
      probe={summary?.probe}
    />
  );
}

function HealthCard({ poll }: { poll: PollState }) {
  const c = poll.connection;
  const h = poll.health;
  const reachable = c.state === "connected";
  const check = (which: "s3" | "dynamodb") => {
    const x = h?.body.checks[which];
    if (!x) return { state: "unknown" as const, detail: "not checked yet" };
    if (!reachable)
      return {
        state: "unknown" as const,
        detail: `API unreachable; was ${x.ok ? "OK" : "down"} at ${formatTime(h.body.time)}`,
      };
    return x.ok
      ? { state: "ok" as const, detail: `${x.latencyMs} ms` }
      : { state: "down" as const, detail: x.error ?? `no answer (${x.latencyMs} ms)` };
  };
  const s3 = check("s3");
  const ddb = check("dynamodb");
  return (
    <Card title="System health" id="health">
      <ul class="health">
        <HealthRow
          name="API"
          state={c.state === "connected" ? "ok" : c.state === "disconnected" ? "down" : "unknown"}
          detail={
            c.state === "disconnected"
              ? `${c.error} since ${formatTime(c.since)}`
              : h
                ? `${h.roundTripMs} ms round trip${h.body.version ? ` · v${h.body.version}` : ""}`
                : "asking…"
          }
        />
        <HealthRow name="S3" state={s3.state} detail={s3.detail} />
        <HealthRow name="DynamoDB" state={ddb.state} detail={ddb.detail} />
        <StorageRow reading={h} reachable={reachable} />
      </ul>
      <p class="muted small health-foot" data-testid="health-checked">
        {h ? (
          <>
            Last check <time dateTime={h.body.time}>{formatTime(h.body.time)}</time> (
            <Ago at={h.receivedAt} />)
          </>
        ) : (
          "No check yet"
        )}
      </p>
    </Card>
  );
}
