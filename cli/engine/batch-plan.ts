/**
 * Before a batch is received, its paths are checked as data from someone else (a receiver never trusts
 * the server): each must be safe by the contract's rule (`unsafePathReason`: not absolute, no `..`, no
 * drive letter, NUL or backslash) AND resolve to a place strictly inside the target folder; and no two
 * may land on the same name on a file system that folds case or Unicode normalisation (NFC + lower
 * case), nor may a file's path be another entry's folder. Pure: the disk is checked by the caller.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { unsafePathReason } from "../../functions/contract/batches.js";

export interface PathProblem {
  path: string;
  reason: string;
}

export interface Collision {
  /** The paths that would land on the same name, as the batch gives them. */
  paths: string[];
  reason: string;
}

/** Where a batch path lands under `root`, or why it would not stay inside it. */
export function placeUnder(root: string, path: string): { abs: string } | { reason: string } {
  const why = unsafePathReason(path);
  if (why) return { reason: why };
  const abs = resolve(root, ...path.split("/"));
  const rel = relative(resolve(root), abs);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    return { reason: "resolves outside the folder" };
  return { abs };
}

/** Every path of the batch that is unsafe or would land outside `root`. */
export function unsafePaths(root: string, paths: readonly string[]): PathProblem[] {
  const out: PathProblem[] = [];
  for (const path of paths) {
    const p = placeUnder(root, path);
    if ("reason" in p) out.push({ path, reason: p.reason });
  }
  return out;
}

/** The name a case- and normalisation-insensitive file system (macOS, Windows) sees. */
export const foldName = (path: string): string => path.normalize("NFC").toLowerCase().normalize("NFC");

const ancestors = (path: string): string[] => {
  const segs = path.split("/");
  return segs.slice(1).map((_, i) => segs.slice(0, i + 1).join("/"));
};

/**
 * Paths that would overwrite one another: equal once folded (`A.txt`/`a.txt`, NFC/NFD `é`, or the same
 * path twice), or a file whose path is the folder of another file or folder.
 */
export function collisions(files: readonly string[], dirs: readonly string[] = []): Collision[] {
  const out: Collision[] = [];
  const byName = new Map<string, string[]>();
  for (const p of [...files, ...dirs]) {
    const k = foldName(p);
    byName.set(k, [...(byName.get(k) ?? []), p]);
  }
  for (const paths of byName.values())
    if (paths.length > 1)
      out.push({
        // In code-unit order, whatever order the server listed them in.
        paths: [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
        reason: new Set(paths).size === 1 ? "the same path twice" : "the same name when case or accents fold",
      });
  const folders = new Map<string, string>();
  for (const p of [...files, ...dirs]) for (const a of ancestors(p)) folders.set(foldName(a), p);
  for (const f of files) {
    const under = folders.get(foldName(f));
    if (under !== undefined)
      out.push({ paths: [f, under], reason: "a file, and the folder of another entry" });
  }
  return out;
}

/**
 * A path as a message shows it: quoted, and when it has non-ASCII letters also spelled in code points,
 * so that NFC and NFD spellings (which print alike) can be told apart.
 */
export function shownPath(path: string): string {
  const quoted = JSON.stringify(path);
  if (!/[^\x20-\x7e]/.test(path)) return quoted;
  const spelled = path.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `${quoted} (${spelled})`;
}

/** Problems as lines for a message: at most `max` named, then how many more. */
export function nameSome(lines: readonly string[], max = 10): string {
  const shown = lines.slice(0, max).map((l) => `  ${l}`);
  if (lines.length > max) shown.push(`  … and ${lines.length - max} more`);
  return shown.join("\n");
}
