import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { receiveBatch } from "../engine/batch-receiver.js";
import { batchReporter } from "../engine/batch-reporter.js";
import { CliError, EXIT } from "../engine/errors.js";
import { type EventSink, emitter } from "../engine/events.js";
import { onInterrupt } from "../engine/interrupt.js";
import { receive } from "../engine/receiver.js";
import { humanReporter, jsonReporter, logFilePath, logFileSink } from "../engine/reporters.js";
import { count } from "../engine/table.js";
import { formatBytes, parseRate, parseSize, type UnitError } from "../engine/units.js";

export default class Receive extends BaseCommand {
  static override aliases = ["download"];
  static override description =
    `Receive a file, or a whole batch (a folder): parallel ranged downloads, each range checked against its part's SHA-256, each whole file checked before it is put in place

Interrupted any way, the same command resumes from what is on disk (checking it first). An existing file is never
overwritten without --force. The stored name is made safe: it cannot name a path outside the target folder.
A batch (bt_…) is recreated under -o DIR, several files at once; it is refused whole, before anything is
written, if any of its paths would land outside DIR, go through a symbolic link, or collide with another
path when case or accents fold (A.txt and a.txt). Files already received and untouched are skipped.
With --json a batch prints each file's events (with its path and batchId), then one line
{"type":"received", batchId, dir, files, dirs, bytes, fetched, skipped, bytesFetched}.`;
  static override examples = [
    "<%= config.bin %> receive tr_01kb4x5q2m3n4p5r6s7t8v9w0x",
    "<%= config.bin %> receive tr_01kb4x5q2m3n4p5r6s7t8v9w0x -o ~/incoming/ --limit-rate 5MB/s",
    "<%= config.bin %> receive bt_01kb4x5q2m3n4p5r6s7t8v9w0x -o copy/",
  ];
  static override args = {
    id: Args.string({ description: "The transfer id (tr_…) or batch id (bt_…)", required: true }),
  };
  static override flags = {
    output: Flags.string({
      char: "o",
      description: "File or folder to write (default: the stored name, here); for a batch, the folder",
    }),
    force: Flags.boolean({ char: "f", description: "Overwrite an existing file" }),
    concurrency: Flags.integer({
      char: "c",
      description:
        "Most ranges in flight at once (for a batch: all files together); the link model chooses up to this",
      default: 32,
      min: 1,
      max: 64,
    }),
    memory: Flags.string({
      description: "Most bytes of buffers the ranges in flight hold at once (about 3 MiB each)",
      default: "256MiB",
    }),
    "limit-rate": Flags.string({ description: "Cap on download speed, e.g. 10MB/s" }),
    files: Flags.integer({
      description: "Batch: most files fetched at once",
      default: 16,
      min: 1,
      max: 64,
    }),
    "stall-timeout": Flags.integer({
      description: "Seconds without data before a range is fetched again",
      default: 30,
      min: 1,
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Receive);
    this.verbose = flags.verbose;
    this.json = flags.json;
    let limitRate: number | null = null;
    if (flags["limit-rate"]) {
      try {
        limitRate = parseRate(flags["limit-rate"]);
      } catch (err) {
        throw new CliError("USAGE", `--limit-rate: ${(err as UnitError).message}`, EXIT.USAGE);
      }
    }
    let memory: number;
    try {
      memory = parseSize(flags.memory);
    } catch (err) {
      throw new CliError("USAGE", `--memory: ${(err as UnitError).message}`, EXIT.USAGE);
    }
    const client = this.clientConfig(flags);
    const interrupt = onInterrupt();
    const log = logFileSink(logFilePath());
    const batch = args.id.startsWith("bt_");
    const tty = Boolean(process.stderr.isTTY);
    const human = this.json
      ? undefined
      : batch
        ? batchReporter({ tty, verbose: this.verbose, batchId: args.id })
        : humanReporter({ tty, verbose: this.verbose, direction: "receive" });
    const sinks: EventSink[] = [log.sink, this.json ? jsonReporter() : (human?.sink as EventSink)];
    const common = {
      id: args.id,
      output: flags.output,
      force: flags.force,
      concurrency: flags.concurrency,
      memory,
      limitRate,
      stallMs: flags["stall-timeout"] * 1000,
      client,
      emit: emitter(sinks),
      stop: interrupt.stop,
      abort: interrupt.abort,
    };
    try {
      if (!batch) await receive(common);
      else {
        const r = await receiveBatch({ ...common, files: flags.files });
        human?.stop();
        if (this.json)
          process.stdout.write(
            `${JSON.stringify({ type: "received", ...r, time: new Date().toISOString() })}\n`,
          );
        else
          process.stdout.write(
            `${r.dir}  ${r.batchId}  ${count(r.files, "file")} (${formatBytes(r.bytes)}), ${count(r.dirs, "empty folder")}: ${r.fetched} received, ${r.skipped} already there, all verified\n`,
          );
      }
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.INTERRUPTED) {
        const again = ["sfts receive", ...process.argv.slice(3)].join(" ");
        if (this.json)
          process.stdout.write(
            `${JSON.stringify({ type: "interrupted", time: new Date().toISOString() })}\n`,
          );
        else
          process.stderr.write(
            `Interrupted; what arrived is kept and checked next time. Run the same command to resume:\n  ${again}\n`,
          );
        return this.exit(EXIT.INTERRUPTED);
      }
      throw err;
    } finally {
      interrupt.dispose();
      human?.stop();
      await log.close();
    }
  }
}
