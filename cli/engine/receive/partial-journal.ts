/**
 * The journal beside a partial file (PATH.sfts-partial.json): which ranges were received and checked.
 * Written after each range, off the main thread's way: one write at a time (temp file, then rename, so a
 * reader sees a whole journal or the one before), the latest state written next, no fsync. No fsync is
 * needed because nothing trusts the journal blindly: a resume hashes every range it lists against its
 * part's SHA-256 before counting it, so a journal ahead of the disk (a crash before the bytes were
 * flushed) costs only a fetch again, and one behind or torn only ranges fetched twice.
 */
import { rename, rm, writeFile } from "node:fs/promises";
import { z } from "zod";
import { readJournalFile } from "../journal.js";

export const PartialJournal = z.object({
  version: z.literal(1),
  transferId: z.string(),
  size: z.number(),
  sha256: z.string(),
  done: z.array(z.number().int()),
});
export type PartialJournal = z.infer<typeof PartialJournal>;

export const readPartialJournal = (file: string): PartialJournal | undefined =>
  readJournalFile(file, PartialJournal);

export class PartialJournalWriter {
  private writing: Promise<void> | undefined;
  private next: PartialJournal | undefined;
  private waiters: (() => void)[] = [];

  constructor(private readonly file: string) {}

  /** Writes `state` soon; resolves once a journal holding it (or a later state) is on disk. */
  save(state: PartialJournal): Promise<void> {
    this.next = state;
    const written = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (!this.writing) this.writing = this.drain();
    return written;
  }

  /** Resolves when every state saved so far is written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async remove(): Promise<void> {
    await this.flush();
    await rm(this.file, { force: true });
  }

  private async drain(): Promise<void> {
    while (this.next) {
      const state = this.next;
      const waiting = this.waiters;
      this.next = undefined;
      this.waiters = [];
      const tmp = `${this.file}.${process.pid}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
        await rename(tmp, this.file);
      } catch {
        // Best effort: a journal that cannot be written only costs ranges fetched again.
      }
      for (const w of waiting) w();
    }
    this.writing = undefined;
  }
}
