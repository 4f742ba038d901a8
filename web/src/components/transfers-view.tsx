/**
 * Transfers: every transfer the API lists, sorted and filtered in the browser, one page of rows in the DOM
 * (so thousands of transfers cost one sort, not thousands of rows). High priority rows are marked.
 * Each render of the table is timed as the performance measure "sfts:transfers-render".
 */
import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { FileSummary, Priority, TransferStatus } from "../../../functions/contract/schemas.js";
import { formatBytes, formatCount, formatDuration, formatRate, formatTime } from "../format.js";
import { usePolled } from "../poller.js";
import { href } from "../route.js";
import { poller, transferIndex } from "../services.js";
import {
  comparator,
  DESCENDING_FIRST,
  type Filter,
  matches,
  pageOf,
  progressOf,
  type Sort,
  type SortKey,
} from "../transfer-table.js";
import { ErrorNote, Pager, PriorityBadge, ProgressBar, StatusBadge, When } from "./bits.js";

const PAGE_SIZES = [25, 50, 100, 250];

/** Kept while the page lives, so coming back from a transfer finds the table as it was. */
const memory: { sort: Sort; filter: Filter; page: number; pageSize: number } = {
  sort: { key: "createdAt", descending: true },
  filter: { status: "", priority: "", text: "" },
  page: 0,
  pageSize: 50,
};

/** The sort choices on narrow screens, where the table's headers are hidden. */
const SORT_CHOICES: [SortKey, boolean, string][] = [
  ["createdAt", true, "Newest first"],
  ["createdAt", false, "Oldest first"],
  ["updatedAt", true, "Recently updated"],
  ["priority", true, "Priority, high first"],
  ["status", true, "Status, moving first"],
  ["progress", true, "Progress, most done"],
  ["progress", false, "Progress, least done"],
  ["size", true, "Size, largest"],
  ["speed", true, "Speed, fastest"],
  ["eta", false, "ETA, soonest"],
  ["retries", true, "Retries, most"],
  ["name", false, "Name, A–Z"],
];

/** The table as it was left: for "back to transfers" links. */
export function transfersHref(): string {
  const { status, priority } = memory.filter;
  return href.transfers({ ...(status && { status }), ...(priority && { priority }) });
}

const COLUMNS: { key: SortKey; label: string; class?: string }[] = [
  { key: "name", label: "Name" },
  { key: "size", label: "Size", class: "num" },
  { key: "priority", label: "Priority" },
  { key: "status", label: "Status" },
  { key: "progress", label: "Progress" },
  { key: "speed", label: "Speed", class: "num" },
  { key: "eta", label: "ETA", class: "num" },
  { key: "retries", label: "Retries", class: "num" },
];

export function TransfersView({ status, priority }: { status?: TransferStatus; priority?: Priority }) {
  const [sort, setSort] = useState(memory.sort);
  // Status and priority come from the address (#/transfers?status=failed), so links and reloads keep them.
  const [filter, setFilter] = useState<Filter>(() => ({
    status: status ?? "",
    priority: priority ?? "",
    text: memory.filter.text,
  }));
  const [page, setPage] = useState(memory.page);
  const [pageSize, setPageSize] = useState(memory.pageSize);
  const polled = usePolled(poller, "transfers", async () => {
    await transferIndex.refresh();
    return transferIndex.version;
  });
  const version = polled.data ?? (transferIndex.loadedAt !== undefined ? transferIndex.version : undefined);
  const loaded = version !== undefined;

  const renderStart = performance.now();
  const sorted = useMemo(() => {
    const items = transferIndex.all().filter((t) => matches(t, filter));
    return items.sort(comparator(sort));
  }, [version, sort, filter]);
  const shown = pageOf(sorted, page, pageSize);

  Object.assign(memory, { sort, filter, page: shown.page, pageSize });
  const measured = useRef("");
  useLayoutEffect(() => {
    const key = `${version}|${sort.key}${sort.descending}|${JSON.stringify(filter)}|${shown.page}|${pageSize}`;
    if (!loaded || measured.current === key) return;
    measured.current = key;
    performance.measure("sfts:transfers-render", {
      start: renderStart,
      end: performance.now(),
      detail: { rows: sorted.length, shown: shown.rows.length },
    });
  });

  const updateFilter = (patch: Partial<Filter>) => {
    const next = { ...filter, ...patch };
    setFilter(next);
    setPage(0);
    const q: { status?: TransferStatus; priority?: Priority } = {};
    if (next.status) q.status = next.status;
    if (next.priority) q.priority = next.priority;
    history.replaceState(null, "", href.transfers(q));
  };
  const sortBy = (key: SortKey) =>
    setSort((s) =>
      s.key === key ? { key, descending: !s.descending } : { key, descending: DESCENDING_FIRST.has(key) },
    );

  return (
    <div class="view">
      <div class="view-head">
        <h1>Transfers</h1>
        <p class="muted small" data-testid="transfers-count">
          {loaded
            ? `${formatCount(sorted.length)} of ${formatCount(transferIndex.size)} transfers${transferIndex.truncated ? " (the newest only: the list is capped)" : ""}`
            : "Loading…"}
          {polled.loadedAt ? ` · updated ${formatTime(polled.loadedAt)}` : ""}
        </p>
      </div>
      <ErrorNote error={polled.error} />
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="Filter transfers">
        <label class="field field-grow">
          <span class="label">Search</span>
          <input
            type="search"
            class="input"
            data-testid="search"
            placeholder="Name, id or SHA-256"
            value={filter.text}
            onInput={(e) => updateFilter({ text: e.currentTarget.value })}
          />
        </label>
        <label class="field">
          <span class="label">Status</span>
          <select
            class="input"
            value={filter.status}
            onChange={(e) => updateFilter({ status: e.currentTarget.value as Filter["status"] })}
          >
            <option value="">All</option>
            <option value="uploading">Uploading</option>
            <option value="assembling">Assembling</option>
            <option value="complete">Complete</option>
            <option value="failed">Failed</option>
            <option value="aborted">Aborted</option>
          </select>
        </label>
        <label class="field">
          <span class="label">Priority</span>
          <select
            class="input"
            value={filter.priority}
            onChange={(e) => updateFilter({ priority: e.currentTarget.value as Filter["priority"] })}
          >
            <option value="">All</option>
            <option value="high">High</option>
            <option value="normal">Normal</option>
            <option value="low">Low</option>
          </select>
        </label>
        <label class="field only-narrow">
          <span class="label">Sort by</span>
          <select
            class="input"
            value={`${sort.key}:${sort.descending ? "desc" : "asc"}`}
            data-testid="sort"
            onChange={(e) => {
              const [key, dir] = e.currentTarget.value.split(":") as [SortKey, string];
              setSort({ key, descending: dir === "desc" });
            }}
          >
            {SORT_CHOICES.map(([key, desc, label]) => (
              <option key={`${key}:${desc}`} value={`${key}:${desc ? "desc" : "asc"}`}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span class="label">Rows</span>
          <select
            class="input"
            value={String(pageSize)}
            data-testid="page-size"
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
        <table class="table transfers" data-testid="transfers-table">
          <caption class="sr-only">
            Transfers, sorted by {COLUMNS.find((c) => c.key === sort.key)?.label ?? sort.key}{" "}
            {sort.descending ? "descending" : "ascending"}
          </caption>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <SortHeader key={c.key} col={c} sort={sort} onSort={sortBy} />
              ))}
              <th scope="col">Last error</th>
              <SortHeader col={{ key: "createdAt", label: "Started" }} sort={sort} onSort={sortBy} />
              <SortHeader col={{ key: "updatedAt", label: "Updated" }} sort={sort} onSort={sortBy} />
            </tr>
          </thead>
          <tbody>
            {shown.rows.map((t) => (
              <Row key={t.id} t={t} />
            ))}
          </tbody>
        </table>
        {loaded && shown.rows.length === 0 && (
          <p class="empty">
            {transferIndex.size === 0 ? (
              <>
                No transfers yet. Send one with <code>npx sfts send FILE</code>.
              </>
            ) : (
              "No transfer matches these filters."
            )}
          </p>
        )}
        {!loaded && <p class="empty muted">Loading transfers…</p>}
      </div>
      <Pager label="Pages of transfers" shown={shown} onPage={setPage} rangeTestId="pager-range" />
    </div>
  );
}

