/**
 * Transfers under faults, shared by the fault suite in `npm test` (test/e2e/faults.test.ts) and the
 * soak (`npm run soak`, bench/soak.ts): send or receive a file through a shaped link, interrupting it
 * on cue (kill -9 of the CLI, storage / table / API restarts, link drops and outages), running the same
 * command again after every resumable failure, until it succeeds or fails in a way that is not
 * resumable. A ledger counts what happened; `auditStorage` then checks the promise itself: every
 * transfer the coordinator calls complete holds exactly the bytes whose SHA-256 it recorded.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { EXIT } from "../cli/engine/errors.js";
import type { SendEvent } from "../cli/engine/events.js";
import { hashFile } from "../cli/engine/file-io.js";
import type { RunningStack } from "../local/stack.js";
import { type CliResult, spawnCli } from "./cli-process.js";
import { sha256OfObject } from "./files.js";
import type { Link } from "./link.js";

export type Interruption =
  | "kill-cli"
  | "restart-storage"
  | "restart-table"
  | "restart-api"
  | "link-drop"
  | "link-outage";

export const INTERRUPTIONS: readonly Interruption[] = [
  "kill-cli",
  "restart-storage",
  "restart-table",
  "restart-api",
  "link-drop",
  "link-outage",
];

/** Exit codes after which running the same command again continues the transfer. */
export const RESUMABLE_EXITS: ReadonlySet<number> = new Set([
  EXIT.SERVER_UNREACHABLE,
  EXIT.NETWORK,
  EXIT.INTERRUPTED,
]);

/** Codes of retries that mean "these bytes arrived damaged and were refused". */
const CORRUPTION_CODES = new Set(["BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest", "CHECKSUM"]);

export interface Ledger {
  transfers: number;
  sends: number;
  receives: number;
  /** Interruptions caused, by kind. */
  interruptions: Record<Interruption, number>;
  /** CLI runs that ended in a resumable failure (not killed by us) and were run again. */
  resumableFailures: number;
  /** Bytes that crossed the link beyond the file sizes (re-sent parts, re-fetched ranges). */
  bytesResent: number;
  /** Parts or ranges refused because their bytes arrived damaged (storage BadDigest, receiver checksum). */
  corruptCaught: number;
  /** Transfers that ended byte-identical. */
  identical: number;
  /** Transfers that ended in a clear, non-resumable failure (with the message). */
  failures: string[];
  /** Transfers marked complete whose bytes differ: must stay 0. */
  corruptComplete: number;
  /** Transfer ids of the sends that reported success (each must be complete in the audit). */
  sent: string[];
}

export function newLedger(): Ledger {
  return {
    transfers: 0,
    sends: 0,
    receives: 0,
    interruptions: Object.fromEntries(INTERRUPTIONS.map((k) => [k, 0])) as Record<Interruption, number>,
    resumableFailures: 0,
    bytesResent: 0,
    corruptCaught: 0,
    identical: 0,
    failures: [],
    corruptComplete: 0,
    sent: [],
  };
}

export function mergeLedgers(into: Ledger, from: Ledger): void {
  into.transfers += from.transfers;
  into.sends += from.sends;
  into.receives += from.receives;
  for (const k of INTERRUPTIONS) into.interruptions[k] += from.interruptions[k];
  into.resumableFailures += from.resumableFailures;
  into.bytesResent += from.bytesResent;
  into.corruptCaught += from.corruptCaught;
  into.identical += from.identical;
  into.failures.push(...from.failures);
  into.corruptComplete += from.corruptComplete;
  into.sent.push(...from.sent);
}

export const totalInterruptions = (l: Ledger): number =>
  INTERRUPTIONS.reduce((n, k) => n + l.interruptions[k], 0);

export interface FaultContext {
  stack: RunningStack;
  link: Link;
  /** CLI environment: its own HOME/XDG dirs (journals persist across runs), server and token. */
  env: Record<string, string>;
  ledger: Ledger;
  /** Extra flags for every send / receive (e.g. a shorter --stall-timeout in the short suite). */
  sendArgs?: readonly string[];
  receiveArgs?: readonly string[];
  log?: (line: string) => void;
}

/** What to do to a transfer, and when: after `afterParts` parts (or ranges) of the current run. */
export interface Cue {
  afterParts: number;
  action: Interruption;
}

export interface TransferOutcome {
  ok: boolean;
  runs: number;
  transferId?: string | undefined;
  last: CliResult;
  /** Every event of every run, in order. */
  events: SendEvent[];
}

/** Carries out one interruption; resolves when the service (or link) is back. */
export async function interrupt(
  ctx: FaultContext,
  action: Interruption,
  child?: { kill(signal: NodeJS.Signals): boolean },
) {
  ctx.ledger.interruptions[action]++;
  ctx.log?.(`interrupt: ${action}`);
  switch (action) {
    case "kill-cli":
      child?.kill("SIGKILL");
      return;
    case "restart-storage":
      await ctx.stack.restartService("s3", { kill: true, downMs: 1_500 });
      return;
    case "restart-table":
      await ctx.stack.restartService("dynamodb", { kill: true, downMs: 1_500 });
      return;
    case "restart-api":
      await ctx.stack.stopApi();
      await new Promise((r) => setTimeout(r, 2_000));
      await ctx.stack.startApi();
      return;
    case "link-drop":
      await ctx.link.drop(2_000);
      return;
    case "link-outage":
      await ctx.link.outage(ctx.link.profile.outages?.outageMs ?? 5_000);
      return;
  }
}

