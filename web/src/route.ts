/** Hash routes (#/transfers/tr_…, #/batches/bt_…, #/upload), so the built site needs no server rewrites on any static host. */
import { useEffect, useState } from "preact/hooks";
import type { BatchStatus } from "../../functions/contract/batches.js";
import type { Priority, TransferStatus } from "../../functions/contract/schemas.js";

export type Route =
  | { view: "overview" }
  | { view: "transfers"; status?: TransferStatus; priority?: Priority }
  | { view: "transfer"; id: string }
  | { view: "batches"; status?: BatchStatus }
  | { view: "batch"; id: string }
  | { view: "errors" }
  | { view: "upload" };

const STATUSES = new Set<string>(["uploading", "assembling", "complete", "aborted", "failed"]);
const PRIORITIES = new Set<string>(["high", "normal", "low"]);
const BATCH_STATUSES = new Set<string>(["open", "complete", "aborted"]);

export function parseHash(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "transfers" && parts[1]) return { view: "transfer", id: decodeURIComponent(parts[1]) };
  if (parts[0] === "transfers") {
    const q = new URLSearchParams(search);
    const status = q.get("status") ?? "";
    const priority = q.get("priority") ?? "";
    return {
      view: "transfers",
      ...(STATUSES.has(status) && { status: status as TransferStatus }),
      ...(PRIORITIES.has(priority) && { priority: priority as Priority }),
    };
  }
  if (parts[0] === "batches" && parts[1]) return { view: "batch", id: decodeURIComponent(parts[1]) };
  if (parts[0] === "batches") {
    const status = new URLSearchParams(search).get("status") ?? "";
    return { view: "batches", ...(BATCH_STATUSES.has(status) && { status: status as BatchStatus }) };
  }
  if (parts[0] === "errors") return { view: "errors" };
  if (parts[0] === "upload") return { view: "upload" };
  return { view: "overview" };
}

export const href = {
  overview: "#/",
  transfers: (filter: { status?: TransferStatus; priority?: Priority } = {}) => {
    const q = new URLSearchParams(filter as Record<string, string>).toString();
    return `#/transfers${q ? `?${q}` : ""}`;
  },
  transfer: (id: string) => `#/transfers/${encodeURIComponent(id)}`,
  batches: (status?: BatchStatus) => `#/batches${status ? `?status=${status}` : ""}`,
  batch: (id: string) => `#/batches/${encodeURIComponent(id)}`,
  errors: "#/errors",
  upload: "#/upload",
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
