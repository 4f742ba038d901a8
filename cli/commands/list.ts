import { Args, Flags } from "@oclif/core";
import type { BatchSummary } from "../../functions/contract/batches.js";
import { MAX_PAGE_SIZE } from "../../functions/contract/limits.js";
import { type FileSummary, PRIORITIES, TRANSFER_STATUSES } from "../../functions/contract/schemas.js";
import { BaseCommand } from "../base-command.js";
import type { ApiClient } from "../engine/api-client.js";
import { CliError, EXIT } from "../engine/errors.js";
import {
  BATCH_FILE_HEAD,
  BATCH_HEAD,
  batchFileRows,
  batchRows,
  fileProgress,
  table,
} from "../engine/table.js";
import { formatBytes } from "../engine/units.js";

const DEFAULT_LIMIT = 50;
/** What --all lists at most: enough for any real account, bounded so a runaway listing still ends. */
const ALL_CAP = 100_000;

type Page<T> = { items: T[]; nextCursor: string | null };

/** Pages through a listing until `limit` items; the cursor left says whether there may be more. */
async function collect<T>(
  limit: number,
  pageSize: number,
  page: (limit: number, cursor: string | undefined) => Promise<Page<T>>,
): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(Math.min(limit - items.length, pageSize), cursor);
    items.push(...p.items.slice(0, limit - items.length));
    cursor = p.nextCursor ?? undefined;
  } while (cursor !== undefined && items.length < limit);
  return { items, more: cursor !== undefined };
}

export default class List extends BaseCommand {
  static override description =
    `Batches and transfers, newest first: size, state, progress and SHA-256; or one batch's files

Batches (one per sfts send) are listed above the transfers when there are any; --batches lists only them.
--json prints the transfers (or with --batches the batches, or a batch's files) as one JSON array.`;
  static override examples = [
    "<%= config.bin %> list",
    "<%= config.bin %> list --status complete --priority high",
    "<%= config.bin %> list --all --json",
    "<%= config.bin %> list --batches",
    "<%= config.bin %> list bt_01kb4x5q2m3n4p5r6s7t8v9w0x",
  ];
  static override args = {
    id: Args.string({ description: "A batch id (bt_…): list its files", required: false }),
  };

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
      description: `Most transfers to list (default ${DEFAULT_LIMIT}; a batch's files: all)`,
      min: 1,
      max: ALL_CAP,
    }),
    all: Flags.boolean({ char: "a", description: `Every transfer (at most ${ALL_CAP})` }),
    batches: Flags.boolean({ char: "b", description: "Only batches" }),
    // Page size asked of the API; only tests need it (to page through a handful of files).
    "page-size": Flags.integer({ hidden: true, min: 1, max: MAX_PAGE_SIZE }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(List);
    this.verbose = flags.verbose;
    this.json = flags.json;
    if (flags.all && flags.limit !== undefined)
      throw new CliError("USAGE", "Give --limit or --all, not both", EXIT.USAGE);
    if (args.id !== undefined && !/^bt_[0-9a-z]{26}$/.test(args.id))
      throw new CliError(
        "USAGE",
        `"${args.id}" is not a batch id (bt_…); sfts status ID shows a transfer`,
        EXIT.USAGE,
      );
    if ((args.id !== undefined || flags.batches) && (flags.status || flags.priority))
      throw new CliError("USAGE", "--status and --priority filter transfers, not batches", EXIT.USAGE);
    if (args.id !== undefined && flags.batches)
      throw new CliError("USAGE", "Give a batch id or --batches, not both", EXIT.USAGE);
    const pageSize = flags["page-size"] ?? MAX_PAGE_SIZE;
    const api = this.api(this.clientConfig(flags));
    const hint = flags.all ? "narrow with --status or --priority" : "raise --limit, or use --all";
    if (args.id !== undefined) return this.batchFiles(api, args.id, flags.limit ?? ALL_CAP, pageSize);

    const limit = flags.all ? ALL_CAP : (flags.limit ?? DEFAULT_LIMIT);
    const filtered = flags.status !== undefined || flags.priority !== undefined;
    // Batches are shown with the transfers unless the listing is filtered or for a script (--json).
    const wantBatches = flags.batches || (!filtered && !this.json);
    const [batches, transfers] = await Promise.all([
      wantBatches
        ? collect<BatchSummary>(limit, pageSize, (l, cursor) => api.listBatches({ limit: l, cursor })).catch(
            (err: unknown) => {
              // A coordinator from before batches has no /api/batches: its transfers are still listed.
              if (
                !flags.batches &&
                err instanceof CliError &&
                ["ROUTE_NOT_FOUND", "HTTP_404"].includes(err.code)
              )
                return undefined;
              throw err;
            },
          )
        : undefined,
      flags.batches
        ? undefined
        : collect<FileSummary>(limit, pageSize, (l, cursor) =>
            api.listFiles({ status: flags.status, priority: flags.priority, limit: l, cursor }),
          ),
    ]);

    if (flags.batches && batches) {
      if (this.json) return void process.stdout.write(`${JSON.stringify(batches.items)}\n`);
      if (batches.items.length === 0) return void process.stdout.write("No batches.\n");
      process.stdout.write(`${table(BATCH_HEAD, batchRows(batches.items))}\n`);
      if (batches.more)
        process.stderr.write(`(the first ${batches.items.length}; there may be more: ${hint})\n`);
      return;
    }
    const items = transfers?.items ?? [];
    if (this.json) return void process.stdout.write(`${JSON.stringify(items)}\n`);
    if (batches?.items.length) {
      process.stdout.write(`Batches\n${table(BATCH_HEAD, batchRows(batches.items))}\n\nTransfers\n`);
      if (batches.more)
        process.stderr.write(
          `(the first ${batches.items.length} batches; sfts list --batches --all lists them all)\n`,
        );
    }
    if (items.length === 0) return void process.stdout.write("No transfers.\n");
    const rows = items.map((f) => [
      f.id,
      f.name.length > 30 ? `${f.name.slice(0, 27)}...` : f.name,
      formatBytes(f.size),
      f.status,
      f.priority,
      fileProgress(f),
      new Date(f.createdAt).toISOString().replace("T", " ").slice(0, 19),
      f.sha256.slice(0, 12),
    ]);
    const head = ["ID", "NAME", "SIZE", "STATUS", "PRIORITY", "PROGRESS", "CREATED (UTC)", "SHA-256"];
    process.stdout.write(`${table(head, rows)}\n`);
    // On stderr, so that stdout stays a table a script can read.
    if (transfers?.more) process.stderr.write(`(the first ${items.length}; there may be more: ${hint})\n`);
  }

  private async batchFiles(api: ApiClient, id: string, limit: number, pageSize: number): Promise<void> {
    const { items, more } = await collect<FileSummary>(limit, pageSize, (l, cursor) =>
      api.listBatchFiles(id, { limit: l, cursor }),
    );
    if (this.json) return void process.stdout.write(`${JSON.stringify(items)}\n`);
    if (items.length === 0) {
      // An unknown batch is a 404 from the files listing already; an empty one says so.
      return void process.stdout.write(`No files in ${id}.\n`);
    }
    process.stdout.write(`${table(BATCH_FILE_HEAD, batchFileRows(items))}\n`);
    if (more) process.stderr.write(`(the first ${items.length}; there may be more: raise --limit)\n`);
  }
}
