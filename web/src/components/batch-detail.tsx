/**
 * One batch: its summary (GET /api/batches/{id}: files and bytes complete, failed files, empty folders)
 * and every file by path (GET /api/batches/{id}/files, walked by batch-files.ts), filtered and paged in
 * the browser so a batch of thousands of files puts one page of rows in the DOM. Each row links to the
 * file's transfer.
 */
import type { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import type { FileSummary } from "../../../functions/contract/schemas.js";
import { ApiError } from "../api.js";
import { BatchFileIndex, batchProgress, type FileFilter, matchesFile, splitPath } from "../batch-files.js";
import { formatBytes, formatCount, formatDuration, formatRate, formatTime } from "../format.js";
import { usePolled } from "../poller.js";
import { href } from "../route.js";
import { api, poller } from "../services.js";
import { pageOf, progressOf } from "../transfer-table.js";
import { FilesCount } from "./batches-view.js";
import {
  BatchStatusBadge,
  Card,
  CopyButton,
  ErrorNote,
  Pager,
  PriorityBadge,
  ProgressBar,
  StatusBadge,
  When,
} from "./bits.js";

const PAGE_SIZES = [50, 100, 250, 500];
const DIRS_SHOWN = 200;

export function BatchDetail({ id }: { id: string }) {
  const index = useMemo(() => new BatchFileIndex(api, id), [id]);
  const polled = usePolled(poller, `batch:${id}`, async () => {
    const batch = await api.batch(id);
    await index.refresh(batch);
    return { batch, version: index.version };
  });
  const b = polled.data?.batch;

  if (polled.error instanceof ApiError && polled.error.status === 404)
    return (
      <div class="view">
        <BackLink />
        <h1>No such batch</h1>
        <p class="muted">
          The API knows no batch <code>{id}</code>.
        </p>
      </div>
    );

  return (
    <div class="view">
      <BackLink />
      <ErrorNote error={polled.error} />
      {!b ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <div class="detail-head">
            <h1 class="detail-title" title={b.name}>
              {b.name}
            </h1>
            <div class="detail-badges">
              <BatchStatusBadge status={b.status} />
              <PriorityBadge priority={b.priority} />
            </div>
            <p class="mono small muted detail-id">
              {b.id} <CopyButton text={b.id} label="Copy the batch id" compact />
            </p>
          </div>

          <Card title="Progress">
            <ProgressBar ratio={batchProgress(b)} status={b.status} label={`Progress of ${b.name}`} />
            <dl class="facts" data-testid="batch-facts">
              <Fact label="Files complete" value={<FilesCount b={b} />} testid="fact-files" />
              <Fact
                label="Bytes complete"
                value={`${formatBytes(b.bytesComplete)} of ${formatBytes(b.totalBytes)}`}
                testid="fact-bytes"
              />
              <Fact label="Total size" value={`${formatCount(b.totalBytes)} bytes`} testid="fact-total" />
              <Fact label="Empty folders" value={formatCount(b.dirs.length)} testid="fact-dirs" />
              <Fact label="Created" value={<When at={b.createdAt} />} />
              <Fact label="Updated" value={<When at={b.updatedAt} />} />
              {b.completedAt && <Fact label="Completed" value={<When at={b.completedAt} />} />}
            </dl>
            {b.dirs.length > 0 && (
              <details class="dirs">
                <summary class="small">
                  {formatCount(b.dirs.length)} empty folder{b.dirs.length === 1 ? "" : "s"}, recreated by
                  receivers
                </summary>
                <ul class="dir-list mono small" data-testid="dirs">
                  {b.dirs.slice(0, DIRS_SHOWN).map((d) => (
                    <li key={d}>{d}/</li>
                  ))}
                  {b.dirs.length > DIRS_SHOWN && (
                    <li class="muted">and {formatCount(b.dirs.length - DIRS_SHOWN)} more</li>
                  )}
                </ul>
              </details>
            )}
          </Card>

          <FilesCard index={index} version={polled.data?.version ?? 0} fileCount={b.fileCount} />
        </>
      )}
    </div>
  );
}

function BackLink() {
  return (
    <a class="back" href={href.batches()}>
      ← Batches
    </a>
  );
}

