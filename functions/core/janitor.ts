/**
 * The janitor (run on a schedule): finds transfers abandoned by their state, not only by age, and releases
 * what storage holds for them.
 *   uploading, untouched (updatedAt) for abandonedAfterMs   → abort: storage drops the parts it holds
 *   assembling for longer than assemblingStuckAfterMs      → assemble again. Assemble is idempotent: it
 *     finishes an upload storage already completed, sends a transfer whose parts storage no longer holds
 *     as recorded back to uploading (then the rule above applies), and marks one whose upload vanished
 *     failed. A transfer it refuses for any other reason can never finish, and is aborted.
 * It reports the bytes still held in incomplete uploads (the bytesDone of what is left uploading or
 * assembling). Share links need no sweep: expiry is enforced by the conditional write of every download,
 * and each link carries a DynamoDB TTL (expiry + 7 days) that deletes it.
 */
import type { TransferStatus } from "../contract/schemas.js";
import { AppError } from "./errors.js";
import type { Clock, TransferRecord, TransferRepo } from "./ports.js";

/** Defaults for a deployment that sets nothing (infra/ and the janitor's Lambda both use them). */
export const JANITOR_DEFAULTS = { abandonedAfterHours: 72, assemblingStuckAfterMinutes: 30 } as const;

export interface JanitorOptions {
  abandonedAfterMs: number;
  assemblingStuckAfterMs: number;
  /** Transfers read per page of the status index. */
  pageSize?: number;
  /** At most this many aborts and re-assemblies per run (the rest waits for the next run). */
  maxActions?: number;
}

/** What the janitor needs of the transfer service: the same abort and assemble the API offers. */
export interface JanitorActions {
  abort(id: string): Promise<{ status: TransferStatus }>;
  assemble(id: string): Promise<{ status: TransferStatus }>;
}

export interface JanitorDeps {
  repo: TransferRepo;
  actions: JanitorActions;
  clock?: Clock;
}

export type JanitorVerdict = "keep" | "abandoned" | "stuck";

export interface JanitorAction {
  transferId: string;
  from: TransferStatus;
  /** abort: aborted; reassemble: the status assemble left it in; error: nothing changed, tried next run. */
  outcome: "aborted" | "complete" | "uploading" | "failed" | "error";
  bytes: number;
  error?: string;
}

export interface JanitorReport {
  startedAt: string;
  /** Transfers seen in each open state. */
  seen: { uploading: number; assembling: number };
  actions: JanitorAction[];
  /** bytesDone of the transfers aborted in this run: storage no longer holds them. */
  bytesReleased: number;
  /** bytesDone of the transfers left uploading or assembling: held in storage as unfinished uploads. */
  bytesHeld: number;
  /** Transfers left uploading or assembling. */
  openTransfers: number;
  /** Whether maxActions cut the run short. */
  truncated: boolean;
}

/** The pure rule: whether a transfer is left alone, abandoned, or stuck assembling, at `now`. */
export function judge(t: TransferRecord, now: number, opts: JanitorOptions): JanitorVerdict {
  const idle = now - Date.parse(t.updatedAt);
  if (!Number.isFinite(idle)) return "keep";
  if (t.status === "uploading" && idle >= opts.abandonedAfterMs) return "abandoned";
  if (t.status === "assembling" && idle >= opts.assemblingStuckAfterMs) return "stuck";
  return "keep";
}

const RETRY_LATER = new Set(["STORAGE_UNAVAILABLE", "DATABASE_UNAVAILABLE", "INTERNAL"]);

const describe = (err: unknown) =>
  err instanceof AppError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);

async function* open(repo: TransferRepo, status: TransferStatus, pageSize: number) {
  let cursor: string | undefined;
  do {
    const page = await repo.listTransfers({ status, limit: pageSize, cursor });
    yield* page.items;
    cursor = page.cursor;
  } while (cursor);
}

export async function runJanitor(deps: JanitorDeps, opts: JanitorOptions): Promise<JanitorReport> {
  const clock = deps.clock ?? { now: () => new Date() };
  const pageSize = opts.pageSize ?? 100;
  const maxActions = opts.maxActions ?? 500;
  const report: JanitorReport = {
    startedAt: clock.now().toISOString(),
    seen: { uploading: 0, assembling: 0 },
    actions: [],
    bytesReleased: 0,
    bytesHeld: 0,
    openTransfers: 0,
    truncated: false,
  };

  const act = async (t: TransferRecord): Promise<JanitorAction> => {
    const action: JanitorAction = { transferId: t.id, from: t.status, outcome: "error", bytes: t.bytesDone };
    try {
      if (t.status === "uploading") {
        action.outcome = (await deps.actions.abort(t.id)).status === "aborted" ? "aborted" : "error";
        return action;
      }
      const r = await deps.actions.assemble(t.id);
      action.outcome = r.status === "complete" ? "complete" : "error";
      return action;
    } catch (err) {
      action.error = describe(err);
      const code = err instanceof AppError ? err.code : "INTERNAL";
      if (code === "UPLOAD_GONE") action.outcome = "failed";
      else if (code === "CHECKSUM_MISMATCH") action.outcome = "uploading";
      else if (t.status === "assembling" && !RETRY_LATER.has(code)) {
        try {
          if ((await deps.actions.abort(t.id)).status === "aborted") action.outcome = "aborted";
        } catch (abortErr) {
          action.error += `; abort: ${describe(abortErr)}`;
        }
      }
      return action;
    }
  };

  for (const status of ["uploading", "assembling"] as const) {
    for await (const listed of open(deps.repo, status, pageSize)) {
      report.seen[status]++;
      let t = listed;
      let verdict = judge(t, clock.now().getTime(), opts);
      if (verdict !== "keep") {
        if (report.actions.length >= maxActions) {
          report.truncated = true;
        } else {
          // Read it again just before acting: a client may have resumed it since the index was read.
          const fresh = await deps.repo.getTransfer(t.id);
          if (fresh) t = fresh;
          verdict = fresh ? judge(fresh, clock.now().getTime(), opts) : "keep";
          if (verdict !== "keep") {
            const action = await act(t);
            report.actions.push(action);
            if (action.outcome === "aborted") {
              report.bytesReleased += action.bytes;
              continue;
            }
            if (action.outcome === "complete" || action.outcome === "failed") continue;
          }
        }
      }
      report.openTransfers++;
      report.bytesHeld += t.bytesDone;
    }
  }
  return report;
}

/** The report as one structured log line: counts, bytes, and the first actions taken. */
export function janitorLogFields(r: JanitorReport): Record<string, unknown> {
  const count = (o: JanitorAction["outcome"]) => r.actions.filter((a) => a.outcome === o).length;
  return {
    seen: r.seen,
    aborted: count("aborted"),
    completed: count("complete"),
    backToUploading: count("uploading"),
    failed: count("failed"),
    errors: count("error"),
    bytesReleased: r.bytesReleased,
    bytesHeld: r.bytesHeld,
    openTransfers: r.openTransfers,
    truncated: r.truncated,
    actions: r.actions.slice(0, 50),
  };
}
