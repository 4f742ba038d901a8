/**
 * Turning events into output: NDJSON for --json, progress bars (cli-progress) on a terminal, plain lines
 * otherwise, and a JSON log file for post-mortems. Results go to stdout; bars and notes to stderr.
 */
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import type { EventSink, SendEvent } from "./events.js";
import { stateDir } from "./paths.js";
import { formatBytes, formatDuration, formatRate } from "./units.js";

export function jsonReporter(out: NodeJS.WritableStream = process.stdout): EventSink {
  return (e) => {
    out.write(`${JSON.stringify(e)}\n`);
  };
}

export function logFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const day = new Date().toISOString().slice(0, 10);
  return join(stateDir(env), "logs", `sfts-${day}.log`);
}

/** Every event, as JSON lines, into the day's log file. Best effort: a log that cannot be written is skipped. */
export function logFileSink(path: string): { sink: EventSink; close: () => Promise<void> } {
  try {
    mkdirSync(join(path, ".."), { recursive: true });
  } catch {
    return { sink: () => {}, close: async () => {} };
  }
  const stream = createWriteStream(path, { flags: "a", mode: 0o600 });
  stream.on("error", () => {});
  return {
    sink: (e) => {
      if (e.type !== "progress" && e.type !== "hash")
        stream.write(`${JSON.stringify({ pid: process.pid, ...e })}\n`);
    },
    close: () => new Promise((r) => stream.end(r)),
  };
}

interface BarState {
  bar: cliProgress.SingleBar;
  size: number;
  bytes: number;
}

/** File bars drawn at once: a batch of thousands shows its total and the few files moving now. */
export const MAX_FILE_BARS = 4;
/** A batch with more files than this prints no line per file on a terminal, only its summary. */
export const MAX_FILE_LINES_ON_TERMINAL = 20;

/**
 * Progress bars on a terminal (a total bar for several files, and bars for the few files moving now),
 * start/done lines elsewhere. Result lines go to stdout, written after the bars stop so the last screen
 * shows them; for a one-file send the last line names the file's transfer id, SHA-256 and the batch.
 */
