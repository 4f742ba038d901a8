import { Args, Flags } from "@oclif/core";
import { DEFAULT_PART_SIZE, MIN_PART_SIZE } from "../../functions/contract/limits.js";
import { PRIORITIES, type Priority } from "../../functions/contract/schemas.js";
import { BaseCommand } from "../base-command.js";
import { CliError, EXIT } from "../engine/errors.js";
import { type EventSink, emitter } from "../engine/events.js";
import { onInterrupt } from "../engine/interrupt.js";
import { humanReporter, jsonReporter, logFilePath, logFileSink } from "../engine/reporters.js";
import { type SendInput, send } from "../engine/send/batch-sender.js";
import { parseRate, parseSize, type UnitError } from "../engine/units.js";

export default class Send extends BaseCommand {
  static override description =
    `Send files and folders as one batch: straight to storage, each part checked by storage against its SHA-256; resumes after any interruption

A file is sent under its own name; a folder under its name, with everything in it at its path inside
(sfts send photos/ notes.txt sends photos/2026/a.jpg and notes.txt), like scp -r. Empty files and
empty folders are kept; symlinks inside folders are skipped unless --follow-symlinks; sockets, FIFOs
and devices are skipped, each named once. Names are sent as they are (any Unicode, spaces, dots).

Run the same command again after Ctrl-C, a crash, a reboot or a lost network: it sends only what is
missing (on another host too: the server finds the batch by its list of paths and sizes). A file the
server already has completes at once. The last line names the batch (bt_…): sfts receive bt_… -o DIR.`;

  static override examples = [
    "<%= config.bin %> send video.mov",
    "<%= config.bin %> send dataset/ --exclude '*.tmp' --exclude .git",
    "<%= config.bin %> send scans/*.tif --priority high --limit-rate 2MB/s",
    "<%= config.bin %> send backup.tar --low logs/ --high urgent.pdf --json",
  ];

  static override strict = false;
  static override args = { path: Args.string({ description: "Files and folders to send", required: false }) };

