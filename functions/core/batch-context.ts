/**
 * What the batch side of the coordinator works with (ports, the transfer service for multipart files,
 * config), and the helpers its parts share: object keys, the storage check of a single PUT, the file
 * summary of a batch's file, and the one bookkeeping step per call (stats, batch counters, series).
 */
import type { FileSummary, InitResponse, PartSpec, Priority, TransferStatus } from "../contract/schemas.js";
import type { ActivityLog, SeriesDelta } from "./activity.js";
import { base64ToHex } from "./checksums.js";
import type {
  BatchCounts,
  BatchRecord,
  BatchRepo,
  Clock,
  ObjectStore,
  StatsDelta,
  StorageCheck,
  TransferRecord,
  TransferRepo,
} from "./ports.js";
import { STORAGE_PROFILES, type StorageProfile } from "./storage-profiles.js";
import { toSummary } from "./transfer-service.js";

/** Storage checks (HEAD) one call runs at once. */
export const CHECK_PARALLEL = 16;

export const objectKeyFor = (transferId: string): string => `objects/${transferId}`;

/** A multipart file of a batch, as handed to the transfer service's find-or-create init. */
export interface BatchInitInput {
  name: string;
  size: number;
  /** Absent: content pending (named later by POST /upload/{id}/content). */
  sha256?: string;
  priority: Priority;
  batchId: string;
  path: string;
  partSizeHint?: number;
  contentType?: string;
  resumeId?: string;
  parts?: PartSpec[];
}

/** What the batch side needs of the transfer service: the same init, assemble and abort the API offers. */
export interface BatchTransfers {
  init(input: BatchInitInput): Promise<InitResponse>;
  assemble(id: string): Promise<FileSummary>;
  abort(id: string): Promise<{ status: TransferStatus }>;
}

export interface BatchServiceConfig {
  presignExpiresSeconds: number;
}

export interface BatchServiceDeps {
  repo: TransferRepo;
  batches: BatchRepo;
  store: ObjectStore;
  transfers: BatchTransfers;
  config: BatchServiceConfig;
  clock?: Clock;
  /** Where problems that must not fail a request (stats bookkeeping) are reported. */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Per-minute throughput for the dashboard; optional and advisory. */
  activity?: ActivityLog;
  /** The store's rules (SFTS_STORAGE_PROFILE); Amazon S3's if absent. */
  storage?: StorageProfile;
  /** What storage checks the bytes of a record made now against; the profile's partCheck if absent. */
  storageCheck?: () => StorageCheck;
}

export interface BatchContext extends Omit<BatchServiceDeps, "clock" | "warn" | "storage" | "storageCheck"> {
  clock: Clock;
  warn: NonNullable<BatchServiceDeps["warn"]>;
  profile: StorageProfile;
  storageCheck(): StorageCheck;
  /**
   * The one bookkeeping step of a call: stats (advisory, one write), the batch's counters (one write, if
   * anything changed) and the minute's series. Returns the batch as it is after, if it was written.
   */
  bookkeep(
    batchId: string,
    stats: StatsDelta,
    counts: BatchCounts,
    minute: SeriesDelta,
  ): Promise<BatchRecord | undefined>;
}

export function batchContext(deps: BatchServiceDeps): BatchContext {
  const clock = deps.clock ?? { now: () => new Date() };
  const warn = deps.warn ?? (() => {});
  const { storage, storageCheck, ...rest } = deps;
  const profile = storage ?? STORAGE_PROFILES.aws;
  const advisory = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      warn(`${what} update failed`, { error: err instanceof Error ? err.message : String(err) });
    }
  };
  return {
    ...rest,
    clock,
    warn,
    profile,
    storageCheck: storageCheck ?? (() => profile.partCheck),
    async bookkeep(batchId, stats, counts, minute) {
      const now = clock.now();
      const changed = Object.values(counts).some((v) => v !== 0 && v !== undefined);
      const [batch] = await Promise.all([
        changed ? deps.batches.addToBatch(batchId, counts, now.toISOString()) : undefined,
        Object.keys(stats).length ? advisory("stats", () => deps.repo.addStats(stats)) : undefined,
        deps.activity && Object.keys(minute).length
          ? advisory("activity", () =>
              (deps.activity as ActivityLog).addToMinute(now.toISOString().slice(0, 16), minute),
            )
          : undefined,
      ]);
      return batch;
    },
  };
}

/** A file of a batch as the API shows it: with its path, batch and upload kind. */
export function batchFileSummary(t: TransferRecord): FileSummary {
  const s = toSummary(t);
  if (t.batchId !== undefined) s.batchId = t.batchId;
  if (t.path !== undefined) s.path = t.path;
  if (t.upload !== undefined) s.upload = t.upload;
  return s;
}

/** Whether storage holds a single PUT's object as recorded: its size, and its SHA-256 where the store keeps one. */
export async function storageHoldsObject(ctx: BatchContext, t: TransferRecord): Promise<boolean> {
  const head = await ctx.store.headObject(t.objectKey);
  if (!head || head.size !== t.size) return false;
  return head.checksumSha256 === undefined || base64ToHex(head.checksumSha256) === t.sha256;
}