export function humanReporter(opts: {
  tty: boolean;
  verbose: boolean;
  /** Words for what moves: "sending as" or "receiving". */
  direction?: "send" | "receive";
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}): { sink: EventSink; stop: () => void } {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const outIsTty = Boolean((out as NodeJS.WriteStream).isTTY);
  const multi = opts.tty
    ? new cliProgress.MultiBar(
        {
          stream: err as NodeJS.WriteStream,
          clearOnComplete: false,
          hideCursor: true,
          autopadding: true,
          format: "{name} |{bar}| {percentage}% {doneH}/{totalH} {speed} ETA {etaH} {note}",
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const bars = new Map<string, BarState>();
  const finished = new Set<string>();
  let totalBar: cliProgress.SingleBar | undefined;
  const totals = {
    size: 0,
    bytes: new Map<string, number>(),
    speeds: new Map<string, number>(),
    retries: new Map<string, number>(),
  };
  let batch: { files: number; bytes: number; id: string } | undefined;
  let started = 0;
  /** Lines for stdout once the bars are gone (on a terminal), or the one-file line held for its batch id. */
  const after: string[] = [];
  let held: string | undefined;
  const note = (line: string) => (multi ? multi.log(`${line}\n`) : err.write(`${line}\n`));
  const short = (name: string) => (name.length > 24 ? `${name.slice(0, 21)}...` : name.padEnd(24));
  const manyFiles = () => (batch?.files ?? started) > MAX_FILE_LINES_ON_TERMINAL;
  let lastPlain = 0;

  const refreshTotal = () => {
    const count = batch?.files ?? bars.size;
    if (!multi || count < 2) return;
    const size = batch?.bytes ?? totals.size;
    const bytes = [...totals.bytes.values()].reduce((a, b) => a + b, 0);
    const speed = [...totals.speeds.values()].reduce((a, b) => a + b, 0);
    const retries = [...totals.retries.values()].reduce((a, b) => a + b, 0);
    const payload = {
      name: short(batch ? `total (${finished.size}/${batch.files} files)` : "total"),
      doneH: formatBytes(bytes),
      totalH: formatBytes(size),
      speed: formatRate(speed),
      etaH: formatDuration(speed > 0 ? (size - bytes) / speed : null),
      note: retries ? `${retries} retries` : "",
    };
    if (!totalBar) totalBar = multi.create(Math.max(1, size), bytes, payload);
    else {
      totalBar.setTotal(Math.max(1, size));
      totalBar.update(bytes, payload);
    }
  };

  const addBar = (file: string, name: string, size: number, bytes: number, note: string) => {
    if (!multi || bars.has(file) || finished.has(file) || bars.size >= MAX_FILE_BARS) return;
    const bar = multi.create(Math.max(1, size), bytes, {
      name: short(name),
      doneH: formatBytes(bytes),
      totalH: formatBytes(size),
      speed: "",
      etaH: "--",
      note,
    });
    bars.set(file, { bar, size, bytes });
  };

  /** A finished file's bar stays when all bars fit; in a big batch it makes room for the next file. */
  const endBar = (file: string) => {
    const b = bars.get(file);
    if (!b || !multi) return;
    if ((batch?.files ?? 0) > MAX_FILE_BARS) {
      multi.remove(b.bar);
      bars.delete(file);
    }
  };

  const result = (line: string) => {
    if (multi && outIsTty) after.push(line);
    else out.write(`${line}\n`);
  };

  const sink: EventSink = (e: SendEvent) => {
    switch (e.type) {
      case "batch":
        if (e.phase === "start") {
          batch = { files: e.files, bytes: e.bytes, id: e.batchId };
          if (e.files > 1 || e.dirs > 0) {
            const how = e.resumed ? `resuming ${e.batchId}` : `sending as ${e.batchId}`;
            const skipped = e.skipped ? `, ${e.skipped} skipped` : "";
            const dirs = e.dirs ? `, ${e.dirs} empty folder${e.dirs === 1 ? "" : "s"}` : "";
            note(`${e.name}: ${how} (${e.files} files, ${formatBytes(e.bytes)}${dirs}${skipped})`);
          }
          refreshTotal();
        } else {
          if (e.files === 1 && held !== undefined) {
            result(`${held}  batch ${e.batchId}`);
            held = undefined;
          } else if (e.files !== 1 || e.dirs > 0) {
            const failed = (e.filesFailed ?? 0) + (e.filesInterrupted ?? 0);
            const how = failed
              ? `${e.filesDone} of ${e.files} files stored, ${e.filesFailed ?? 0} failed, ${e.filesInterrupted ?? 0} interrupted`
              : `${e.files} files, ${formatBytes(e.bytes)} stored, ${formatBytes(e.bytesSent ?? 0)} sent in ${formatDuration(e.seconds ?? 0)}`;
            result(`batch ${e.batchId}  ${e.name}  ${how}`);
          }
        }
        break;
      case "skip":
        note(`skipped ${e.file}: ${e.reason}`);
        break;
      case "hash":
        if (opts.verbose && e.bytes === e.size) note(`hashed ${e.file} (${formatBytes(e.size)})`);
        break;
      case "start": {
        started++;
        totals.size += e.size;
        totals.bytes.set(e.file, e.bytesDone);
        const how = e.resumed
          ? `resuming ${e.transferId} at ${formatBytes(e.bytesDone)}`
          : `${opts.direction === "receive" ? "receiving" : "sending as"} ${e.transferId}`;
        if (!multi) {
          if (!manyFiles()) err.write(`${e.name}: ${how} (${formatBytes(e.size)}, ${e.priority} priority)\n`);
        } else {
          if ((opts.verbose || e.resumed) && !manyFiles()) note(`${e.name}: ${how}`);
          addBar(e.file, e.name, e.size, e.bytesDone, e.priority === "normal" ? "" : e.priority);
        }
        break;
      }
      case "progress": {
        totals.bytes.set(e.file, e.bytesDone);
        totals.speeds.set(e.file, e.speedBps);
        totals.retries.set(e.file, e.retries);
        addBar(e.file, e.file.split(/[\\/]/).pop() ?? e.file, e.size, e.bytesDone, "");
        const b = bars.get(e.file);
        if (b) {
          b.bytes = e.bytesDone;
          b.bar.update(e.bytesDone, {
            doneH: formatBytes(e.bytesDone),
            speed: formatRate(e.speedBps),
            etaH: formatDuration(e.etaSeconds),
            note: e.retries ? `${e.retries} retries` : "",
          });
        } else if (!multi && performance.now() - lastPlain > 10_000) {
          lastPlain = performance.now();
          err.write(
            `${e.file}: ${formatBytes(e.bytesDone)} of ${formatBytes(e.size)} at ${formatRate(e.speedBps)}, ETA ${formatDuration(e.etaSeconds)}\n`,
          );
        }
        refreshTotal();
        break;
      }
      case "part":
        if (opts.verbose)
          note(
            `part ${e.partNumber} of ${e.file}: ${formatBytes(e.size)} in ${e.seconds.toFixed(2)}s (try ${e.attempt})`,
          );
        break;
      case "link":
        if (opts.verbose)
          note(
            `link: ${e.concurrency} in flight, parts of ${formatBytes(e.partSize)} (${e.reason}; ${formatRate(e.goodputBps)}, loss ${(e.lossRate * 100).toFixed(1)} %, ${e.dropsPerMinute} drops/min)`,
          );
        break;
      case "retry":
        if (opts.verbose)
          note(
            `retry ${e.operation}${e.partNumber ? ` ${e.partNumber}` : ""} in ${(e.delayMs / 1000).toFixed(1)}s: ${e.reason}`,
          );
        break;
      case "done": {
        finished.add(e.file);
        const b = bars.get(e.file);
        if (b) b.bar.update(e.size, { doneH: formatBytes(e.size), etaH: "0s", note: "done" });
        endBar(e.file);
        totals.bytes.set(e.file, e.size);
        totals.speeds.delete(e.file);
        refreshTotal();
        const how = e.deduplicated
          ? "already stored (nothing sent)"
          : `${formatBytes(e.size)} in ${formatDuration(e.seconds)}`;
        const line = `${e.file}  ${e.transferId}  sha256 ${e.sha256}  ${how}`;
        // One file of a batch: its line is the last one, with the batch id (at the batch's end).
        if (batch?.files === 1 && e.batchId) held = line;
        else if (!(multi && outIsTty && manyFiles())) result(line);
        break;
      }
      case "error":
        finished.add(e.file ?? "");
        endBar(e.file ?? "");
        totals.speeds.delete(e.file ?? "");
        note(`${e.file ?? "sfts"}: ${e.message}`);
        break;
    }
  };
  return {
    sink,
    stop: () => {
      if (held !== undefined) result(held);
      held = undefined;
      if (multi) {
        // The bars' log is written on their next redraw: draw once more, or the last lines never show.
        multi.update();
        multi.stop();
      }
      for (const line of after) out.write(`${line}\n`);
      after.length = 0;
    },
  };
}
