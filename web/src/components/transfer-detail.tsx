/**
 * One transfer: its path and batch when it came with a folder, why it failed when it did, what is stored (parts map, per-part sizes and SHA-256s), the whole-file SHA-256, its
 * timeline, and the links to hand out — a short-lived download link (copied) and counted share links.
 */
import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import type { TransferEvent } from "../../../functions/contract/monitor.js";
import type { CreatedShare, FileDetail, ShareInfo } from "../../../functions/contract/schemas.js";
import { ApiError } from "../api.js";
import {
  formatBytes,
  formatCount,
  formatDateTime,
  formatDuration,
  formatRate,
  formatTime,
} from "../format.js";
import { missingRanges, storedRanges } from "../parts.js";
import { usePolled } from "../poller.js";
import { href } from "../route.js";
import { api, poller } from "../services.js";
import { progressOf } from "../transfer-table.js";
import {
  Card,
  CopyButton,
  copyText,
  ErrorNote,
  PriorityBadge,
  ProgressBar,
  StatusBadge,
  When,
} from "./bits.js";
import { transfersHref } from "./transfers-view.js";

const PARTS_SHOWN = 50;
// A failed transfer is not ended: its sender may resume it (it stays resumable unless it was aborted).
const ENDED = new Set(["complete", "aborted"]);

export function TransferDetail({ id }: { id: string }) {
  const last = useRef<FileDetail | undefined>(undefined);
  const file = usePolled(poller, `file:${id}`, async () => {
    const prev = last.current;
    // An ended transfer no longer changes: its parts are not read again on every poll.
    if (prev?.id === id && ENDED.has(prev.status)) return prev;
    const next = await api.file(id);
    last.current = next;
    return next;
  });
  const events = usePolled(poller, `events:${id}`, () => api.events(id));
  const shares = usePolled(poller, `shares:${id}`, () => api.shares(id));
  const t = file.data;

  if (file.error instanceof ApiError && file.error.status === 404)
    return (
      <div class="view">
        <BackLink />
        <h1>No such transfer</h1>
        <p class="muted">
          The API knows no transfer <code>{id}</code>.
        </p>
      </div>
    );

  return (
    <div class="view">
      <BackLink />
      <ErrorNote error={file.error} />
      {!t ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <div class="detail-head">
            <h1 class="detail-title" title={t.name}>
              {t.name}
            </h1>
            <div class="detail-badges">
              <StatusBadge status={t.status} />
              <PriorityBadge priority={t.priority} />
            </div>
            <p class="mono small muted detail-id">
              {t.id} <CopyButton text={t.id} label="Copy the transfer id" compact />
            </p>
            {t.batchId && (
              <p class="small detail-batch" data-testid="file-batch">
                <span class="muted">Path</span>{" "}
                <code class="path" data-testid="file-path">
                  {t.path ?? t.name}
                </code>{" "}
                <span class="muted">in batch</span>{" "}
                <a href={href.batch(t.batchId)} class="mono">
                  {t.batchId}
                </a>
              </p>
            )}
          </div>

          {t.status === "failed" && (
            <p class="note note-error note-failed" role="alert" data-testid="failed-reason">
              <strong>Failed:</strong> {t.lastError ?? "the sender gave no reason"}
            </p>
          )}

          <Card title="Progress" class={t.priority === "high" ? "is-high" : undefined}>
            <ProgressBar ratio={progressOf(t)} status={t.status} label={`Progress of ${t.name}`} />
            <dl class="facts" data-testid="facts">
              <Fact label="Size" value={`${formatBytes(t.size)} (${formatCount(t.size)} bytes)`} />
              <Fact
                label="Stored"
                value={`${formatBytes(storedBytesOf(t))} (${formatCount(storedBytesOf(t))} bytes)`}
              />
              <Fact label="Parts stored" value={formatCount(t.partsDone)} />
              <Fact
                label="Speed"
                value={t.speedBps !== undefined ? `${formatRate(t.speedBps)} (sender's last report)` : "—"}
              />
              <Fact
                label="ETA"
                value={
                  t.status === "uploading" && t.etaSeconds !== undefined ? formatDuration(t.etaSeconds) : "—"
                }
              />
              <Fact label="Retries" value={t.retries !== undefined ? formatCount(t.retries) : "—"} />
              <Fact label="Started" value={<When at={t.createdAt} />} />
              <Fact label="Updated" value={<When at={t.updatedAt} />} />
              <Fact label="Completed" value={<When at={t.completedAt} />} />
              {t.contentType && <Fact label="Content type" value={t.contentType} />}
            </dl>
            {t.lastError && t.status !== "failed" && (
              <p class="note note-error">
                <strong>Last error:</strong> {t.lastError}
              </p>
            )}
          </Card>

          <div class="grid-1-1">
            <Card title="Checksums" id="checksums">
              <dl class="hashes">
                <dt>SHA-256 of the whole file</dt>
                <dd>
                  <code class="hash" data-testid="file-sha256">
                    {t.sha256}
                  </code>
                  <CopyButton text={t.sha256} label="Copy the SHA-256" compact />
                </dd>
                <dt>S3 composite checksum</dt>
                <dd>
                  {t.compositeChecksum ? (
                    <>
                      <code class="hash">{t.compositeChecksum}</code>
                      <CopyButton text={t.compositeChecksum} label="Copy the composite checksum" compact />
                    </>
                  ) : (
                    <span class="muted">recorded when the parts are assembled</span>
                  )}
                </dd>
                {t.deduplicatedFrom && (
                  <>
                    <dt>Content stored by</dt>
                    <dd>
                      <a href={href.transfer(t.deduplicatedFrom)} class="mono">
                        {t.deduplicatedFrom}
                      </a>{" "}
                      <span class="muted small">(whole-file dedupe: nothing was sent)</span>
                    </dd>
                  </>
                )}
              </dl>
            </Card>
            <LinksCard file={t} shares={shares.data?.items} onShared={shares.reload} />
          </div>

          <PartsCard file={t} />
          <TimelineCard events={events.data?.items} error={events.error} />
        </>
      )}
    </div>
  );
}

