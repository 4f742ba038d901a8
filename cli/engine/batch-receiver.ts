/**
 * `sfts receive bt_… -o DIR`: the batch's tree recreated under DIR. Everything is checked before anything
 * is written: every path safe and inside DIR (batch-plan.ts), no two paths landing on one name, no
 * symlink or file in the way on disk (lstat of every folder on the way), no existing file that differs.
 * Then the folders are made one level at a time (each checked to be a real folder, not a link) and the
 * files fetched several at once by the one-file receiver (receiver.ts: ranged, per-range verified,
 * resumable), sharing one range budget and one --limit-rate. A small journal in the state folder
 * (receive-journal.ts) remembers the files finished, so a second run skips them without hashing.
 */
import { lstat, mkdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { FileSummary, PartInfo } from "../../functions/contract/schemas.js";
import { type ApiClient, apiClientFor } from "./api-client.js";
import { Bandwidth } from "./bandwidth.js";
import { collisions, nameSome, placeUnder, shownPath, unsafePaths } from "./batch-plan.js";
import type { ClientConfig } from "./config.js";
import { CliError, EXIT, fileError } from "./errors.js";
import type { NewEvent } from "./events.js";
import { hashFile } from "./file-io.js";
import { safeFileName } from "./names.js";
import { ReceiveJournal } from "./receive-journal.js";
import { type RangeSlots, receiveFile } from "./receiver.js";

export interface BatchReceiveOptions {
  id: string;
  output?: string | undefined;
  force: boolean;
  /** Most ranges in flight at once, all files together. */
  concurrency: number;
  /** Most files fetched at once. */
  files: number;
  limitRate: number | null;
  stallMs: number;
  client: ClientConfig;
  emit: (e: NewEvent) => void;
  stop: AbortSignal;
  abort: AbortSignal;
  cwd?: string;
}

export interface BatchReceiveResult {
  batchId: string;
  dir: string;
  files: number;
  dirs: number;
  bytes: number;
  /** Files fetched by this run, and those already in place (verified earlier or hashed now). */
  fetched: number;
  skipped: number;
  bytesFetched: number;
}

/** A simple counting semaphore: the range budget shared by the files of a batch. */
export function rangeSlots(n: number): RangeSlots {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise((res, rej) => {
        const go = () => {
          signal.removeEventListener("abort", stop);
          res();
        };
        const stop = () => {
          const i = waiting.indexOf(go);
          if (i >= 0) waiting.splice(i, 1);
          rej(signal.reason);
        };
        signal.addEventListener("abort", stop, { once: true });
        waiting.push(go);
      });
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}

async function allFiles(api: ApiClient, batchId: string): Promise<FileSummary[]> {
  const items: FileSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.listBatchFiles(batchId, { cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}

type Kind = "missing" | "file" | "dir" | "link" | "other";
async function kindOf(abs: string): Promise<Kind> {
  try {
    const s = await lstat(abs);
    return s.isSymbolicLink() ? "link" : s.isDirectory() ? "dir" : s.isFile() ? "file" : "other";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw fileError(err, abs);
  }
}

/** Makes each folder of `rel` under root, one level at a time; each must be a real folder, not a link. */
async function makeDirs(root: string, rel: string, made: Set<string>): Promise<void> {
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

export async function receiveBatch(opts: BatchReceiveOptions): Promise<BatchReceiveResult> {
  const api = apiClientFor(opts.client, opts.abort, opts.emit);
  const [batch, files] = await Promise.all([api.getBatch(opts.id), allFiles(api, opts.id)]);
  const cwd = opts.cwd ?? process.cwd();
  const root = resolve(cwd, opts.output ?? safeFileName(batch.name, batch.id));

  // 1. Every path safe and inside DIR, no two on one name: else nothing at all is written.
  const unsafe = unsafePaths(root, [...files.map((f) => f.path ?? ""), ...batch.dirs]);
  if (unsafe.length)
    throw new CliError(
      "UNSAFE_PATH",
      `Batch ${batch.id} has ${unsafe.length === 1 ? "a path" : `${unsafe.length} paths`} that would not stay inside ${root}; nothing was written:\n${nameSome(unsafe.map((u) => `${JSON.stringify(u.path)} ${u.reason}`))}`,
      EXIT.REJECTED,
    );
  const clash = collisions(
    files.map((f) => f.path as string),
    batch.dirs,
  );
  if (clash.length)
    throw new CliError(
      "PATH_COLLISION",
      `Batch ${batch.id} has paths that would overwrite one another; nothing was written:\n${nameSome(clash.map((c) => `${c.paths.map(shownPath).join(" and ")}: ${c.reason}`))}`,
      EXIT.REJECTED,
    );

  // 2. The disk: nothing in the way, no link to follow, no different file to overwrite (unless --force).
  const journal = ReceiveJournal.open(opts.client.server, batch.id, root);
  const complete = files.filter((f) => f.status === "complete");
  const incomplete = files.filter((f) => f.status !== "complete");
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
  const blocked: string[] = [];
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
        blocked.push(`${JSON.stringify(sub)} is ${k === "link" ? "a symbolic link" : "a file"} in ${root}`);
        return "blocked";
      }
    }
    return "ok";
  };
  for (const d of batch.dirs) await checkFolders(d);
  for (const f of complete) {
    const path = f.path as string;
    const folders = path.includes("/") ? await checkFolders(path.slice(0, path.lastIndexOf("/"))) : "ok";
    if (folders === "blocked") continue;
    const abs = (placeUnder(root, path) as { abs: string }).abs;
    const k = folders === "missing" ? "missing" : await kindOf(abs);
    if (k === "missing") todo.push(f);
    else if (k === "file") {
      if (journal.isDone(path, f, abs) || (await sameContent(abs, f))) {
        journal.markDone(path, f, abs);
        skipped++;
        skippedBytes += f.size;
      } else if (opts.force) todo.push(f);
      else differ.push(JSON.stringify(path));
    } else
      blocked.push(`${JSON.stringify(path)} is ${k === "link" ? "a symbolic link" : "a folder"} in ${root}`);
  }
  if (blocked.length)
    throw new CliError(
      "UNSAFE_PATH",
      `Receiving batch ${batch.id} would write through links or over folders; nothing was written:\n${nameSome(blocked)}`,
      EXIT.REJECTED,
    );
  if (differ.length)
    throw new CliError(
      "EXISTS",
      `${differ.length} file${differ.length === 1 ? "" : "s"} in ${root} differ from batch ${batch.id}; use --force to overwrite ${differ.length === 1 ? "it" : "them"}:\n${nameSome(differ)}`,
      EXIT.EXISTS,
    );

  // 3. Folders, then the files, several at once.
  const made = new Set<string>();
  try {
    await mkdir(root, { recursive: true });
  } catch (err) {
    throw fileError(err, root);
  }
  for (const d of batch.dirs) await makeDirs(root, d, made);
  const bandwidth = new Bandwidth(opts.limitRate);
  const slots = rangeSlots(opts.concurrency);
  const totalBytes = complete.reduce((a, f) => a + f.size, 0);
  let bytesDone = skippedBytes;
  let bytesFetched = 0;
  let fetched = 0;
  const failures: { path: string; err: unknown }[] = [];
  const started = performance.now();
  let speed = { bytes: bytesDone, at: started, bps: 0 };
  const progress = setInterval(() => {
    const now = performance.now();
    const inst = Math.max(0, bytesDone - speed.bytes) / ((now - speed.at) / 1000);
    speed = { bytes: bytesDone, at: now, bps: speed.bps === 0 ? inst : 0.7 * speed.bps + 0.3 * inst };
    opts.emit({
      type: "progress",
      file: root,
      transferId: batch.id,
      bytesDone,
      size: totalBytes,
      speedBps: Math.round(speed.bps),
      etaSeconds: speed.bps > 0 ? (totalBytes - bytesDone) / speed.bps : null,
      retries: 0,
      concurrency: opts.concurrency,
      partSize: 0,
    });
  }, 250);
  const one = async (f: FileSummary) => {
    const path = f.path as string;
    if (path.includes("/")) await makeDirs(root, path.slice(0, path.lastIndexOf("/")), made);
    const abs = (placeUnder(root, path) as { abs: string }).abs;
    const parts = await partsOf(api, f);
    const r = await receiveFile({
      api,
      file: { ...f, parts },
      target: abs,
      concurrency: opts.concurrency,
      bandwidth,
      slots,
      stallMs: opts.stallMs,
      retry: opts.client.retry,
      emit: opts.emit,
      stop: opts.stop,
      abort: opts.abort,
      progress: false,
      batch: { batchId: batch.id, path },
      onBytes: (n) => {
        bytesFetched += n;
      },
    });
    journal.markDone(path, f, abs);
    fetched++;
    bytesDone += f.size;
    return r;
  };
  try {
    const queue = [...todo];
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(opts.files, queue.length)) }, async () => {
        for (let f = queue.shift(); f && !opts.stop.aborted; f = queue.shift())
          await one(f).catch((err: unknown) => {
            if (opts.abort.aborted) throw err;
            // Ctrl-C: this file's verified ranges are kept; the loop ends, the others finish theirs.
            if (err instanceof CliError && err.exitCode === EXIT.INTERRUPTED) return;
            failures.push({ path: f.path as string, err });
          });
      }),
    );
  } finally {
    clearInterval(progress);
    journal.close();
  }
  if (opts.stop.aborted) throw new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);
  const first = failures[0];
  if (first) {
    const why = (e: unknown) => (e instanceof Error ? e.message : String(e));
    throw new CliError(
      first.err instanceof CliError ? first.err.code : "UNEXPECTED",
      `${failures.length} file${failures.length === 1 ? "" : "s"} of batch ${batch.id} could not be received (the others are in ${root}; run the same command to retry):\n${nameSome(failures.map((x) => `${JSON.stringify(x.path)}: ${why(x.err)}`))}`,
      first.err instanceof CliError ? first.err.exitCode : EXIT.UNEXPECTED,
    );
  }
  if (incomplete.length)
    throw new CliError(
      "BATCH_INCOMPLETE",
      `${incomplete.length} file${incomplete.length === 1 ? " is" : "s are"} not complete on the server, so not received (the ${complete.length} others are in ${root}):\n${nameSome(incomplete.map((f) => `${JSON.stringify(f.path)} ${f.status} (${f.id})`))}`,
      EXIT.REJECTED,
    );
  return {
    batchId: batch.id,
    dir: root,
    files: complete.length,
    dirs: batch.dirs.length,
    bytes: totalBytes,
    fetched,
    skipped,
    bytesFetched,
  };
}

async function isDirThrough(abs: string): Promise<boolean> {
  try {
    return (await stat(abs)).isDirectory();
  } catch {
    return false;
  }
}

/** An existing file with the same size whose SHA-256 matches: already received. */
async function sameContent(abs: string, f: FileSummary): Promise<boolean> {
  try {
    if ((await stat(abs)).size !== f.size) return false;
  } catch {
    return false;
  }
  return (await hashFile(abs)) === f.sha256;
}

/** The parts that tile the file, each with its SHA-256; a single PUT has none (the whole file is checked). */
async function partsOf(api: ApiClient, f: FileSummary): Promise<PartInfo[]> {
  if (f.upload === "single" || f.size === 0) return [];
  const d = await api.getFile(f.id);
  if (d.parts.length === 0 && d.deduplicatedFrom) return (await api.getFile(d.deduplicatedFrom)).parts;
  return d.parts;
}
