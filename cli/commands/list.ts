import { Flags } from "@oclif/core";
import { MAX_PAGE_SIZE } from "../../functions/contract/limits.js";
import { type FileSummary, PRIORITIES, TRANSFER_STATUSES } from "../../functions/contract/schemas.js";
import { BaseCommand } from "../base-command.js";
import { CliError, EXIT } from "../engine/errors.js";
import { table } from "../engine/table.js";
import { formatBytes } from "../engine/units.js";

const DEFAULT_LIMIT = 50;
/** What --all lists at most: enough for any real account, bounded so a runaway listing still ends. */
const ALL_CAP = 100_000;

export default class List extends BaseCommand {
  static override description = "Transfers, newest first: size, state, progress and SHA-256";
  static override examples = [
    "<%= config.bin %> list",
    "<%= config.bin %> list --status complete --priority high",
    "<%= config.bin %> list --all --json",
  ];

  static override flags = {
    status: Flags.string({
      char: "s",
      description: "Only transfers in this state",
      options: [...TRANSFER_STATUSES],
    }),
    priority: Flags.string({
      char: "p",
      description: "Only transfers of this priority",
      options: [...PRIORITIES],
    }),
    limit: Flags.integer({
      char: "n",
      description: `Most transfers to list (default ${DEFAULT_LIMIT})`,
      min: 1,
      max: ALL_CAP,
    }),
    all: Flags.boolean({ char: "a", description: `Every transfer (at most ${ALL_CAP})` }),
    // Page size asked of the API; only tests need it (to page through a handful of files).
    "page-size": Flags.integer({ hidden: true, min: 1, max: MAX_PAGE_SIZE }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    this.verbose = flags.verbose;
    this.json = flags.json;
    if (flags.all && flags.limit !== undefined)
      throw new CliError("USAGE", "Give --limit or --all, not both", EXIT.USAGE);
    const limit = flags.all ? ALL_CAP : (flags.limit ?? DEFAULT_LIMIT);
    const api = this.api(this.clientConfig(flags));
    const items: FileSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.listFiles({
        status: flags.status,
        priority: flags.priority,
        limit: Math.min(limit - items.length, flags["page-size"] ?? MAX_PAGE_SIZE),
        cursor,
      });
      items.push(...page.items.slice(0, limit - items.length));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && items.length < limit);

    if (this.json) return void process.stdout.write(`${JSON.stringify(items)}\n`);
    if (items.length === 0) return void process.stdout.write("No transfers.\n");
    const rows = items.map((f) => [
      f.id,
      f.name.length > 30 ? `${f.name.slice(0, 27)}...` : f.name,
      formatBytes(f.size),
      f.status,
      f.priority,
      `${f.size ? ((100 * f.bytesDone) / f.size).toFixed(1) : "100.0"}%`,
      new Date(f.createdAt).toISOString().replace("T", " ").slice(0, 19),
      f.sha256.slice(0, 12),
    ]);
    const head = ["ID", "NAME", "SIZE", "STATUS", "PRIORITY", "PROGRESS", "CREATED (UTC)", "SHA-256"];
    process.stdout.write(`${table(head, rows)}\n`);
    // On stderr, so that stdout stays a table a script can read.
    if (cursor !== undefined)
      process.stderr.write(
        `(the first ${items.length}; there may be more: ${flags.all ? "narrow with --status or --priority" : "raise --limit, or use --all"})\n`,
      );
  }
}
