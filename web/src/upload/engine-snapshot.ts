/**
 * What the page sees of the whole engine (types.ts EngineSnapshot): every batch's view (batch-run.ts),
 * the totals over the batches not cancelled (bytes, speed, ETA), whether storage refuses transfers, and
 * the link model's one line (parts in flight, and the part size: a sending file's, else the model's).
 * Pure.
 */
import type { Scheduler } from "../../../cli/engine/send/scheduler.js";
import type { BatchRun } from "./batch-run.js";
import type { EngineSnapshot } from "./types.js";

export interface SnapshotInput {
  batches: Iterable<BatchRun>;
  /** The link watch calls the link dark (a running batch shows offline). */
  dark: boolean;
  online: boolean;
  refused: string | undefined;
  link: Scheduler["link"];
}

export function engineSnapshot(o: SnapshotInput): EngineSnapshot {
  const runs = [...o.batches];
  const batches = runs.map((b) => b.view(o.dark));
  const counted = batches.filter((b) => b.phase !== "cancelled");
  const totalBytes = counted.reduce((n, b) => n + b.totalBytes, 0);
  const sentBytes = counted.reduce((n, b) => n + b.sentBytes, 0);
  const speedBps = counted.reduce((n, b) => n + b.speedBps, 0);
  let partSize = o.link.partSize;
  for (const b of runs)
    for (const f of b.files) if (f.phase === "sending" && f.partSize !== undefined) partSize = f.partSize;
  return {
    batches,
    ...(o.refused !== undefined && { refused: o.refused }),
    online: o.online,
    totals: {
      totalBytes,
      sentBytes,
      speedBps,
      etaSeconds: speedBps > 0 ? Math.max(0, totalBytes - sentBytes) / speedBps : null,
    },
    link: { concurrency: o.link.limit, partSize },
  };
}
