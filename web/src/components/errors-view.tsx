/** Recent failures across transfers, newest first, with the API's codes and messages. */
import { formatDateTime } from "../format.js";
import { usePolled } from "../poller.js";
import { href } from "../route.js";
import { api, poller } from "../services.js";
import { ErrorNote } from "./bits.js";
import { EventKind } from "./transfer-detail.js";

const LIMIT = 100;

export function ErrorsView() {
  const errors = usePolled(poller, "errors", () => api.errors(LIMIT));
  const items = errors.data?.items;
  return (
    <div class="view">
      <div class="view-head">
        <h1>Errors</h1>
        <p class="muted small">
          The last {LIMIT} failures recorded by the API: parts storage refused or did not hold, errors senders
          reported, checksum mismatches, uploads gone from storage.
        </p>
      </div>
      <ErrorNote error={errors.error} />
      {items === undefined ? (
        <p class="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p class="empty">No failures recorded.</p>
      ) : (
        <div class="table-wrap">
          <table class="table errors" data-testid="errors-table">
            <caption class="sr-only">Recent failures, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Transfer</th>
                <th scope="col">Kind</th>
                <th scope="col">Code</th>
                <th scope="col">Message</th>
                <th scope="col" class="num">
                  Part
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((e, i) => (
                <tr key={`${e.at}-${e.transferId}-${i}`}>
                  <td data-label="When" class="nowrap">
                    <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                  </td>
                  <td data-label="Transfer" class="cell-name">
                    <a
                      href={href.transfer(e.transferId)}
                      class="strong ellipsis"
                      title={e.name ?? e.transferId}
                    >
                      {e.name ?? e.transferId}
                    </a>
                    {e.name && <span class="mono muted tiny">{e.transferId}</span>}
                  </td>
                  <td data-label="Kind">
                    <EventKind kind={e.kind} />
                  </td>
                  <td data-label="Code">{e.code ? <code>{e.code}</code> : <span class="muted">—</span>}</td>
                  <td data-label="Message" class="cell-message">
                    {e.message}
                  </td>
                  <td data-label="Part" class="num">
                    {e.partNumber ?? <span class="muted">—</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
