/**
 * Batches: one row per `sfts send` (a folder, or several files), newest first, as GET /api/batches lists
 * them — files complete of the batch's file count, bytes complete of its total, failed files — one page
 * of the API at a time (Previous goes back through the cursors seen), refreshed on every poll.
 */
import { useState } from "preact/hooks";
import type { BatchStatus, BatchSummary } from "../../../functions/contract/batches.js";
import {
  batchProgress,
  type CursorPager,
  cursorOf,
  firstPage,
  nextPage,
  previousPage,
} from "../batch-files.js";
import { formatBytes, formatCount, formatTime } from "../format.js";
import { usePolled } from "../poller.js";
import { href } from "../route.js";
import { api, poller } from "../services.js";
import { BatchStatusBadge, ErrorNote, PriorityBadge, ProgressBar, When } from "./bits.js";

const PAGE_SIZE = 50;

/** Kept while the page lives, so "back to batches" finds the same page. */
let remembered: { status: BatchStatus | ""; pager: CursorPager } = { status: "", pager: firstPage };

export function BatchesView({ status }: { status?: BatchStatus }) {
  const [pager, setPager] = useState<CursorPager>(() =>
    remembered.status === (status ?? "") ? remembered.pager : firstPage,
  );
  remembered = { status: status ?? "", pager };
  const cursor = cursorOf(pager);
  const list = usePolled(poller, `batches:${status ?? ""}:${pager.page}:${cursor ?? ""}`, () =>
    api.batches({ status, limit: PAGE_SIZE, cursor }),
  );
  const items = list.data?.items;

  return (
    <div class="view">
      <div class="view-head">
        <h1>Batches</h1>
        <p class="muted small" data-testid="batches-count">
          {items === undefined
            ? "Loading…"
            : `${formatCount(items.length)} batch${items.length === 1 ? "" : "es"} on this page, newest first`}
          {list.loadedAt ? ` · updated ${formatTime(list.loadedAt)}` : ""}
        </p>
      </div>
      <ErrorNote error={list.error} />
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="Filter batches">
        <label class="field">
          <span class="label">Status</span>
          <select
            class="input"
            data-testid="batch-status-filter"
            value={status ?? ""}
            onChange={(e) => {
              setPager(firstPage);
              location.hash = href.batches((e.currentTarget.value || undefined) as BatchStatus | undefined);
            }}
          >
            <option value="">All</option>
            <option value="open">Open</option>
            <option value="complete">Complete</option>
            <option value="aborted">Aborted</option>
          </select>
        </label>
      </form>

      <div class="table-wrap">
        <table class="table batches" data-testid="batches-table">
          <caption class="sr-only">Batches, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Files
              </th>
              <th scope="col">Progress</th>
              <th scope="col" class="num">
                Bytes
              </th>
              <th scope="col">Priority</th>
              <th scope="col">Created</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {items?.map((b) => (
              <BatchRow key={b.id} b={b} />
            ))}
          </tbody>
        </table>
        {items !== undefined && items.length === 0 && (
          <p class="empty">
            {status || pager.page > 0 ? (
              "No batch here."
            ) : (
              <>
                No batches yet. Send a folder with <code>npx sfts send DIR/</code>.
              </>
            )}
          </p>
        )}
        {items === undefined && !list.error && <p class="empty muted">Loading batches…</p>}
      </div>
      <nav class="pager" aria-label="Pages of batches">
        <span class="muted small">Page {pager.page + 1}</span>
        <div class="pager-buttons">
          <button
            type="button"
            class="btn btn-small"
            disabled={pager.page === 0}
            onClick={() => setPager(previousPage(pager))}
          >
            Previous
          </button>
          <button
            type="button"
            class="btn btn-small"
            disabled={!list.data?.nextCursor}
            onClick={() => setPager(nextPage(pager, list.data?.nextCursor ?? null))}
          >
            Next
          </button>
        </div>
      </nav>
    </div>
  );
}

/** "12 of 40", and how many failed when some did. */
export function FilesCount({ b }: { b: BatchSummary }) {
  return (
    <>
      <span class="nowrap">
        {formatCount(b.filesComplete)} of {formatCount(b.fileCount)}
      </span>
      {b.filesFailed > 0 && (
        <span class="error-text nowrap" data-testid="files-failed">
          {" "}
          · {formatCount(b.filesFailed)} failed
        </span>
      )}
    </>
  );
}

function BatchRow({ b }: { b: BatchSummary }) {
  return (
    <tr data-id={b.id} data-status={b.status}>
      <td data-label="Name" class="cell-name">
        <a href={href.batch(b.id)} class="strong ellipsis" title={b.name}>
          {b.name}
        </a>
        <span class="mono muted tiny">{b.id}</span>
      </td>
      <td data-label="Status">
        <BatchStatusBadge status={b.status} />
      </td>
      <td data-label="Files" class="num" data-testid="batch-files">
        <FilesCount b={b} />
      </td>
      <td data-label="Progress" class="cell-progress">
        <ProgressBar ratio={batchProgress(b)} status={b.status} label={`Progress of ${b.name}`} />
      </td>
      <td data-label="Bytes" class="num nowrap" data-testid="batch-bytes">
        {formatBytes(b.bytesComplete)} of {formatBytes(b.totalBytes)}
      </td>
      <td data-label="Priority">
        <PriorityBadge priority={b.priority} />
      </td>
      <td data-label="Created" class="nowrap">
        <When at={b.createdAt} />
      </td>
      <td data-label="Updated" class="nowrap">
        <When at={b.updatedAt} />
      </td>
    </tr>
  );
}
