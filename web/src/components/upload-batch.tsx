/**
 * One batch of the upload queue: its name, phase in words, total progress, bytes, speed, ETA, retries, the
 * link's parts in flight and part size, pause / resume / cancel, what the drop could not read, and a row
 * per file (its phase and progress; a link to its detail view once complete).
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { formatBytes, formatCount, formatDuration, formatPercent, formatRate } from "../format.js";
import { href } from "../route.js";
import type {
  BatchPhase,
  BatchView,
  EngineSnapshot,
  FilePhase,
  FileView,
  UploadEngineApi,
} from "../upload/types.js";
import { PriorityBadge } from "./bits.js";

/** Rows shown before "Show all": a folder of thousands of files must not re-render thousands of rows. */
const FILES_SHOWN = 100;

const BATCH_PHASE: Record<BatchPhase, [label: string, tone: string]> = {
  preparing: ["Preparing", "tone-muted"],
  running: ["Sending", "tone-info"],
  paused: ["Paused", "tone-warn"],
  offline: ["Offline, waiting for the link", "tone-warn"],
  complete: ["Complete", "tone-good"],
  failed: ["Failed", "tone-bad"],
  cancelled: ["Cancelled", "tone-muted"],
};

const FILE_PHASE: Record<FilePhase, [label: string, tone: string]> = {
  queued: ["Waiting", "tone-muted"],
  hashing: ["Hashing", "tone-info"],
  sending: ["Sending", "tone-info"],
  finishing: ["Finishing", "tone-info"],
  complete: ["Complete", "tone-good"],
  failed: ["Failed", "tone-bad"],
  cancelled: ["Cancelled", "tone-muted"],
};

const FINISHED = new Set<BatchPhase>(["complete", "failed", "cancelled"]);

