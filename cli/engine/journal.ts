/**
 * The local resume journal: one small JSON file per (server, file) in $XDG_STATE_HOME/sfts/journal,
 * written atomically (temp file, fsync, rename) after every recorded part. It saves re-hashing the
 * file and finding the transfer again; the server's missing ranges stay the truth about what is stored.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { stateDir } from "./paths.js";

export const JournalEntry = z.object({
  version: z.literal(1),
  server: z.string(),
  path: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
  ino: z.number(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  transferId: z.string(),
  partsDone: z.number().int().default(0),
  bytesDone: z.number().default(0),
  updatedAt: z.string(),
});
export type JournalEntry = z.infer<typeof JournalEntry>;

export function journalDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), "journal");
}

export function journalPath(server: string, absPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = createHash("sha256").update(`${server}\n${absPath}`).digest("hex").slice(0, 40);
  return join(journalDir(env), `${key}.json`);
}

/** Missing or torn reads as undefined: the server still knows what it holds. */
export const readJournal = (file: string): JournalEntry | undefined => readJournalFile(file, JournalEntry);

/** Reads any small JSON state file against its schema; missing, torn or foreign content reads as undefined. */
export function readJournalFile<T>(file: string, schema: z.ZodType<T>): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeJournal(file: string, entry: unknown): void {
  mkdirSync(join(file, ".."), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(entry));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function removeJournal(file: string): void {
  rmSync(file, { force: true });
}