function SortHeader({
  col,
  sort,
  onSort,
}: {
  col: { key: SortKey; label: string; class?: string };
  sort: Sort;
  onSort: (k: SortKey) => void;
}) {
  const active = sort.key === col.key;
  return (
    <th
      scope="col"
      class={col.class}
      aria-sort={active ? (sort.descending ? "descending" : "ascending") : undefined}
    >
      <button type="button" class="sort" onClick={() => onSort(col.key)} data-sort={col.key}>
        {col.label}
        <span class="sort-mark" aria-hidden="true">
          {active ? (sort.descending ? "▼" : "▲") : "↕"}
        </span>
      </button>
    </th>
  );
}

function Row({ t }: { t: FileSummary }) {
  const open = t.status === "uploading" || t.status === "assembling";
  return (
    <tr class={t.priority === "high" ? "is-high" : undefined} data-id={t.id} data-status={t.status}>
      <td data-label="Name" class="cell-name">
        <a href={href.transfer(t.id)} class="strong ellipsis" title={t.path ?? t.name}>
          {t.name}
        </a>
        <span class="mono muted tiny">{t.id}</span>
      </td>
      <td data-label="Size" class="num">
        {formatBytes(t.size)}
      </td>
      <td data-label="Priority">
        <PriorityBadge priority={t.priority} />
      </td>
      <td data-label="Status">
        <StatusBadge status={t.status} />
      </td>
      <td data-label="Progress" class="cell-progress">
        <ProgressBar ratio={progressOf(t)} status={t.status} label={`Progress of ${t.name}`} />
      </td>
      <td data-label="Speed" class={t.speedBps === undefined ? "num is-empty" : "num"}>
        {t.speedBps !== undefined ? formatRate(t.speedBps) : <span class="muted">—</span>}
      </td>
      <td data-label="ETA" class={open && t.etaSeconds !== undefined ? "num" : "num is-empty"}>
        {open && t.etaSeconds !== undefined ? formatDuration(t.etaSeconds) : <span class="muted">—</span>}
      </td>
      <td data-label="Retries" class={t.retries === undefined ? "num is-empty" : "num"}>
        {t.retries ? (
          <span class="warn-text">{t.retries}</span>
        ) : (
          <span class="muted">{t.retries ?? "—"}</span>
        )}
      </td>
      <td data-label="Last error" class={t.lastError ? "cell-error" : "cell-error is-empty"}>
        {t.lastError ? (
          <span class="error-text ellipsis" title={t.lastError}>
            {t.lastError}
          </span>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
      <td data-label="Started" class="nowrap">
        <When at={t.createdAt} />
      </td>
      <td data-label="Updated" class="nowrap">
        <When at={t.updatedAt} />
      </td>
    </tr>
  );
}
