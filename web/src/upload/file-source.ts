/**
 * What the user gave, as one Selection (a batch's worth), with the paths `sfts send` would give: a
 * folder's files under the folder's own name ("photos/2026/a.jpg", exactly File.webkitRelativePath), a
 * file given alone under its name. The batch is named after the folder, or the first file.
 *
 * - Picks (<input type=file>, with or without webkitdirectory): selectionFromInput. A folder input does
 *   not list empty folders, so its selection has no dirs.
 * - Drops: selectionFromDrop. The DataTransfer's items are emptied once the drop event returns, so every
 *   item's entry (webkitGetAsEntry) is taken synchronously, before the first await; then the entries are
 *   walked: a folder is listed by readEntries called in rounds until it answers [] (Chromium answers at
 *   most 100 entries a call), an empty folder becomes one of the batch's dirs, children in name order.
 *
 * Nothing of a selection throws: a folder the browser cannot list, a file that vanished, a path a batch
 * cannot hold (functions/contract/manifest.ts's unsafePathReason, the path length limit) or a second item
 * with the same path becomes a problem in words, and the rest of the selection goes on. The DOM types are
 * restated minimally (EntryLike…) so the unit tests can walk fake entries in Node.
 */
import { MAX_PATH_LENGTH } from "../../../functions/contract/limits.js";
import { unsafePathReason } from "../../../functions/contract/manifest.js";
import type { PickedFile, Selection, SourceProblem } from "./types.js";

/** A File as far as the selection needs it. */
export interface FileLike extends Blob {
  readonly name: string;
  readonly lastModified: number;
  /** Set by folder inputs: the path under the folder picked, the folder's name first. */
  readonly webkitRelativePath?: string;
}

/** FileSystemEntry, FileSystemFileEntry and FileSystemDirectoryEntry, as far as the walk needs them. */
export interface EntryLike {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}
interface FileEntryLike extends EntryLike {
  file(ok: (file: FileLike) => void, fail?: (err: unknown) => void): void;
}
interface DirectoryEntryLike extends EntryLike {
  createReader(): { readEntries(ok: (entries: EntryLike[]) => void, fail?: (err: unknown) => void): void };
}

/** DataTransferItem, as far as the walk needs it. */
export interface ItemLike {
  readonly kind: string;
  webkitGetAsEntry(): EntryLike | null;
  getAsFile(): FileLike | null;
}
export interface ItemListLike {
  readonly length: number;
  readonly [index: number]: ItemLike;
}

/** The batch name when nothing named one (nothing readable was given). */
const NO_NAME = "upload";

/** DOMException names whose (long) browser message says no more than the reason's own words. */
const SAID = new Set(["NotFoundError", "NotReadableError", "SecurityError", "AbortError", "EncodingError"]);

/** The browser's words for a failure, in parentheses, unless the reason already says it. */
const detail = (err: unknown): string => {
  const name = (err as { name?: unknown } | null)?.name;
  if (typeof name === "string" && SAID.has(name)) return "";
  if (err instanceof Error && err.message) return ` (${err.message})`;
  return typeof name === "string" && name ? ` (${name})` : "";
};

/** Collects files, dirs and problems; refuses unsafe and duplicate paths as problems. */
class Collector {
  readonly files: PickedFile[] = [];
  readonly dirs: string[] = [];
  readonly problems: SourceProblem[] = [];
  /** Every path taken (file or folder), so a second item with the same path is refused. */
  private readonly taken = new Map<string, "file" | "dir">();

  problem(path: string, reason: string): void {
    this.problems.push({ path, reason });
  }

  /** Whether a batch can hold the path (else a problem says why). */
  usable(path: string): boolean {
    const why =
      path.length > MAX_PATH_LENGTH ? `is longer than ${MAX_PATH_LENGTH} characters` : unsafePathReason(path);
    if (why) this.problem(path, `its path ${why}, which a batch cannot hold`);
    return !why;
  }

  /** Claims a path and its parent folders; false (with a problem) when another item holds it. */
  claim(path: string, kind: "file" | "dir"): boolean {
    if (this.taken.has(path)) {
      this.problem(path, "another item of this selection has the same path; it is sent once");
      return false;
    }
    for (let i = path.indexOf("/"); i > 0; i = path.indexOf("/", i + 1)) {
      const parent = path.slice(0, i);
      if (this.taken.get(parent) === "file") {
        this.problem(path, `${parent} is a file of this selection, so it cannot also be a folder`);
        return false;
      }
    }
    this.taken.set(path, kind);
    for (let i = path.indexOf("/"); i > 0; i = path.indexOf("/", i + 1))
      this.taken.set(path.slice(0, i), "dir");
    return true;
  }