function BackLink() {
  return (
    <a class="back" href={transfersHref()}>
      ← Transfers
    </a>
  );
}

function Fact({ label, value }: { label: string; value: ComponentChildren }) {
  return (
    <div class="fact">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

/** Complete means storage holds all of it (a single PUT, checked by HEAD, counts no parts). */
const storedBytesOf = (t: FileDetail) => (t.status === "complete" ? t.size : t.bytesDone);

function PartsCard({ file: t }: { file: FileDetail }) {
  const [all, setAll] = useState(false);
  if (t.upload === "single")
    return (
      <Card title="Parts" id="parts">
        <p class="small" data-testid="single-put">
          {t.size === 0
            ? "An empty file: stored with one plain PUT, no parts."
            : `Sent as one presigned PUT, no parts: storage checked its SHA-256 as it arrived${
                t.status === "complete"
                  ? ", and the coordinator checked its size and SHA-256 in storage before marking it complete."
                  : "; not stored yet."
              }`}
        </p>
      </Card>
    );
  const stored = storedRanges(t.parts, t.size);
  const missing = missingRanges(stored, t.size);
  const scale = (n: number) => (t.size > 0 ? (n / t.size) * 1000 : 0);
  const rows = all ? t.parts : t.parts.slice(0, PARTS_SHOWN);
  const boundaries = t.parts.length <= 400 ? t.parts.slice(1) : [];
  const storedBytes = stored.reduce((n, r) => n + r.size, 0);
  return (
    <Card title="Parts" id="parts">
      <p class="small">
        {t.size === 0
          ? "An empty file: stored with one plain PUT, no parts."
          : `${formatCount(t.parts.length)} part${t.parts.length === 1 ? "" : "s"} stored, covering ${formatBytes(storedBytes)} of ${formatBytes(t.size)}${
              missing.length
                ? ` · ${missing.length} range${missing.length > 1 ? "s" : ""} missing`
                : " · nothing missing"
            }`}
      </p>
      {t.size > 0 && (
        <>
          <svg
            class="partsmap"
            viewBox="0 0 1000 24"
            preserveAspectRatio="none"
            role="img"
            aria-label={`Byte ranges stored: ${stored.map((r) => `${formatCount(r.offset)}–${formatCount(r.offset + r.size)}`).join(", ") || "none"}`}
            data-testid="parts-map"
          >
            <rect class="pm-missing" x="0" y="0" width="1000" height="24" />
            {stored.map((r) => (
              <rect
                key={r.offset}
                class="pm-stored"
                x={scale(r.offset)}
                y="0"
                width={Math.max(0.75, scale(r.size))}
                height="24"
              />
            ))}
            {boundaries.map((p) => (
              <line
                key={p.partNumber}
                class="pm-edge"
                x1={scale(p.offset)}
                x2={scale(p.offset)}
                y1="0"
                y2="24"
                vector-effect="non-scaling-stroke"
              />
            ))}
          </svg>
          <div class="partsmap-legend small">
            <span>
              <i class="swatch swatch-stored" /> stored
            </span>
            <span>
              <i class="swatch swatch-missing" /> not stored yet
            </span>
            <span class="muted">0 → {formatBytes(t.size)}</span>
          </div>
          {missing.length > 0 && (
            <p class="small muted">
              Missing:{" "}
              {missing
                .slice(0, 5)
                .map((r) => `bytes ${formatCount(r.offset)}–${formatCount(r.offset + r.size - 1)}`)
                .join(", ")}
              {missing.length > 5 ? `, and ${missing.length - 5} more` : ""}
            </p>
          )}
        </>
      )}
      {t.parts.length > 0 && (
        <div class="table-wrap">
          <table class="table parts" data-testid="parts-table">
            <caption class="sr-only">Stored parts of {t.name}</caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  Part
                </th>
                <th scope="col" class="num">
                  Offset
                </th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">SHA-256</th>
                <th scope="col">ETag</th>
                <th scope="col">Stored</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.partNumber}>
                  <td data-label="Part" class="num">
                    {p.partNumber}
                  </td>
                  <td data-label="Offset" class="num mono">
                    {formatCount(p.offset)}
                  </td>
                  <td data-label="Size" class="num" title={`${formatCount(p.size)} bytes`}>
                    {formatBytes(p.size)}
                  </td>
                  <td data-label="SHA-256" class="cell-hash">
                    <code class="hash small">{p.sha256}</code>
                  </td>
                  <td data-label="ETag">
                    <code class="small ellipsis" title={p.etag}>
                      {p.etag.replaceAll('"', "")}
                    </code>
                  </td>
                  <td data-label="Stored" class="nowrap">
                    <When at={p.uploadedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {t.parts.length > PARTS_SHOWN && (
        <button type="button" class="btn btn-small" onClick={() => setAll(!all)}>
          {all ? `Show the first ${PARTS_SHOWN}` : `Show all ${formatCount(t.parts.length)} parts`}
        </button>
      )}
    </Card>
  );
}

const EVENT_LABEL: Record<TransferEvent["kind"], string> = {
  created: "Created",
  deduplicated: "Deduplicated",
  "part-rejected": "Part rejected",
  "client-error": "Client error",
  assembled: "Assembled",
  "checksum-mismatch": "Checksum mismatch",
  "upload-gone": "Upload gone",
  aborted: "Aborted",
  failed: "Failed",
};

export const EVENT_TONE: Record<TransferEvent["kind"], "info" | "good" | "bad" | "muted"> = {
  created: "info",
  deduplicated: "good",
  "part-rejected": "bad",
  "client-error": "bad",
  assembled: "good",
  "checksum-mismatch": "bad",
  "upload-gone": "bad",
  aborted: "muted",
  failed: "bad",
};

export function EventKind({ kind }: { kind: TransferEvent["kind"] }) {
  return <span class={`badge tone-${EVENT_TONE[kind]}`}>{EVENT_LABEL[kind]}</span>;
}

function TimelineCard({ events, error }: { events: TransferEvent[] | undefined; error: Error | undefined }) {
  return (
    <Card title="Timeline" id="timeline">
      <ErrorNote error={error} />
      {events === undefined ? (
        <p class="muted">Loading…</p>
      ) : events.length === 0 ? (
        <p class="muted">No events recorded.</p>
      ) : (
        <ol class="timeline" data-testid="timeline">
          {events.map((e, i) => (
            <li key={`${e.at}-${i}`} class={`tl-item tone-${EVENT_TONE[e.kind]}`}>
              <span class="tl-dot" aria-hidden="true" />
              <div class="tl-body">
                <div class="tl-head">
                  <EventKind kind={e.kind} />
                  <time dateTime={e.at} class="small muted" title={formatDateTime(e.at, new Date(0))}>
                    {formatDateTime(e.at)}
                  </time>
                  {e.partNumber !== undefined && <span class="small muted">part {e.partNumber}</span>}
                  {e.code && <code class="small">{e.code}</code>}
                </div>
                <p class="tl-msg">{e.message}</p>
              </div>
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}

const EXPIRY_CHOICES: { seconds: number; label: string }[] = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 24 * 3600, label: "24 hours" },
  { seconds: 7 * 24 * 3600, label: "7 days" },
  { seconds: 30 * 24 * 3600, label: "30 days" },
];

function LinksCard({
  file: t,
  shares,
  onShared,
}: {
  file: FileDetail;
  shares: ShareInfo[] | undefined;
  onShared: () => void;
}) {
  const complete = t.status === "complete";
  const [download, setDownload] = useState<{ url: string; expiresAt: string; copied: boolean } | null>(null);
  const [downloadError, setDownloadError] = useState<Error | undefined>(undefined);
  const [expiresIn, setExpiresIn] = useState(24 * 3600);
  const [limit, setLimit] = useState("");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedShare | null>(null);
  const [shareError, setShareError] = useState<Error | undefined>(undefined);

  const copyDownload = async () => {
    setDownloadError(undefined);
    try {
      const d = await api.download(t.id);
      setDownload({ url: d.url, expiresAt: d.expiresAt, copied: await copyText(d.url) });
    } catch (err) {
      setDownloadError(err instanceof Error ? err : new Error(String(err)));
    }
  };

  const createShare = async (e: Event) => {
    e.preventDefault();
    setShareError(undefined);
    setCreating(true);
    try {
      const max = limit.trim() === "" ? undefined : Number(limit);
      const s = await api.createShare(t.id, { expiresIn, ...(max !== undefined && { maxDownloads: max }) });
      setCreated(s);
      onShared();
    } catch (err) {
      setShareError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setCreating(false);
    }
  };

  return (
    <Card title="Links" id="links">
      {!complete && <p class="muted small">Links can be made once the file is complete.</p>}
      <div class="link-block">
        <button
          type="button"
          class="btn"
          disabled={!complete}
          onClick={copyDownload}
          data-testid="copy-download"
        >
          Copy download link
        </button>
        <ErrorNote error={downloadError} />
        {download && (
          <div class="link-out">
            <label class="label" for="download-url">
              Download link {download.copied ? "(copied)" : "(select and copy)"} — valid until{" "}
              {formatTime(download.expiresAt)}
            </label>
            <input
              id="download-url"
              class="input mono small"
              readOnly
              value={download.url}
              onFocus={(e) => e.currentTarget.select()}
              data-testid="download-url"
            />
          </div>
        )}
      </div>

      <form class="share-form" onSubmit={createShare} aria-label="Create a share link">
        <h3>Share link</h3>
        <p class="muted small">
          Anyone with the link can download the file, without a token, until it expires.
        </p>
        <div class="share-fields">
          <label class="field">
            <span class="label">Expires after</span>
            <select
              class="input"
              value={String(expiresIn)}
              onChange={(e) => setExpiresIn(Number(e.currentTarget.value))}
              disabled={!complete}
            >
              {EXPIRY_CHOICES.map((c) => (
                <option key={c.seconds} value={String(c.seconds)}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span class="label">Download limit</span>
            <input
              type="number"
              class="input"
              min={1}
              max={1000000}
              step={1}
              inputMode="numeric"
              placeholder="No limit"
              value={limit}
              onInput={(e) => setLimit(e.currentTarget.value)}
              disabled={!complete}
              data-testid="share-limit"
            />
          </label>
          <button
            type="submit"
            class="btn btn-primary"
            disabled={!complete || creating}
            data-testid="create-share"
          >
            {creating ? "Creating…" : "Create share link"}
          </button>
        </div>
        <ErrorNote error={shareError} />
        {created && (
          <div class="link-out" data-testid="share-created">
            <label class="label" for="share-url">
              New link — expires {formatDateTime(created.expiresAt)}
              {created.maxDownloads !== undefined ? `, ${formatCount(created.maxDownloads)} downloads` : ""}.
              It is shown only now.
            </label>
            <div class="token-row">
              <input
                id="share-url"
                class="input mono small"
                readOnly
                value={created.url}
                onFocus={(e) => e.currentTarget.select()}
                data-testid="share-url"
              />
              <CopyButton text={created.url} label="Copy the share link" />
            </div>
          </div>
        )}
      </form>

      {shares && shares.length > 0 && (
        <div class="shares">
          <h3>Links made</h3>
          <ul class="share-list">
            {shares.map((s) => (
              <li key={s.shareId} class="share-item">
                <span class={`badge share-${s.state}`}>{s.state}</span>
                <span class="small">
                  {formatCount(s.downloads)}
                  {s.maxDownloads !== undefined ? ` of ${formatCount(s.maxDownloads)}` : ""} downloads
                </span>
                <span class="small muted">
                  {s.state === "active" ? "expires" : "expiry"} {formatDateTime(s.expiresAt)}
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </Card>
  );
}
