/**
 * How a batch receive looks on a terminal: one bar for the whole batch (bytes and files), not one per
 * file; elsewhere a line every ten seconds. Each file's result line only with --verbose; the summary
 * is printed by the command.
 */
import cliProgress from "cli-progress";
import type { EventSink, SendEvent } from "./events.js";
import { formatBytes, formatDuration, formatRate } from "./units.js";

export function batchReporter(opts: {
  tty: boolean;
  verbose: boolean;
  batchId: string;
  err?: NodeJS.WritableStream;
}): { sink: EventSink; stop: () => void } {
  const err = opts.err ?? process.stderr;
  let files = 0;
  let retries = 0;
  // Bytes of files received whole: the bar ends there even when the last progress event came earlier.
  let doneBytes = 0;
  let shown = 0;
  let last: Record<string, string> | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let lastPlain = performance.now();
  const note = (line: string) => err.write(`${line}\n`);
  const sink: EventSink = (e: SendEvent) => {
    if (e.type === "done") {
      files++;
      doneBytes += e.size;
      if (opts.verbose) note(`${e.file}  ${e.transferId}  sha256 ${e.sha256}`);
    } else if (e.type === "retry") {
      retries++;
      if (opts.verbose)
        note(`retry ${e.operation} ${e.file ?? ""} in ${(e.delayMs / 1000).toFixed(1)}s: ${e.reason}`);
    } else if (e.type === "progress" && e.transferId === opts.batchId) {
      const payload = {
        doneH: formatBytes(e.bytesDone),
        totalH: formatBytes(e.size),
        speed: formatRate(e.speedBps),
        etaH: formatDuration(e.etaSeconds),
        note: `${files} files${retries ? `, ${retries} retries` : ""}`,
      };
      last = payload;
      shown = Math.max(e.bytesDone, doneBytes);
      if (opts.tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              stream: err as NodeJS.WriteStream,
              hideCursor: true,
              format: `${opts.batchId} |{bar}| {percentage}% {doneH}/{totalH} {speed} ETA {etaH} {note}`,
              barsize: 24,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(Math.max(1, e.size), shown, payload);
        } else bar.update(shown, payload);
      } else if (performance.now() - lastPlain > 10_000) {
        lastPlain = performance.now();
        err.write(
          `${opts.batchId}: ${formatBytes(e.bytesDone)} of ${formatBytes(e.size)}, ${files} files, at ${formatRate(e.speedBps)}, ETA ${formatDuration(e.etaSeconds)}\n`,
        );
      }
    }
  };
  const stop = () => {
    if (bar && last && doneBytes > shown)
      bar.update(doneBytes, { ...last, doneH: formatBytes(doneBytes), note: `${files} files` });
    bar?.stop();
  };
  return { sink, stop };
}
