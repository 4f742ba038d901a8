/** Small shared pieces: badges, progress bar, copy button, cards, live "ago" times. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { BatchStatus } from "../../../functions/contract/batches.js";
import type { Priority, TransferStatus } from "../../../functions/contract/schemas.js";
import { formatAgo, formatCount, formatDateTime, formatPercent } from "../format.js";
import type { Page } from "../transfer-table.js";

const PRIORITY_LABEL: Record<Priority, string> = { high: "High", normal: "Normal", low: "Low" };

export function PriorityBadge({ priority }: { priority: Priority }) {
  return (
    <span class={`badge prio prio-${priority}`} title={`${PRIORITY_LABEL[priority]} priority`}>
      {priority === "high" && (
        <svg class="icon" viewBox="0 0 12 12" aria-hidden="true">
          <path d="M6 2l4 6H2z" />
        </svg>
      )}
      {PRIORITY_LABEL[priority]}
    </span>
  );
}

const STATUS_LABEL: Record<TransferStatus, string> = {
  uploading: "Uploading",
  assembling: "Assembling",
  complete: "Complete",
  aborted: "Aborted",
  failed: "Failed",
};

export function StatusBadge({ status }: { status: TransferStatus }) {
  return <span class={`badge status status-${status}`}>{STATUS_LABEL[status]}</span>;
}

const BATCH_STATUS_LABEL: Record<BatchStatus, string> = {
  open: "Open",
  complete: "Complete",
  aborted: "Aborted",
};

export function BatchStatusBadge({ status }: { status: BatchStatus }) {
  return <span class={`badge status status-${status}`}>{BATCH_STATUS_LABEL[status]}</span>;
}

export function ProgressBar({
  ratio,
  label,
  status,
}: {
  ratio: number;
  label: string;
  status: TransferStatus | BatchStatus;
}) {
  const pct = Math.max(0, Math.min(1, ratio)) * 100;
  return (
    <div class="progress-wrap">
      <div
        class={`progress status-${status}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.floor(pct * 10) / 10}
        aria-valuetext={formatPercent(ratio)}
      >
        <div class="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span class="progress-text">{formatPercent(ratio)}</span>
    </div>
  );
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function CopyButton({ text, label, compact }: { text: string; label: string; compact?: boolean }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const t = setTimeout(() => setState("idle"), 2000);
    return () => clearTimeout(t);
  }, [state]);
  return (
    <button
      type="button"
      class={compact ? "btn btn-ghost btn-small" : "btn btn-small"}
      aria-label={label}
      title={label}
      onClick={async () => setState((await copyText(text)) ? "copied" : "failed")}
    >
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}
    </button>
  );
}

export function Card({
  title,
  children,
  class: extra,
  actions,
  id,
}: {
  title: string;
  children: ComponentChildren;
  class?: string | undefined;
  actions?: ComponentChildren;
  id?: string | undefined;
}) {
  const headingId = id ? `${id}-title` : undefined;
  return (
    <section class={`card ${extra ?? ""}`} aria-labelledby={headingId} id={id}>
      <header class="card-head">
        <h2 id={headingId}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** The current time, refreshed every `ms` while mounted (for "3 s ago" and countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function Ago({ at }: { at: string | number }) {
  const now = useNow();
  return (
    <time dateTime={new Date(at).toISOString()} title={formatDateTime(at, new Date(0))}>
      {formatAgo(at, now)}
    </time>
  );
}

export function When({ at }: { at: string | undefined }) {
  if (!at) return <span class="muted">—</span>;
  return (
    <time dateTime={at} title={formatDateTime(at, new Date(0))}>
      {formatDateTime(at)}
    </time>
  );
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const code = (error as { code?: string }).code;
  return (
    <p class="note note-error" role="alert">
      {code ? <code>{code}</code> : null} {error.message}
    </p>
  );
}

/** First / Previous / "Page n of m" / Next / Last under a table paged in the browser. */
export function Pager({
  label,
  shown,
  onPage,
  rangeTestId,
}: {
  label: string;
  shown: Page<unknown>;
  onPage: (page: number) => void;
  rangeTestId: string;
}) {
  const last = shown.page >= shown.pages - 1;
  return (
    <nav class="pager" aria-label={label}>
      <span class="muted small" data-testid={rangeTestId}>
        {shown.total
          ? `${formatCount(shown.first)}–${formatCount(shown.last)} of ${formatCount(shown.total)}`
          : ""}
      </span>
      <div class="pager-buttons">
        <button type="button" class="btn btn-small" disabled={shown.page === 0} onClick={() => onPage(0)}>
          First
        </button>
        <button
          type="button"
          class="btn btn-small"
          disabled={shown.page === 0}
          onClick={() => onPage(shown.page - 1)}
        >
          Previous
        </button>
        <span class="small" aria-live="polite">
          Page {shown.page + 1} of {shown.pages}
        </span>
        <button type="button" class="btn btn-small" disabled={last} onClick={() => onPage(shown.page + 1)}>
          Next
        </button>
        <button type="button" class="btn btn-small" disabled={last} onClick={() => onPage(shown.pages - 1)}>
          Last
        </button>
      </div>
    </nav>
  );
}
