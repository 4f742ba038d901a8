/**
 * What a batch receive has finished, so that running it again skips those files without hashing them:
 * one JSON line per file received and verified (path, content, and the size, mtime and inode the file
 * had right after), appended in $XDG_STATE_HOME/sfts/receive/ (not in the target folder, which stays
 * the batch's tree and nothing else). A file counts as done only if it is still that size, mtime and
 * inode; anything else is looked at again (hashed) by the caller. Torn or foreign lines are ignored.
 */
import { createHash } from "node:crypto";
import { appendFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { stateDir } from "./paths.js";

const Line = z.object({
  path: z.string(),
  sha256: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
  ino: z.number(),
});
type Line = z.infer<typeof Line>;

export class ReceiveJournal {
  private constructor(
    private readonly file: string,
    private readonly done: Map<string, Line>,
  ) {}

  static path(server: string, batchId: string, root: string, env: NodeJS.ProcessEnv = process.env): string {
    const key = createHash("sha256").update(`${server}\n${batchId}\n${root}`).digest("hex").slice(0, 40);
    return join(stateDir(env), "receive", `${key}.ndjson`);
  }

  static open(server: string, batchId: string, root: string, env: NodeJS.ProcessEnv = process.env) {
    const file = ReceiveJournal.path(server, batchId, root, env);
    const done = new Map<string, Line>();
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // first run
    }
    for (const raw of text.split("\n")) {
      if (!raw) continue;
      try {
        const line = Line.safeParse(JSON.parse(raw));
        if (line.success) done.set(line.data.path, line.data);
      } catch {
        // a torn last line
      }
    }
    return new ReceiveJournal(file, done);
  }

  /** The file at `abs` is this content, received (or verified) earlier and untouched since. */
  isDone(path: string, f: { sha256: string; size: number }, abs: string): boolean {
    const line = this.done.get(path);
    if (!line || line.sha256 !== f.sha256 || line.size !== f.size) return false;
    try {
      const s = statSync(abs);
      return s.isFile() && s.size === line.size && s.mtimeMs === line.mtimeMs && s.ino === line.ino;
    } catch {
      return false;
    }
  }

  /** Best effort: a journal that cannot be written only costs a re-hash next time. */
  markDone(path: string, f: { sha256: string; size: number }, abs: string): void {
    try {
      const s = statSync(abs);
      const line: Line = { path, sha256: f.sha256, size: f.size, mtimeMs: s.mtimeMs, ino: s.ino };
      if (this.isSame(path, line)) return;
      mkdirSync(join(this.file, ".."), { recursive: true });
      appendFileSync(this.file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
      this.done.set(path, line);
    } catch {
      // skipped
    }
  }

  private isSame(path: string, l: Line): boolean {
    const o = this.done.get(path);
    return !!o && o.sha256 === l.sha256 && o.size === l.size && o.mtimeMs === l.mtimeMs && o.ino === l.ino;
  }

  close(): void {}
}
