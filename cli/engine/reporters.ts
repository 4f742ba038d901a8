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

/** Progress bars per file plus a total line on a terminal; start/done lines elsewhere. */
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
  let totalBar: cliProgress.SingleBar | undefined;
  const totals = {
    size: 0,
    bytes: new Map<string, number>(),
    speeds: new Map<string, number>(),
    retries: new Map<string, number>(),
  };
  const note = (line: string) => (multi ? multi.log(`${line}\n`) : err.write(`${line}\n`));
  const short = (name: string) => (name.length > 24 ? `${name.slice(0, 21)}...` : name.padEnd(24));
  let lastPlain = 0;

  const refreshTotal = () => {
    if (!multi || bars.size < 2) return;
    const bytes = [...totals.bytes.values()].reduce((a, b) => a + b, 0);
    const speed = [...totals.speeds.values()].reduce((a, b) => a + b, 0);
    const retries = [...totals.retries.values()].reduce((a, b) => a + b, 0);
    const payload = {
      name: short("total"),
      doneH: formatBytes(bytes),
      totalH: formatBytes(totals.size),
      speed: formatRate(speed),
      etaH: formatDuration(speed > 0 ? (totals.size - bytes) / speed : null),
      note: retries ? `${retries} retries` : "",
    };
    if (!totalBar) totalBar = multi.create(Math.max(1, totals.size), bytes, payload);
    else {
      totalBar.setTotal(Math.max(1, totals.size));
      totalBar.update(bytes, payload);
    }
  };

  const sink: EventSink = (e: SendEvent) => {
    switch (e.type) {
      case "hash":
        if (opts.verbose && e.bytes === e.size) note(`hashed ${e.file} (${formatBytes(e.size)})`);
        break;
      case "start": {
        totals.size += e.size;
        totals.bytes.set(e.file, e.bytesDone);
        const how = e.resumed
          ? `resuming ${e.transferId} at ${formatBytes(e.bytesDone)}`
          : `${opts.direction === "receive" ? "receiving" : "sending as"} ${e.transferId}`;
        if (!multi) err.write(`${e.name}: ${how} (${formatBytes(e.size)}, ${e.priority} priority)\n`);
        else {
          if (opts.verbose || e.resumed) note(`${e.name}: ${how}`);
          const bar = multi.create(Math.max(1, e.size), e.bytesDone, {
            name: short(e.name),
            doneH: formatBytes(e.bytesDone),
            totalH: formatBytes(e.size),
            speed: "",
            etaH: "--",
            note: e.priority === "normal" ? "" : e.priority,
          });
          bars.set(e.file, { bar, size: e.size, bytes: e.bytesDone });
        }
        break;
      }
      case "progress": {
        totals.bytes.set(e.file, e.bytesDone);
        totals.speeds.set(e.file, e.speedBps);
        totals.retries.set(e.file, e.retries);
        const b = bars.get(e.file);
        if (b) {
          b.bytes = e.bytesDone;
          b.bar.update(e.bytesDone, {
            doneH: formatBytes(e.bytesDone),
            speed: formatRate(e.speedBps),
            etaH: formatDuration(e.etaSeconds),
            note: e.retries ? `${e.retries} retries` : "",
          });
          refreshTotal();
        } else if (!multi && performance.now() - lastPlain > 10_000) {
          lastPlain = performance.now();
          err.write(
            `${e.file}: ${formatBytes(e.bytesDone)} of ${formatBytes(e.size)} at ${formatRate(e.speedBps)}, ETA ${formatDuration(e.etaSeconds)}\n`,
          );
        }
        break;
      }
      case "part":
        if (opts.verbose)
          note(
            `part ${e.partNumber} of ${e.file}: ${formatBytes(e.size)} in ${e.seconds.toFixed(2)}s (try ${e.attempt})`,
          );
        break;
      case "retry":
        if (opts.verbose)
          note(
            `retry ${e.operation}${e.partNumber ? ` ${e.partNumber}` : ""} in ${(e.delayMs / 1000).toFixed(1)}s: ${e.reason}`,
          );
        break;
      case "done": {
        const b = bars.get(e.file);
        if (b) b.bar.update(e.size, { doneH: formatBytes(e.size), etaH: "0s", note: "done" });
        totals.bytes.set(e.file, e.size);
        refreshTotal();
        const how = e.deduplicated
          ? "already stored (nothing sent)"
          : `${formatBytes(e.size)} in ${formatDuration(e.seconds)}`;
        const line = `${e.file}  ${e.transferId}  sha256 ${e.sha256}  ${how}`;
        // On a terminal the bars' log shows it; the result line still goes to stdout for scripts.
        if (multi && (out as NodeJS.WriteStream).isTTY) multi.log(`${line}\n`);
        else out.write(`${line}\n`);
        break;
      }
      case "error":
        note(`${e.file ?? "sfts"}: ${e.message}`);
        break;
    }
  };
  return { sink, stop: () => multi?.stop() };
}
