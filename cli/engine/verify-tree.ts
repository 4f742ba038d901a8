/**
 * `sfts verify DIR --id bt_…`: a folder compared with a batch. Every file of the batch must be in DIR
 * with its size and SHA-256 (hashed a few at once; a size that differs settles it without reading);
 * every empty folder of the batch must be there; anything else in DIR (a file, a link, a folder no batch
 * path needs) is extra. Links are never followed. Paths are compared as the batch gives them.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { FileSummary } from "../../functions/contract/schemas.js";
import { fileError } from "./errors.js";
import { hashFile } from "./file-io.js";

export interface TreeReport {
  /** Files whose content differs: size or SHA-256. */
  differ: {
    path: string;
    expected: string;
    actual: string | null;
    expectedSize: number;
    actualSize: number;
  }[];
  /** Batch files, and empty folders, not in DIR (or not a file / folder there). */
  missing: string[];
  /** In DIR but not in the batch. */
  extra: string[];
  files: number;
  dirs: number;
}

/** Every entry under root, relative with / separators: files (and links, sockets…) and folders. */
async function walk(root: string): Promise<{ files: Map<string, "file" | "other">; dirs: Set<string> }> {
  const files = new Map<string, "file" | "other">();
  const dirs = new Set<string>();
  const visit = async (rel: string) => {
    const abs = rel ? join(root, ...rel.split("/")) : root;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      throw fileError(err, abs);
    }
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        dirs.add(p);
        await visit(p);
      } else files.set(p, e.isFile() ? "file" : "other");
    }
  };
  await visit("");
  return { files, dirs };
}

export async function verifyTree(
  root: string,
  expected: readonly FileSummary[],
  emptyDirs: readonly string[],
  parallel = 4,
  signal?: AbortSignal,
): Promise<TreeReport> {
  const s = await lstat(root).catch((err: unknown) => {
    throw fileError(err, root);
  });
  if (!s.isDirectory()) throw fileError(Object.assign(new Error("not a folder"), { code: "ENOTDIR" }), root);
  const local = await walk(root);
  const report: TreeReport = {
    differ: [],
    missing: [],
    extra: [],
    files: expected.length,
    dirs: emptyDirs.length,
  };
  const needed = new Set<string>();
  const known = new Set<string>();
  for (const p of [...expected.map((f) => f.path ?? f.name), ...emptyDirs]) {
    known.add(p);
    const segs = p.split("/");
    for (let i = 1; i < segs.length; i++) needed.add(segs.slice(0, i).join("/"));
  }
  for (const d of emptyDirs) if (!local.dirs.has(d)) report.missing.push(d);
  const toHash: FileSummary[] = [];
  for (const f of expected) {
    const p = f.path ?? f.name;
    if (local.files.get(p) !== "file") report.missing.push(p);
    else toHash.push(f);
  }
  for (const p of local.files.keys()) if (!known.has(p)) report.extra.push(p);
  for (const d of local.dirs) if (!known.has(d) && !needed.has(d)) report.extra.push(d);

  const queue = [...toHash];
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(parallel, queue.length)) }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const p = f.path ?? f.name;
        const abs = join(root, ...p.split("/"));
        const size = (await lstat(abs)).size;
        if (size !== f.size) {
          report.differ.push({
            path: p,
            expected: f.sha256,
            actual: null,
            expectedSize: f.size,
            actualSize: size,
          });
          continue;
        }
        const actual = await hashFile(abs, undefined, signal);
        if (actual !== f.sha256)
          report.differ.push({ path: p, expected: f.sha256, actual, expectedSize: f.size, actualSize: size });
      }
    }),
  );
  const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  report.differ.sort((a, b) => byPath(a.path, b.path));
  report.missing.sort(byPath);
  report.extra.sort(byPath);
  return report;
}
