/**
 * The send transport over HTTP: coordinator calls through ApiClient (each retried by the one retry policy,
 * retries reported as events), storage PUTs through putPart (streamed in slices under --limit-rate, with
 * the stall watchdog). Built once per command; the fail call uses a client that retries only once, so a
 * sender giving up on an unreachable server does not wait minutes more to say so.
 */
import { apiClientFor } from "../api-client.js";
import type { Bandwidth } from "../bandwidth.js";
import type { ClientConfig } from "../config.js";
import type { NewEvent } from "../events.js";
import { putPart } from "../part-put.js";
import type { Transport } from "./transport.js";

export function httpTransport(o: {
  client: ClientConfig;
  bandwidth: Bandwidth;
  stallMs: number;
  /** Hard stop: aborts calls and PUTs in flight. */
  abort: AbortSignal;
  emit: (e: NewEvent) => void;
}): Transport {
  const api = apiClientFor(o.client, o.abort, o.emit);
  const quick = apiClientFor({ ...o.client, retry: { ...o.client.retry, maxRetries: 1 } }, o.abort);
  return {
    storage: () => api.storage(),
    createBatch: (req) => api.createBatch(req),
    addFiles: async (batchId, files) => (await api.addBatchFiles(batchId, { files })).files,
    completeFiles: async (batchId, ids) =>
      (await api.completeBatchFiles(batchId, { files: ids.map((transferId) => ({ transferId })) })).files,
    listBatchFiles: (batchId, cursor) =>
      api.listBatchFiles(batchId, { limit: 1000, ...(cursor !== undefined && { cursor }) }),
    presign: (id, parts, done, client) =>
      api.presign(id, parts, done, client as Record<string, unknown> | undefined),
    recordParts: (id, parts, client) =>
      api.recordParts(id, parts, client as Record<string, unknown> | undefined),
    nameContent: (id, sha256) => api.nameContent(id, sha256),
    assemble: (id, parts, client) => api.assemble(id, parts, client as Record<string, unknown> | undefined),
    missing: (id) => api.missing(id),
    fail: async (id, reason) => {
      await quick.failTransfer(id, reason);
    },
    check: async () => {
      await api.listFiles({ limit: 1 });
    },
    put: (req) =>
      putPart({
        url: req.url,
        headers: req.headers,
        body: req.body,
        bandwidth: o.bandwidth,
        flow: req.flow,
        stallMs: o.stallMs,
        signal: req.signal ?? o.abort,
        ...(req.onBytes && { onBytes: req.onBytes }),
      }),
  };
}
