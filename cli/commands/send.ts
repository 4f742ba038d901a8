import { Args, Flags } from "@oclif/core";
import { PRIORITIES, type Priority } from "../../functions/contract/schemas.js";
import { BaseCommand } from "../base-command.js";
import { CliError, EXIT } from "../engine/errors.js";
import { type EventSink, emitter } from "../engine/events.js";
import { onInterrupt } from "../engine/interrupt.js";
import { humanReporter, jsonReporter, logFilePath, logFileSink } from "../engine/reporters.js";
import { type SendFile, send } from "../engine/sender.js";
import { parseRate, parseSize, type UnitError } from "../engine/units.js";

export default class Send extends BaseCommand {
  static override description =
    `Send files: adaptive parts straight to storage, each checked by storage against its SHA-256; resumes after any interruption

Run the same command again after Ctrl-C, a crash, a reboot or a lost network: it continues where it stopped
(on another host too: the server knows what it holds). A file the server already has completes at once.`;

  static override examples = [
    "<%= config.bin %> send video.mov",
    "<%= config.bin %> send scans/*.tif --priority high --limit-rate 2MB/s",
    "<%= config.bin %> send backup.tar --low logs.tgz --high urgent.pdf --json",
  ];

  static override strict = false;
  static override args = { file: Args.string({ description: "Files to send", required: false }) };

  static override flags = {
    priority: Flags.string({
      char: "p",
      description: "Priority of the FILE arguments",
      options: [...PRIORITIES],
      default: "normal",
    }),
    high: Flags.string({
      description: "Also send this file at high priority (repeatable)",
      multiple: true,
      default: [],
    }),
    low: Flags.string({
      description: "Also send this file at low priority (repeatable)",
      multiple: true,
      default: [],
    }),
    "chunk-size": Flags.string({
      description: "Starting part size, e.g. 8MiB [env: SFTS_CHUNK_SIZE] (default: the server's advice)",
    }),
    "max-chunk-size": Flags.string({ description: "Largest part size adaptation may reach (default 64MiB)" }),
    adaptive: Flags.boolean({
      description: "Adapt part size to the link (--no-adaptive keeps --chunk-size)",
      default: true,
      allowNo: true,
    }),
    concurrency: Flags.integer({
      char: "c",
      description: "Most parts in flight at once (adapted below it)",
      default: 8,
      min: 1,
      max: 64,
    }),
    "limit-rate": Flags.string({ description: "Cap on upload speed, e.g. 10MB/s or 2Mbit/s" }),
    "stall-timeout": Flags.integer({
      description: "Seconds without progress before a part is dropped and retried",
      default: 30,
      min: 1,
    }),
    memory: Flags.string({ description: "Most bytes of parts held in memory at once", default: "128MiB" }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Send);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const files: SendFile[] = [
      ...(argv as string[]).map((path) => ({ path, priority: flags.priority as Priority })),
      ...flags.high.map((path) => ({ path, priority: "high" as const })),
      ...flags.low.map((path) => ({ path, priority: "low" as const })),
    ];
    if (files.length === 0)
      throw new CliError("USAGE", "Name at least one file to send (see sfts send --help)", EXIT.USAGE);
    const seen = new Set<string>();
    for (const f of files) {
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
    let results: Awaited<ReturnType<typeof send>>;
    try {
      results = await send({
        files,
        client,
        concurrency: flags.concurrency,
        adaptive: flags.adaptive,
        chunkSize: client.chunkSize,
        maxChunkSize: maxChunk,
        limitRate,
        stallMs: flags["stall-timeout"] * 1000,
        memoryBudget,
        emit: emitter(sinks),
        stop: interrupt.stop,
        abort: interrupt.abort,
      });
    } finally {
      interrupt.dispose();
      human?.stop();
      await log.close();
    }

    const failed = results.filter((r) => r.status === "failed");
    const interrupted = results.filter((r) => r.status === "interrupted");
    if (interrupted.length) {
      const again = ["sfts send", ...process.argv.slice(3)].join(" ");
      if (!this.json)
        process.stderr.write(
          `Interrupted: ${interrupted.length} file(s) not finished; what was stored is kept. Run the same command to resume:\n  ${again}\n`,
        );
      else
        process.stdout.write(
          `${JSON.stringify({ type: "interrupted", files: interrupted.map((r) => r.file), time: new Date().toISOString() })}\n`,
        );
      return this.exit(EXIT.INTERRUPTED);
    }
    // Each failure was already reported as it happened; the exit code is the first one's.
    const first = failed[0];
    if (first && first.status !== "done") return this.exit(first.error.exitCode);
  }
}
