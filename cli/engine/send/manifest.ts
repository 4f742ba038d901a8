/**
 * The walk: what `sfts send PATH...` sends. A file named directly is sent under its base name; a folder
 * under its own name, with everything inside it at its relative path ("sfts send photos/" sends
 * photos/2026/a.jpg, like `scp -r` or `cp -r` into an existing folder). Paths use / whatever the system,
 * are stored as given (any Unicode, spaces, leading dots), and must be unique in the batch.
 *
 * Inside folders, symlinks are not followed unless followSymlinks (then loops are cut); sockets, FIFOs and
 * devices are skipped; --exclude globs (picomatch, dot files included) match the path relative to the
 * folder given, and a pattern without / matches the base name at any depth, like rclone and gitignore.
 * Empty folders are kept as the batch's dirs. The manifest's digest (SHA-256 of manifestText) finds the
 * batch again on a resume, with or without the local journal.
 */
import { createHash } from "node:crypto";
import type { Dirent, Stats } from "node:fs";
import { lstat, readdir, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import picomatch from "picomatch";
import { manifestText, unsafePathReason } from "../../../functions/contract/batches.js";
import {
  MAX_BATCH_DIRS,
  MAX_BATCH_FILES,
  MAX_FILE_NAME_LENGTH,
  MAX_PATH_LENGTH,
} from "../../../functions/contract/limits.js";
import type { Priority } from "../../../functions/contract/schemas.js";
import { CliError, EXIT, fileError } from "../errors.js";

export interface SendInput {
  path: string;
  priority: Priority;
}

export interface ManifestFile {
  /** Path within the batch, / separated. */
  path: string;
  /** Absolute local path. */
  local: string;
  /** The path as the user would name it (the argument, joined with the path inside it). */
  shown: string;
  size: number;
  mtimeMs: number;
  ino: number;
  priority: Priority;
}

export interface SkippedEntry {
  file: string;
  reason: string;
}

export interface Manifest {
  name: string;
  files: ManifestFile[];
  /** Empty folders, as batch paths. */
  dirs: string[];
  skipped: SkippedEntry[];
  totalBytes: number;
  digest: string;
}

export interface WalkOptions {
  exclude?: readonly string[];
  followSymlinks?: boolean;
  onSkip?: (s: SkippedEntry) => void;
}

const kindOf = (s: Stats | Dirent): string | undefined =>
  s.isSocket()
    ? "a socket"
    : s.isFIFO()
      ? "a FIFO"
      : s.isCharacterDevice() || s.isBlockDevice()
        ? "a device"
        : undefined;

export function manifestDigest(
  files: readonly { path: string; size: number }[],
  dirs: readonly string[],
): string {
  return createHash("sha256").update(manifestText(files, dirs)).digest("hex");
}

/**
 * --exclude globs: one without / matches the base name at any depth (`*.tmp`, `.git`); one with a /
 * matches the whole path inside the folder given (`build/**`, `/docs/*.pdf`, a leading / anchoring it).
 */
export function excluder(patterns: readonly string[]): (rel: string) => boolean {
  const names = patterns.filter((p) => !p.includes("/"));
  const paths = patterns.filter((p) => p.includes("/")).map((p) => p.replace(/^\/+/, ""));
  const byName = names.length ? picomatch(names, { dot: true }) : () => false;
  const byPath = paths.length ? picomatch(paths, { dot: true }) : () => false;
  return (rel) => byPath(rel) || byName(rel.slice(rel.lastIndexOf("/") + 1));
}

export async function walk(inputs: readonly SendInput[], opts: WalkOptions = {}): Promise<Manifest> {
  const excluded = excluder(opts.exclude ?? []);
  const files: ManifestFile[] = [];
  const dirs: string[] = [];
  const skipped: SkippedEntry[] = [];
  const skip = (file: string, reason: string) => {
    const s = { file, reason };
    skipped.push(s);
    opts.onSkip?.(s);
  };
  const usable = (batchPath: string, shown: string): boolean => {
    const why =
      batchPath.length > MAX_PATH_LENGTH
        ? `is longer than ${MAX_PATH_LENGTH} characters`
        : unsafePathReason(batchPath);
    if (why) skip(shown, `its path ${why}, which a batch cannot hold`);
    return !why;
  };
  const addFile = (s: Stats, batchPath: string, local: string, shown: string, priority: Priority) => {
    files.push({ path: batchPath, local, shown, size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, priority });
  };

  /** Walks one folder; answers whether anything inside it is kept (else it is an empty folder). */
  const walkDir = async (
    local: string,
    batchPrefix: string,
    relPrefix: string,
    shown: string,
    priority: Priority,
    ancestors: Set<string>,
  ): Promise<boolean> => {
    let entries: Dirent[];
    try {
      entries = await readdir(local, { withFileTypes: true });
    } catch (err) {
      throw fileError(err, shown);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let kept = false;
    for (const entry of entries) {
      const rel = relPrefix ? `${relPrefix}/${entry.name}` : entry.name;
      const batchPath = batchPrefix ? `${batchPrefix}/${entry.name}` : entry.name;
      const childLocal = join(local, entry.name);
      const childShown = join(shown, entry.name);
      if (excluded(rel)) continue;
      let s: Stats;
      try {
        s = await lstat(childLocal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          skip(childShown, "vanished during the walk (or its name is not valid UTF-8)");
          continue;
        }
        throw fileError(err, childShown);
      }
      if (s.isSymbolicLink()) {
        if (!opts.followSymlinks) {
          skip(childShown, "is a symlink (not followed without --follow-symlinks)");
          continue;
        }
        try {
          s = await stat(childLocal);
        } catch {
          skip(childShown, "is a broken symlink");
          continue;
        }
      }
      const special = kindOf(s);
      if (special) {
        skip(childShown, `is ${special}`);
        continue;
      }
      if (s.isDirectory()) {
        const id = `${s.dev}:${s.ino}`;
        if (ancestors.has(id)) {
          skip(childShown, "is a symlink loop (a folder inside itself)");
          continue;
        }
        if (!usable(batchPath, childShown)) continue;
        const inner = new Set(ancestors).add(id);
        const any = await walkDir(childLocal, batchPath, rel, childShown, priority, inner);
        if (!any) dirs.push(batchPath);
        kept = true;
      } else if (s.isFile()) {
        if (!usable(batchPath, childShown)) continue;
        addFile(s, batchPath, childLocal, childShown, priority);
        kept = true;
      } else skip(childShown, "is not a regular file or folder");
    }
    return kept;
  };

  const tops = new Map<string, string>();
  for (const input of inputs) {
    const local = resolve(input.path);
    const top = basename(local);
    const other = tops.get(top);
    if (other !== undefined)
      throw new CliError(
        "USAGE",
        `${other} and ${input.path} would both be sent as ${top || "/"}; send them in separate commands (or rename one)`,
        EXIT.USAGE,
      );
    tops.set(top, input.path);
    let s: Stats;
    try {
      // A path named on the command line is followed, whatever --follow-symlinks says.
      s = await stat(local);
    } catch (err) {
      throw fileError(err, input.path);
    }
    const special = kindOf(s);
    if (special)
      throw new CliError("FILE_SPECIAL", `${input.path} is ${special}, not a file or folder`, EXIT.FILE);
    const name = basename(local);
    if (s.isDirectory()) {
      if (name && !usable(name, input.path)) continue;
      const any = await walkDir(local, name, "", input.path, input.priority, new Set([`${s.dev}:${s.ino}`]));
      if (!any && name) dirs.push(name);
    } else {
      if (excluded(name)) continue;
      if (!usable(name, input.path)) continue;
      addFile(s, name, local, input.path, input.priority);
    }
  }

  // Unique paths, and no path that is a file for one argument and a folder for another.
  const owner = new Map<string, string>();
  for (const f of files) {
    const other = owner.get(f.path);
    if (other !== undefined)
      throw new CliError(
        "USAGE",
        `${other} and ${f.shown} would both be sent as ${f.path}; send them in separate commands (or rename one)`,
        EXIT.USAGE,
      );
    owner.set(f.path, f.shown);
  }
  for (const p of [...files.map((f) => f.path), ...dirs]) {
    for (let i = p.indexOf("/"); i > 0; i = p.indexOf("/", i + 1)) {
      const parent = owner.get(p.slice(0, i));
      if (parent !== undefined)
        throw new CliError(
          "USAGE",
          `${parent} is a file, but another argument has a folder of the same name (${p.slice(0, i)}); send them in separate commands`,
          EXIT.USAGE,
        );
    }
  }
  if (dirs.length > MAX_BATCH_DIRS)
    throw new CliError(
      "USAGE",
      `${dirs.length} empty folders: a batch keeps at most ${MAX_BATCH_DIRS}; send fewer folders at once`,
      EXIT.USAGE,
    );
  if (files.length > MAX_BATCH_FILES)
    throw new CliError(
      "USAGE",
      `${files.length} files: a batch holds at most ${MAX_BATCH_FILES}`,
      EXIT.USAGE,
    );

  const first = inputs[0] ? basename(resolve(inputs[0].path)) || "/" : "batch";
  let name = inputs.length > 1 ? `${first} and ${inputs.length - 1} more` : first;
  if (name.length > MAX_FILE_NAME_LENGTH) name = name.slice(0, MAX_FILE_NAME_LENGTH);
  if (!name.isWellFormed()) name = name.toWellFormed();
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  return { name, files, dirs, skipped, totalBytes, digest: manifestDigest(files, dirs) };
}
