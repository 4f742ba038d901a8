/**
 * The browser upload engine's test bench: an UploadEngine over the in-memory fakes of upload-fakes.ts
 * (storage, coordinator, resume store, node:crypto digests), small parts so files of a few hundred KiB
 * have several, fast retries; and the waits the engine tests share (a predicate, a batch's phase).
 */
import { UploadEngine } from "../../web/src/upload/engine.js";
import type {
  BatchPhase,
  BatchView,
  PickedFile,
  Selection,
  UploadEngineOptions,
} from "../../web/src/upload/types.js";
import {
  type CoordinatorOptions,
  FakeCoordinator,
  FakeStorage,
  MemoryResume,
  nodeDigests,
  nodeHasher,
} from "./upload-fakes.js";

export const KiB = 1024;
export const PART = 64 * KiB;

export function engineBench(
  o: { coordinator?: CoordinatorOptions; engine?: Partial<UploadEngineOptions> } = {},
) {
  const storage = new FakeStorage();
  const coordinator = new FakeCoordinator(storage, {
    minPartSize: PART,
    maxSinglePutSize: 128 * KiB,
    ...o.coordinator,
  });
  const resume = new MemoryResume();
  const hasher = nodeHasher();
  const make = (extra: Partial<UploadEngineOptions> = {}) =>
    new UploadEngine({
      coordinator,
      storage,
      hasher,
      digests: nodeDigests,
      resume,
      retry: { maxRetries: 5, baseMs: 1, capMs: 4 },
      maxPartSize: PART,
      memory: 1024 * KiB,
      // A call that hangs for ever (some tests make one) holds a run back this long, not 10 s.
      recordSettleMs: 200,
      ...o.engine,
      ...extra,
    });
  return { storage, coordinator, resume, hasher, make };
}

export const selection = (name: string, files: PickedFile[], dirs: string[] = []): Selection => ({
  name,
  files,
  dirs,
  problems: [],
});

export async function until(pred: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export const batchOf = (e: UploadEngine, key: string) =>
  e.snapshot().batches.find((b) => b.key === key) as BatchView;

export async function phase(
  e: UploadEngine,
  key: string,
  want: BatchPhase[],
  ms = 5_000,
): Promise<BatchView> {
  await until(() => want.includes(batchOf(e, key)?.phase), `phase ${want.join("|")}`, ms);
  return batchOf(e, key);
}
