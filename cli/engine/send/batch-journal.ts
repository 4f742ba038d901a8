/**
 * One local journal per batch (server + manifest digest) in $XDG_STATE_HOME/sfts/journal: for each path,
 * the file's size, mtime and inode when it was hashed, its SHA-256 and its transfer id. A resume skips
 * re-hashing files whose size, mtime and inode are unchanged and names their transfers to the server.
 * A big file's transfer id is kept as soon as its upload starts, before its SHA-256 is known (hashed while
 * it is sent): a resume then hashes it again but goes on with that transfer.
 * Written atomically (temp file, fsync, rename) and debounced: at most once a second while sending, and
 * at the end, however many files the batch holds. The server's records stay the truth about what is stored.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import { journalDir, readJournalFile, removeJournal, writeJournal } from "../journal.js";
import type { ManifestFile } from "./manifest.js";

const FileEntry = z.object({
  local: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
  ino: z.number(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  transferId: z.string().optional(),
});
type FileEntry = z.infer<typeof FileEntry>;

const BatchJournalFile = z.object({
  version: z.literal(2),
  server: z.string(),
  digest: z.string(),
  batchId: z.string().optional(),
  files: z.record(z.string(), FileEntry),
  updatedAt: z.string(),
});
type BatchJournalFile = z.infer<typeof BatchJournalFile>;

export const WRITE_EVERY_MS = 1000;

export function batchJournalPath(
  server: string,
  digest: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const key = createHash("sha256").update(`batch\n${server}\n${digest}`).digest("hex").slice(0, 40);
  return join(journalDir(env), `batch-${key}.json`);
}

export class BatchJournal {
  private readonly data: BatchJournalFile;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  /** Writes done (for tests: a 10,000-file batch must not write 10,000 times). */
  writes = 0;

  private constructor(
    readonly file: string,
    server: string,
    digest: string,
    private readonly everyMs: number,
  ) {
    const saved = readJournalFile(file, BatchJournalFile);
    this.data =
      saved && saved.server === server && saved.digest === digest
        ? saved
        : { version: 2, server, digest, files: {}, updatedAt: new Date().toISOString() };
  }

  static open(
    server: string,
    digest: string,
    env: NodeJS.ProcessEnv = process.env,
    everyMs = WRITE_EVERY_MS,
  ): BatchJournal {
    return new BatchJournal(batchJournalPath(server, digest, env), server, digest, everyMs);
  }

  get batchId(): string | undefined {
    return this.data.batchId;
  }

  set batchId(id: string | undefined) {
    if (id === undefined || id === this.data.batchId) return;
    this.data.batchId = id;
    this.touch();
  }

  /** What an earlier run learnt of this file, if the file is unchanged since (same size, mtime, inode). */
  lookup(f: ManifestFile): { sha256?: string; transferId?: string } | undefined {
    const e = this.data.files[f.path];
    if (!e || e.local !== f.local || e.size !== f.size || e.mtimeMs !== f.mtimeMs || e.ino !== f.ino)
      return undefined;
    return {
      ...(e.sha256 !== undefined && { sha256: e.sha256 }),
      ...(e.transferId !== undefined && { transferId: e.transferId }),
    };
  }

  /**
   * `sha256` undefined: not known yet (an earlier one of the same file is kept). `urgent`: write now (a big
   * file's transfer id is worth keeping through a crash a second later).
   */
  record(f: ManifestFile, sha256: string | undefined, transferId?: string, urgent = false): void {
    const old = this.data.files[f.path];
    const same =
      old && old.local === f.local && old.size === f.size && old.mtimeMs === f.mtimeMs && old.ino === f.ino;
    const e: FileEntry = { local: f.local, size: f.size, mtimeMs: f.mtimeMs, ino: f.ino };
    const known = sha256 ?? (same ? old.sha256 : undefined);
    if (known !== undefined) e.sha256 = known;
    if (transferId !== undefined) e.transferId = transferId;
    if (e.sha256 === undefined && e.transferId === undefined) return;
    if (old && old.sha256 === e.sha256 && old.transferId === e.transferId && old.mtimeMs === e.mtimeMs)
      return;
    this.data.files[f.path] = e;
    this.touch();
    if (urgent) this.flush();
  }

  private touch(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.everyMs);
    this.timer.unref?.();
  }

  /** Writes now if anything changed. Best effort: the journal only saves time on a resume. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.dirty) return;
    this.dirty = false;
    this.data.updatedAt = new Date().toISOString();
    try {
      writeJournal(this.file, this.data);
      this.writes++;
    } catch {
      // A journal that cannot be written costs a re-hash on resume, nothing more.
    }
  }

  /** Every file is stored: nothing to resume. */
  remove(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    removeJournal(this.file);
  }
}
