/**
 * Before a batch is received, the disk under DIR: no symbolic link or file where a folder of the batch
 * goes (links are never followed: every level is checked with lstat), no folder or link where a file
 * goes, and no file already there that differs (unless --force). A file already there with the same
 * content counts as received: known from the receive journal (untouched since) or hashed now. Nothing
 * is written here but the journal; folders are made later, one level at a time, each checked again.
 */
import { lstat, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileSummary } from "../../functions/contract/schemas.js";
import { nameSome, placeUnder } from "./batch-plan.js";
import { CliError, EXIT, fileError } from "./errors.js";
import { hashFile } from "./file-io.js";
import type { ReceiveJournal } from "./receive-journal.js";

export type Kind = "missing" | "file" | "dir" | "link" | "other";
export async function kindOf(abs: string): Promise<Kind> {
  try {
    const s = await lstat(abs);
    return s.isSymbolicLink() ? "link" : s.isDirectory() ? "dir" : s.isFile() ? "file" : "other";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw fileError(err, abs);
  }
}

/** Makes each folder of `rel` under root, one level at a time; each must be a real folder, not a link. */
export async function makeDirs(root: string, rel: string, made: Set<string>): Promise<void> {
  const segs = rel.split("/");
  for (let i = 1; i <= segs.length; i++) {
    const sub = segs.slice(0, i).join("/");
    if (made.has(sub)) continue;
    const abs = join(root, ...segs.slice(0, i));
    try {
      await mkdir(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw fileError(err, abs);
    }
    const kind = await kindOf(abs);
    if (kind !== "dir")
      throw new CliError(
        "UNSAFE_PATH",
        `${abs} is ${kind === "link" ? "a symbolic link" : "not a folder"}; nothing is written through it`,
        EXIT.REJECTED,
      );
    made.add(sub);
  }
}

export interface DiskPlan {
  /** Files to fetch. */
  todo: FileSummary[];
  /** Files already there with the right content. */
  skipped: number;
  skippedBytes: number;
}

export async function checkDisk(o: {
  root: string;
  batchId: string;
  dirs: readonly string[];
  /** The batch's complete files; their paths are already checked safe (batch-plan.ts). */
  files: readonly FileSummary[];
  journal: ReceiveJournal;
  force: boolean;
  signal?: AbortSignal | undefined;
}): Promise<DiskPlan> {
  const { root, batchId, dirs, files, journal, force, signal } = o;
  const rootKind = await kindOf(root);
  if (rootKind !== "missing" && rootKind !== "dir" && !(rootKind === "link" && (await isDirThrough(root))))
    throw new CliError("EXISTS", `${root} exists and is not a folder`, EXIT.EXISTS);
  const folderKinds = new Map<string, Kind>();
  const folderOf = async (rel: string): Promise<Kind> => {
    let k = folderKinds.get(rel);
    if (k === undefined) {
      const parent = rel.includes("/") ? await folderOf(rel.slice(0, rel.lastIndexOf("/"))) : "dir";
      k =
        parent === "missing"
          ? "missing"
          : parent === "dir"
            ? await kindOf(join(root, ...rel.split("/")))
            : parent;
      folderKinds.set(rel, k);
    }
    return k;
  };
  const blocked = new Set<string>();
  const differ: string[] = [];
  const todo: FileSummary[] = [];
  let skipped = 0;
  let skippedBytes = 0;
  /** Whether the folders of `rel` are all there ("ok"), some not yet ("missing"), or one is in the way. */
  const checkFolders = async (rel: string): Promise<"ok" | "missing" | "blocked"> => {
    const segs = rel.split("/");
    for (let i = 1; i <= segs.length; i++) {
      const sub = segs.slice(0, i).join("/");
      const k = await folderOf(sub);
      if (k === "missing") return "missing";
      if (k !== "dir") {
        blocked.add(`${JSON.stringify(sub)} is ${k === "link" ? "a symbolic link" : "a file"} in ${root}`);
        return "blocked";
      }
    }
    return "ok";
  };
  for (const d of dirs) await checkFolders(d);
  const present: { f: FileSummary; path: string; abs: string }[] = [];
  for (const f of files) {
    const path = f.path as string;
    const folders = path.includes("/") ? await checkFolders(path.slice(0, path.lastIndexOf("/"))) : "ok";
    if (folders === "blocked") continue;
    const abs = (placeUnder(root, path) as { abs: string }).abs;
    const k = folders === "missing" ? "missing" : await kindOf(abs);
    if (k === "missing") todo.push(f);
    else if (k === "file") present.push({ f, path, abs });
    else
      blocked.add(`${JSON.stringify(path)} is ${k === "link" ? "a symbolic link" : "a folder"} in ${root}`);
  }
  if (blocked.size)
    throw new CliError(
      "UNSAFE_PATH",
      `Receiving batch ${batchId} would write through links or over folders; nothing was written:\n${nameSome([...blocked])}`,
      EXIT.REJECTED,
    );
  // Files already there: received earlier and untouched (the journal), or hashed now, a few at once.
  const unsure = [...present];
  await Promise.all(
    Array.from({ length: Math.min(4, unsure.length) }, async () => {
      for (let p = unsure.shift(); p; p = unsure.shift()) {
        if (journal.isDone(p.path, p.f, p.abs) || (await sameContent(p.abs, p.f, signal))) {
          journal.markDone(p.path, p.f, p.abs);
          skipped++;
          skippedBytes += p.f.size;
        } else if (force) todo.push(p.f);
        else differ.push(JSON.stringify(p.path));
      }
    }),
  );
  differ.sort();
  if (differ.length)
    throw new CliError(
      "EXISTS",
      `${differ.length} file${differ.length === 1 ? "" : "s"} in ${root} differ from batch ${batchId}; use --force to overwrite ${differ.length === 1 ? "it" : "them"}:\n${nameSome(differ)}`,
      EXIT.EXISTS,
    );

  return { todo, skipped, skippedBytes };
}

async function isDirThrough(abs: string): Promise<boolean> {
  try {
    return (await stat(abs)).isDirectory();
  } catch {
    return false;
  }
}

/** An existing file with the same size whose SHA-256 matches: already received. */
async function sameContent(abs: string, f: FileSummary, signal?: AbortSignal): Promise<boolean> {
  try {
    if ((await stat(abs)).size !== f.size) return false;
  } catch {
    return false;
  }
  return (await hashFile(abs, undefined, signal)) === f.sha256;
}