  addFile(path: string, file: FileLike): boolean {
    if (!this.usable(path) || !this.claim(path, "file")) return false;
    this.files.push({ path, file, size: file.size, lastModified: file.lastModified });
    return true;
  }

  selection(name: string): Selection {
    return { name: name || NO_NAME, files: this.files, dirs: this.dirs, problems: this.problems };
  }
}

/** A pick: files of a folder input (their webkitRelativePath) or of a plain file input (their names). */
export function selectionFromInput(files: ArrayLike<FileLike>, kind: "folder" | "files"): Selection {
  const c = new Collector();
  const list = Array.from(files);
  for (const f of list) {
    const path = kind === "folder" && f.webkitRelativePath ? f.webkitRelativePath : f.name;
    c.addFile(path, f);
  }
  const first = list[0];
  const firstPath = first ? (kind === "folder" && first.webkitRelativePath) || first.name : "";
  const name = kind === "folder" ? (firstPath.split("/")[0] ?? "") : firstPath;
  return c.selection(name);
}

const isDirectory = (e: EntryLike): e is DirectoryEntryLike => e.isDirectory;
const isFile = (e: EntryLike): e is FileEntryLike => e.isFile;

const byName = (a: EntryLike, b: EntryLike) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function fileOf(entry: FileEntryLike): Promise<FileLike> {
  return new Promise((resolve, reject) => {
    try {
      entry.file(resolve, reject);
    } catch (err) {
      reject(err);
    }
  });
}

/** Every entry of a folder: readEntries in rounds until it answers none. */
async function listFolder(dir: DirectoryEntryLike): Promise<EntryLike[]> {
  const reader = dir.createReader();
  const all: EntryLike[] = [];
  for (;;) {
    const round = await new Promise<EntryLike[]>((resolve, reject) => {
      try {
        reader.readEntries(resolve, reject);
      } catch (err) {
        reject(err);
      }
    });
    if (round.length === 0) return all;
    all.push(...round);
  }
}

/** Walks one entry at `path`; answers whether anything under it was kept (else a folder is empty). */
async function walkEntry(entry: EntryLike, path: string, c: Collector): Promise<boolean> {
  if (isDirectory(entry)) {
    if (!c.usable(path) || !c.claim(path, "dir")) return false;
    let children: EntryLike[];
    try {
      children = await listFolder(entry);
    } catch (err) {
      c.problem(path, `the browser could not read this folder${detail(err)}`);
      return true; // not an empty folder: one that could not be listed
    }
    children.sort(byName);
    let kept = false;
    for (const child of children) if (await walkEntry(child, `${path}/${child.name}`, c)) kept = true;
    if (!kept) c.dirs.push(path);
    return true;
  }
  if (isFile(entry)) {
    let file: FileLike;
    try {
      file = await fileOf(entry);
    } catch (err) {
      c.problem(path, `this file vanished or cannot be read${detail(err)}`);
      return false;
    }
    return c.addFile(path, file);
  }
  c.problem(path, "is neither a file nor a folder");
  return false;
}

/**
 * A drop: `items` is the drop event's dataTransfer (or its items). Call it from the drop handler itself,
 * before any await: the entries are taken at once, the browser empties the list after the event.
 */
export function selectionFromDrop(
  items: ItemListLike | { readonly items: ItemListLike },
): Promise<Selection> {
  const list = "items" in items ? items.items : items;
  const tops: ({ entry: EntryLike } | { file: FileLike } | { unreadable: string })[] = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (item?.kind !== "file") continue; // dragged text or links: not files
    let entry: EntryLike | null = null;
    try {
      entry = item.webkitGetAsEntry();
    } catch {
      entry = null;
    }
    if (entry) {
      tops.push({ entry });
      continue;
    }
    const file = item.getAsFile();
    tops.push(file ? { file } : { unreadable: `item ${i + 1}` });
  }
  return (async () => {
    const c = new Collector();
    let name = "";
    for (const t of tops) {
      if ("entry" in t) {
        name ||= t.entry.name;
        try {
          await walkEntry(t.entry, t.entry.name, c);
        } catch (err) {
          c.problem(t.entry.name, `the browser could not read this item${detail(err)}`);
        }
      } else if ("file" in t) {
        name ||= t.file.name;
        c.addFile(t.file.name, t.file);
      } else c.problem(t.unreadable, "the browser gave no file for this item");
    }
    return c.selection(name);
  })();
}
