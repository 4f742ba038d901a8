/**
 * `sfts receive bt_… -o DIR`: the batch's tree recreated under DIR. Everything is checked before anything
 * is written: every path safe and inside DIR (batch-plan.ts), no two paths landing on one name, no
 * symlink or file in the way on disk (lstat of every folder on the way), no existing file that differs.
 * Then the folders are made one level at a time (each checked to be a real folder, not a link) and the
 * files fetched several at once by the one-file receiver (receiver.ts: ranged, per-range verified,
 * resumable), sharing one link model (the ranges in flight, all files together), one hashing thread
 * for the whole-file SHA-256s, one --memory budget and one --limit-rate. A small journal in the state folder
 * (receive-journal.ts) remembers the files finished, so a second run skips them without hashing.
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { FileSummary, PartInfo } from "../../functions/contract/schemas.js";
import { type ApiClient, apiClientFor } from "./api-client.js";
import { Bandwidth } from "./bandwidth.js";
import { checkDisk, makeDirs } from "./batch-disk.js";
import { collisions, nameSome, placeUnder, shownPath, unsafePaths } from "./batch-plan.js";
import type { ClientConfig } from "./config.js";
import { CliError, EXIT, fileError } from "./errors.js";
import type { NewEvent } from "./events.js";
import { safeFileName } from "./names.js";
import { HashThread } from "./receive/file-hasher.js";
import { ReceiveJournal } from "./receive-journal.js";
import { quietSignals, receiveFile, receiveSlots } from "./receiver.js";

export interface BatchReceiveOptions {
  id: string;
  output?: string | undefined;
  force: boolean;
  /** Most ranges in flight at once, all files together (the link model's ceiling). */
  concurrency: number;
  /** Bytes of buffers the ranges in flight may hold, all files together. */
  memory: number;
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

export async function receiveBatch(opts: BatchReceiveOptions): Promise<BatchReceiveResult> {
  quietSignals(opts);
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
  const { todo, skipped, skippedBytes } = await checkDisk({
    root,
    batchId: batch.id,
    dirs: batch.dirs,
    files: complete,
    journal,
    force: opts.force,
    signal: opts.abort,
  });

  // 3. Folders, then the files, several at once.
  const made = new Set<string>();
  try {
    await mkdir(root, { recursive: true });
  } catch (err) {
    throw fileError(err, root);
  }
  for (const d of batch.dirs) await makeDirs(root, d, made);
  const bandwidth = new Bandwidth(opts.limitRate);
  const link = receiveSlots(opts);
  const slots = link.slots;
  const hashes = new HashThread();
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
      concurrency: slots.limit,
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
      bandwidth,
      slots,
      hashes,
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
    link.close();
    await hashes.close();
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

/** The parts that tile the file, each with its SHA-256; a single PUT has none (the whole file is checked). */
async function partsOf(api: ApiClient, f: FileSummary): Promise<PartInfo[]> {
  if (f.upload === "single" || f.size === 0) return [];
  const d = await api.getFile(f.id);
  if (d.parts.length === 0 && d.deduplicatedFrom) return (await api.getFile(d.deduplicatedFrom)).parts;
  return d.parts;
}