function Fact({ label, value, testid }: { label: string; value: ComponentChildren; testid?: string }) {
  return (
    <div class="fact" data-testid={testid}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function FilesCard({
  index,
  version,
  fileCount,
}: {
  index: BatchFileIndex;
  version: number;
  fileCount: number;
}) {
  const [which, setWhich] = useState<FileFilter>("all");
  const [text, setText] = useState("");
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(100);
  const shownFiles = useMemo(
    () => index.all().filter((f) => matchesFile(f, which, text)),
    [index, version, which, text],
  );
  const shown = pageOf(shownFiles, page, pageSize);
  const loaded = index.loadedAt !== undefined;

  return (
    <Card title="Files" id="files">
      <p class="small muted" data-testid="files-count">
        {loaded
          ? `${formatCount(shownFiles.length)} shown of ${formatCount(index.size)} listed (the batch has ${formatCount(fileCount)})${index.truncated ? ` · only the first ${formatCount(index.size)} by path are read` : ""}, by path`
          : "Loading…"}
        {index.lastWalkAt ? ` · read ${formatTime(index.lastWalkAt)}` : ""}
      </p>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="Filter files">
        <label class="field field-grow">
          <span class="label">Search</span>
          <input
            type="search"
            class="input"
            data-testid="file-search"
            placeholder="Path, id or SHA-256"
            value={text}
            onInput={(e) => {
              setText(e.currentTarget.value);
              setPage(0);
            }}
          />
        </label>
        <label class="field">
          <span class="label">Show</span>
          <select
            class="input"
            data-testid="file-filter"
            value={which}
            onChange={(e) => {
              setWhich(e.currentTarget.value as FileFilter);
              setPage(0);
            }}
          >
            <option value="all">All files</option>
            <option value="incomplete">Not complete</option>
            <option value="failed">Failed</option>
          </select>
        </label>
        <label class="field">
          <span class="label">Rows</span>
          <select
            class="input"
            value={String(pageSize)}
            onChange={(e) => {
              setPageSize(Number(e.currentTarget.value));
              setPage(0);
            }}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)}>
                {n} per page
              </option>
            ))}
          </select>
        </label>
      </form>
      <div class="table-wrap">
        <table class="table batch-files" data-testid="batch-files-table">
          <caption class="sr-only">Files of the batch, by path</caption>
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col" class="num">
                Speed
              </th>
              <th scope="col" class="num">
                ETA
              </th>
              <th scope="col">Last error</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {shown.rows.map((f) => (
              <FileRow key={f.id} f={f} />
            ))}
          </tbody>
        </table>
        {loaded && shown.rows.length === 0 && (
          <p class="empty">
            {index.size === 0 ? "No files listed in this batch yet." : "No file matches these filters."}
          </p>
        )}
      </div>
      {shown.pages > 1 && (
        <Pager label="Pages of files" shown={shown} onPage={setPage} rangeTestId="files-range" />
      )}
    </Card>
  );
}

function FileRow({ f }: { f: FileSummary }) {
  const path = f.path ?? f.name;
  const [folder, base] = splitPath(path);
  const open = f.status === "uploading" || f.status === "assembling";
  return (
    <tr data-id={f.id} data-status={f.status} data-path={path}>
      <td data-label="Path" class="cell-name cell-path">
        <a href={href.transfer(f.id)} class="ellipsis" title={path}>
          {folder && <span class="muted">{folder}</span>}
          <span class="strong">{base}</span>
        </a>
        <span class="mono muted tiny">{f.id}</span>
      </td>
      <td data-label="Size" class="num nowrap" title={`${formatCount(f.size)} bytes`}>
        {formatBytes(f.size)}
      </td>
      <td data-label="Status">
        <StatusBadge status={f.status} />
      </td>
      <td data-label="Progress" class="cell-progress">
        <ProgressBar ratio={progressOf(f)} status={f.status} label={`Progress of ${path}`} />
      </td>
      <td data-label="Speed" class={open && f.speedBps !== undefined ? "num" : "num is-empty"}>
        {open && f.speedBps !== undefined ? formatRate(f.speedBps) : <span class="muted">—</span>}
      </td>
      <td data-label="ETA" class={open && f.etaSeconds !== undefined ? "num" : "num is-empty"}>
        {open && f.etaSeconds !== undefined ? formatDuration(f.etaSeconds) : <span class="muted">—</span>}
      </td>
      <td data-label="Last error" class={f.lastError ? "cell-error" : "cell-error is-empty"}>
        {f.lastError ? (
          <span class="error-text" title={f.lastError} data-testid="file-error">
            {f.lastError}
          </span>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
      <td data-label="Updated" class="nowrap">
        <When at={f.updatedAt} />
      </td>
    </tr>
  );
}