  static override flags = {
    priority: Flags.string({
      char: "p",
      description: "Priority of the PATH arguments",
      options: [...PRIORITIES],
      default: "normal",
    }),
    high: Flags.string({
      description: "Also send this file or folder at high priority (repeatable)",
      multiple: true,
      default: [],
    }),
    low: Flags.string({
      description: "Also send this file or folder at low priority (repeatable)",
      multiple: true,
      default: [],
    }),
    exclude: Flags.string({
      char: "x",
      description:
        "Skip paths matching this glob, relative to the folder given; without a / it matches names at any depth (repeatable)",
      multiple: true,
      default: [],
    }),
    "follow-symlinks": Flags.boolean({
      char: "L",
      description: "Follow symlinks inside folders (loops are cut)",
      default: false,
    }),
    "chunk-size": Flags.string({
      description:
        "Part size to start with, e.g. 8MiB [env: SFTS_CHUNK_SIZE] (default 8MiB); files up to it go as one PUT",
    }),
    "max-chunk-size": Flags.string({ description: "Largest part size adaptation may reach (default 64MiB)" }),
    adaptive: Flags.boolean({
      description: "Adapt part size to the link (--no-adaptive keeps --chunk-size)",
      default: true,
      allowNo: true,
    }),
    concurrency: Flags.integer({
      char: "c",
      description:
        "Most parts of big files in flight at once (the link model adapts below it, and within --memory)",
      default: 32,
      min: 1,
      max: 64,
    }),
    transfers: Flags.integer({
      char: "t",
      description: "Most small files (one PUT each) in flight at once",
      default: 32,
      min: 1,
      max: 256,
    }),
    "limit-rate": Flags.string({ description: "Cap on upload speed, e.g. 10MB/s or 2Mbit/s" }),
    "stall-timeout": Flags.integer({
      description: "Seconds without progress before a PUT is dropped and retried",
      default: 30,
      min: 1,
    }),
    memory: Flags.string({
      description: "Most bytes of parts and files held in memory at once",
      default: "128MiB",
    }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Send);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const inputs: SendInput[] = [
      ...(argv as string[]).map((path) => ({ path, priority: flags.priority as Priority })),
      ...flags.high.map((path) => ({ path, priority: "high" as const })),
      ...flags.low.map((path) => ({ path, priority: "low" as const })),
    ];
    if (inputs.length === 0)
      throw new CliError(
        "USAGE",
        "Name at least one file or folder to send (see sfts send --help)",
        EXIT.USAGE,
      );
    const seen = new Set<string>();
    for (const f of inputs) {
      if (seen.has(f.path)) throw new CliError("USAGE", `${f.path} is named twice`, EXIT.USAGE);
      seen.add(f.path);
    }
    const unit = <T>(fn: () => T, flag: string): T => {
      try {
        return fn();
      } catch (err) {
        throw new CliError("USAGE", `${flag}: ${(err as UnitError).message}`, EXIT.USAGE);
      }
    };
    const limitRate = flags["limit-rate"]
      ? unit(() => parseRate(flags["limit-rate"] as string), "--limit-rate")
      : null;
    const maxChunk = flags["max-chunk-size"]
      ? unit(() => parseSize(flags["max-chunk-size"] as string), "--max-chunk-size")
      : undefined;
    const memoryBudget = unit(() => parseSize(flags.memory), "--memory");
    const client = this.clientConfig(flags);
    const partSize = Math.max(MIN_PART_SIZE, client.chunkSize ?? DEFAULT_PART_SIZE);

    const interrupt = onInterrupt({
      onFirst: () => {
        if (!this.json)
          process.stderr.write("\nStopping: finishing the parts in flight (Ctrl-C again to stop at once)…\n");
      },
    });

    const log = logFileSink(logFilePath());
    const sinks: EventSink[] = [log.sink];
    const human = this.json
      ? undefined
      : humanReporter({ tty: Boolean(process.stderr.isTTY), verbose: this.verbose });
    sinks.push(this.json ? jsonReporter() : (human?.sink as EventSink));
    let result: Awaited<ReturnType<typeof send>>;
    try {
      result = await send({
        inputs,
        exclude: flags.exclude,
        followSymlinks: flags["follow-symlinks"],
        priority: flags.priority as Priority,
        client,
        concurrency: flags.concurrency,
        transfers: flags.transfers,
        hashers: 8,
        adaptive: flags.adaptive,
        partSize,
        maxPartSize: maxChunk,
        retry: client.retry,
        limitRate,
        stallMs: flags["stall-timeout"] * 1000,
        memoryBudget,
        emit: emitter(sinks),
        stop: interrupt.stop,
        abort: interrupt.abort,
      });
    } finally {
      interrupt.dispose();
      // Ctrl-C pressed again while the last lines are written must not cut them (nor the exit code).
      if (interrupt.stop.aborted) for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => {});
      human?.stop();
      await log.close();
    }

    const interrupted = result.files.filter((r) => r.status === "interrupted");
    if (interrupted.length) {
      const again = ["sfts send", ...process.argv.slice(3)].join(" ");
      if (!this.json)
        process.stderr.write(
          `Interrupted: ${interrupted.length} file(s) not finished; what was stored is kept. Run the same command to resume:\n  ${again}\n`,
        );
      else
        process.stdout.write(
          `${JSON.stringify({ type: "interrupted", ...(result.batchId && { batchId: result.batchId }), files: interrupted.map((r) => r.file), time: new Date().toISOString() })}\n`,
        );
      return this.exit(EXIT.INTERRUPTED);
    }
    // Each failure was already reported as it happened; the exit code is the batch's, or the first file's.
    if (result.fatal) return this.exit(result.fatal.exitCode);
    const first = result.files.find((r) => r.status === "failed");
    if (first?.error) return this.exit(first.error.exitCode);
  }
}