export function UploadProgress({ ratio, label, tone }: { ratio: number; label: string; tone: string }) {
  const r = Number.isFinite(ratio) ? Math.max(0, Math.min(1, ratio)) : 0;
  return (
    <div class="progress-wrap">
      <div
        class={`progress ${tone}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.floor(r * 1000) / 10}
        aria-valuetext={formatPercent(r)}
      >
        <div class="progress-fill" style={{ width: `${r * 100}%` }} />
      </div>
      <span class="progress-text">{formatPercent(r)}</span>
    </div>
  );
}

export function BatchCard({
  batch: b,
  engine,
  link,
}: {
  batch: BatchView;
  engine: UploadEngineApi;
  link: EngineSnapshot["link"];
}) {
  const [showAll, setShowAll] = useState(false);
  const [label, tone] = BATCH_PHASE[b.phase];
  const finished = FINISHED.has(b.phase);
  const done = b.files.filter((f) => f.phase === "complete").length;
  const ratio = b.totalBytes > 0 ? b.sentBytes / b.totalBytes : b.phase === "complete" ? 1 : 0;
  const skipped = b.files.reduce((n, f) => n + f.skippedBytes, 0);
  const files = showAll ? b.files : b.files.slice(0, FILES_SHOWN);
  return (
    <article
      class={`card upload-batch${b.priority === "high" ? " is-high" : ""}`}
      data-testid="upload-batch"
      data-phase={b.phase}
      data-batch-id={b.batchId}
      aria-label={`Upload ${b.name}: ${label}`}
    >
      <header class="upload-batch-head">
        <div class="upload-batch-title">
          <h3 class="ellipsis" title={b.name}>
            {b.phase === "complete" && b.batchId ? <a href={href.batch(b.batchId)}>{b.name}</a> : b.name}
          </h3>
          <span class="upload-badges">
            <PriorityBadge priority={b.priority} />
            <span class={`badge ${tone}`} data-testid="upload-phase">
              {label}
            </span>
          </span>
        </div>
        <div class="upload-actions">
          {(b.phase === "running" || b.phase === "preparing" || b.phase === "offline") && (
            <button
              type="button"
              class="btn btn-small"
              data-testid="upload-pause"
              onClick={() => engine.pause(b.key)}
            >
              Pause
            </button>
          )}
          {b.phase === "paused" && (
            <button
              type="button"
              class="btn btn-small btn-primary"
              data-testid="upload-resume"
              onClick={() => engine.resume(b.key)}
            >
              Resume
            </button>
          )}
          {!finished && (
            <button
              type="button"
              class="btn btn-small"
              data-testid="upload-cancel"
              onClick={() => void engine.cancel(b.key)}
            >
              Cancel
            </button>
          )}
          {finished && (
            <button
              type="button"
              class="btn btn-small btn-ghost"
              data-testid="upload-dismiss"
              onClick={() => engine.dismiss(b.key)}
              aria-label={`Remove ${b.name} from the list`}
            >
              Dismiss
            </button>
          )}
        </div>
      </header>
      <UploadProgress ratio={ratio} label={`Progress of ${b.name}`} tone={tone} />
      <dl class="upload-facts">
        <Fact name="Sent" testId="upload-bytes">
          {formatBytes(b.sentBytes)} of {formatBytes(b.totalBytes)}
        </Fact>
        <Fact name="Files">
          {formatCount(done)} of {formatCount(b.files.length)}
        </Fact>
        <Fact name="Speed">{b.speedBps > 0 ? formatRate(b.speedBps) : "—"}</Fact>
        <Fact name="ETA">{!finished && b.etaSeconds !== null ? formatDuration(b.etaSeconds) : "—"}</Fact>
        <Fact name="Retries">
          {b.retries > 0 ? <span class="warn-text">{formatCount(b.retries)}</span> : "0"}
        </Fact>
        {skipped > 0 && <Fact name="Already stored">{formatBytes(skipped)}</Fact>}
      </dl>
      {!finished && (
        <p class="muted small upload-link" data-testid="upload-link">
          {b.phase === "running"
            ? `Link: ${link.concurrency} part${link.concurrency === 1 ? "" : "s"} in flight, ${formatBytes(link.partSize)} parts`
            : b.phase === "paused"
              ? "Paused: nothing is sent until you resume."
              : b.phase === "offline"
                ? "Waiting for the connection; nothing is lost."
                : "Reading the files' names and sizes…"}
        </p>
      )}
      {b.error && (
        <p class="note note-error" role="alert" data-testid="upload-problem">
          {b.error}
        </p>
      )}
      {b.problems.length > 0 && (
        <div class="note note-warn" data-testid="upload-problem" role="alert">
          <strong>
            {b.problems.length === 1
              ? "One item of the drop could not be read"
              : `${formatCount(b.problems.length)} items of the drop could not be read`}
            ; the rest is sent:
          </strong>
          <ul class="upload-problems">
            {b.problems.map((p) => (
              <li key={p.path}>
                <span class="mono">{p.path}</span>: {p.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      {b.files.length > 0 && (
        <ul class="upload-files" aria-label={`Files of ${b.name}`}>
          {files.map((f) => (
            <FileRow key={f.path} f={f} batchPhase={b.phase} />
          ))}
        </ul>
      )}
      {b.files.length > FILES_SHOWN && (
        <button type="button" class="btn btn-small btn-ghost" onClick={() => setShowAll(!showAll)}>
          {showAll ? `Show the first ${FILES_SHOWN}` : `Show all ${formatCount(b.files.length)} files`}
        </button>
      )}
    </article>
  );
}

function Fact({ name, testId, children }: { name: string; testId?: string; children: ComponentChildren }) {
  return (
    <div class="fact">
      <dt>{name}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** A file not ended in a paused or offline batch keeps its phase, but is not moving: said so. */
const STOPPED: Partial<Record<BatchPhase, [label: string, tone: string]>> = {
  paused: ["Paused", "tone-warn"],
  offline: ["Waiting for the link", "tone-warn"],
};
const ENDED = new Set<FilePhase>(["complete", "failed", "cancelled"]);

function FileRow({ f, batchPhase }: { f: FileView; batchPhase: BatchPhase }) {
  const stopped = ENDED.has(f.phase) ? undefined : STOPPED[batchPhase];
  const [label, tone] = stopped ?? FILE_PHASE[f.phase];
  const ratio =
    f.size === 0
      ? f.phase === "complete"
        ? 1
        : 0
      : f.phase === "hashing"
        ? f.hashedBytes / f.size
        : f.sentBytes / f.size;
  const words =
    f.phase === "hashing" && !stopped
      ? `Hashing ${formatPercent(f.size ? f.hashedBytes / f.size : 0, 0)}`
      : f.skippedBytes > 0 && f.phase !== "queued"
        ? `${label}, ${formatBytes(f.skippedBytes)} already stored`
        : label;
  return (
    <li class="upload-file" data-testid="upload-file" data-path={f.path} data-phase={f.phase}>
      <span class="upload-file-path" title={f.path}>
        {f.phase === "complete" && f.transferId ? (
          <a href={href.transfer(f.transferId)} class="ellipsis">
            {f.path}
          </a>
        ) : (
          <span class="ellipsis">{f.path}</span>
        )}
      </span>
      <span class="upload-file-size muted small">{formatBytes(f.size)}</span>
      <span class={`upload-file-phase small ${tone}`}>
        {words}
        {f.retries > 0 && <span class="warn-text"> · {f.retries} retries</span>}
      </span>
      <span class="upload-file-bar">
        <UploadProgress ratio={ratio} label={`Progress of ${f.path}`} tone={tone} />
      </span>
      {f.error && <span class="upload-file-error error-text">{f.error}</span>}
    </li>
  );
}
