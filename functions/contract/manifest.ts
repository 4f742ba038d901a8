/**
 * A batch's paths and manifest, as plain functions with no zod: the coordinator, the CLI and the
 * dashboard's uploader (which must not bundle zod) share them. batches.ts re-exports both.
 */

/**
 * Why a relative path is unsafe to write under a target folder, or undefined if it is safe.
 * Shared by the coordinator (refuses such paths) and every receiver (refuses them again: a receiver
 * never trusts the server). Names are data: any Unicode, spaces, leading dots are fine.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return "is empty";
  if (path.includes("\u0000")) return "contains NUL";
  if (!path.isWellFormed()) return "is not valid Unicode";
  if (path.startsWith("/")) return "is absolute";
  if (/^[A-Za-z]:/.test(path)) return "starts with a drive letter";
  if (path.includes("\\")) return "contains a backslash (a Windows separator)";
  for (const segment of path.split("/")) {
    if (segment === "") return "has an empty segment (// or a trailing /)";
    if (segment === "." || segment === "..") return "has a . or .. segment";
  }
  return undefined;
}

/**
 * The manifest's canonical text, whose SHA-256 is the batch's digest: one line per file
 * ("f", size, path) and per empty folder ("d", path), sorted by path (UTF-16 code units), tab separated.
 * Contents are not in it (they are hashed later, while sending), so the digest is known right after the walk.
 */
export function manifestText(
  files: readonly { path: string; size: number }[],
  dirs: readonly string[] = [],
): string {
  const lines = [
    ...files.map((f) => ({ path: f.path, line: `f\t${f.size}\t${f.path}\n` })),
    ...dirs.map((d) => ({ path: d, line: `d\t\t${d}\n` })),
  ];
  lines.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return lines.map((l) => l.line).join("");
}