/**
 * Runs `sfts <args> --json` through the link until it exits 0 or with a failure that is not resumable;
 * the cues fire in order, each once, counted in parts finished by the run in progress.
 */
export async function runUntilDone(
  ctx: FaultContext,
  kind: "send" | "receive",
  args: readonly string[],
  cues: readonly Cue[] = [],
  maxRuns = 12,
): Promise<TransferOutcome> {
  const pending = [...cues];
  const events: SendEvent[] = [];
  let transferId: string | undefined;
  for (let run = 1; ; run++) {
    let parts = 0;
    // Interruptions one after another, never two at once.
    let busy: Promise<void> = Promise.resolve();
    const r = spawnCli([...args, "--json"], {
      env: ctx.env,
      wrap: (argv) => ctx.link.command(argv),
      onEvent: (e, child) => {
        events.push(e);
        if (e.type === "start") transferId = e.transferId;
        if (e.type === "retry" && e.code !== undefined && CORRUPTION_CODES.has(e.code))
          ctx.ledger.corruptCaught++;
        if (e.type !== "part") return;
        parts++;
        const cue = pending[0];
        if (cue && parts >= cue.afterParts) {
          pending.shift();
          busy = busy.then(() => interrupt(ctx, cue.action, child));
        }
      },
    });
    const result = await r.done;
    await busy;
    const killed = result.signal === "SIGKILL";
    if (result.code === 0) return { ok: true, runs: run, transferId, last: result, events };
    const resumable = killed || (result.code !== null && RESUMABLE_EXITS.has(result.code));
    if (!killed && resumable) ctx.ledger.resumableFailures++;
    if (!resumable || run >= maxRuns) {
      const why = result.stderr.trim().split("\n").slice(-2).join(" ") || `exit ${result.code}`;
      ctx.ledger.failures.push(`${kind}: ${why}`);
      return { ok: false, runs: run, transferId, last: result, events };
    }
    ctx.log?.(`${kind}: run ${run} ended (${killed ? "killed" : `exit ${result.code}`}); running it again`);
  }
}

/** Sends `file` through the link; counts bytes re-sent from what crossed the link. */
export async function sendFile(
  ctx: FaultContext,
  file: string,
  size: number,
  cues: readonly Cue[] = [],
): Promise<TransferOutcome> {
  const before = await ctx.link.counters();
  const out = await runUntilDone(ctx, "send", ["send", file, ...(ctx.sendArgs ?? [])], cues);
  const after = await ctx.link.counters();
  ctx.ledger.transfers++;
  ctx.ledger.sends++;
  ctx.ledger.bytesResent += Math.max(0, after.storageBytesUp - before.storageBytesUp - size);
  if (out.ok && out.transferId) ctx.ledger.sent.push(out.transferId);
  return out;
}

/** Receives a transfer into `dest` and checks it is byte-identical to `original`. */
export async function receiveFile(
  ctx: FaultContext,
  transferId: string,
  dest: string,
  original: { sha256: string; size: number },
  cues: readonly Cue[] = [],
): Promise<TransferOutcome & { identical: boolean }> {
  const before = await ctx.link.counters();
  const out = await runUntilDone(
    ctx,
    "receive",
    ["receive", transferId, "--output", dest, ...(ctx.receiveArgs ?? [])],
    cues,
  );
  const after = await ctx.link.counters();
  ctx.ledger.transfers++;
  ctx.ledger.receives++;
  ctx.ledger.bytesResent += Math.max(0, after.storageBytesDown - before.storageBytesDown - original.size);
  const identical = out.ok && (await hashFile(dest).catch(() => "")) === original.sha256;
  if (identical) ctx.ledger.identical++;
  else if (out.ok) ctx.ledger.corruptComplete++;
  return { ...out, identical };
}

export interface AuditResult {
  complete: number;
  verified: number;
  /** Ids of the transfers marked complete whose bytes were verified. */
  verifiedIds: string[];
  /** Transfers marked complete whose stored bytes do not hash to the recorded SHA-256. */
  corrupt: string[];
}

/**
 * Reads back every object the coordinator calls complete (straight from storage, not through the link)
 * and checks size and SHA-256 against the record.
 */
export async function auditStorage(stack: RunningStack): Promise<AuditResult> {
  const s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: stack.s3Credentials,
  });
  const result: AuditResult = { complete: 0, verified: 0, verifiedIds: [], corrupt: [] };
  try {
    let cursor: string | null = null;
    do {
      const url = new URL(`${stack.apiUrl}/api/files`);
      url.searchParams.set("status", "complete");
      url.searchParams.set("limit", "100");
      if (cursor) url.searchParams.set("cursor", cursor);
      const res = await fetch(url, { headers: { Authorization: `Bearer ${stack.token}` } });
      if (!res.ok) throw new Error(`audit: GET /api/files answered ${res.status}`);
      const page = (await res.json()) as {
        items: { id: string; size: number; sha256: string; deduplicatedFrom?: string }[];
        nextCursor: string | null;
      };
      for (const f of page.items) {
        result.complete++;
        const { sha256, size } = await sha256OfObject(
          s3,
          stack.bucket,
          `objects/${f.deduplicatedFrom ?? f.id}`,
        );
        if (size === f.size && sha256 === f.sha256) {
          result.verified++;
          result.verifiedIds.push(f.id);
        } else result.corrupt.push(f.id);
      }
      cursor = page.nextCursor;
    } while (cursor);
  } finally {
    s3.destroy();
  }
  return result;
}
