/**
 * What the resume store (IndexedDB, types.ts ResumeStore) keeps of a batch: its manifest digest, the
 * server's batch id, names, sizes and the transfer ids learnt so far, so a reload, a crash or a pause
 * loses nothing: picking the same files again finds the very batch and uploads. Written when a run
 * starts, stops or fails, and soon after entry answers name transfers (one write for those answered
 * together); recalled when the batch is created again. Failures to write are quiet (the store is a help,
 * the server holds the truth).
 */
import type { BatchRun } from "./batch-run.js";
import type { ResumeStore } from "./types.js";

/** Transfer ids learnt from entry answers reach the resume store this soon (a reload may come any time). */
const REMEMBER_WITHIN_MS = 200;

export async function remember(resume: ResumeStore, b: BatchRun): Promise<void> {
  if (!b.digest || !b.batchId) return;
  const files = b.selection.files;
  await resume
    .put({
      digest: b.digest,
      batchId: b.batchId,
      name: b.selection.name,
      fileCount: files.length,
      totalBytes: b.totalBytes,
      kind: files.some((f) => f.path.includes("/")) ? "folder" : "files",
      files: b.files.map((f) => ({
        path: f.path,
        size: f.picked.size,
        ...(f.transferId !== undefined && { transferId: f.transferId }),
      })),
      startedAt: b.startedAt,
      updatedAt: new Date().toISOString(),
    })
    .catch(() => {});
}

/** Transfer ids learnt: remembered soon, in one write for the files answered together. */
export function rememberSoon(resume: ResumeStore, b: BatchRun): void {
  if (b.rememberTimer) return;
  b.rememberTimer = setTimeout(() => {
    b.rememberTimer = undefined;
    if (b.phase !== "cancelled" && b.phase !== "complete") void remember(resume, b);
  }, REMEMBER_WITHIN_MS);
}

/** The write `rememberSoon` planned is not wanted any more (the batch ended). */
export function rememberNoMore(b: BatchRun): void {
  if (b.rememberTimer) clearTimeout(b.rememberTimer);
  b.rememberTimer = undefined;
}

/**
 * Picked again after a reload: each file's entry names the transfer this browser remembers, so the
 * coordinator goes on with that very upload (as the CLI's journal, or its batch listing, does).
 */
export async function recall(resume: ResumeStore, b: BatchRun): Promise<void> {
  const known = (await resume.list().catch(() => [])).find((u) => u.digest === b.digest);
  for (const f of b.files) {
    if (f.transferId !== undefined) continue;
    const was = known?.files.find((x) => x.path === f.path && x.size === f.picked.size);
    if (was?.transferId !== undefined) f.transferId = was.transferId;
  }
}
