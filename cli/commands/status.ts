import { Args } from "@oclif/core";
import type { FileSummary } from "../../functions/contract/schemas.js";
import { BaseCommand } from "../base-command.js";
import type { ApiClient } from "../engine/api-client.js";
import { BATCH_FILE_HEAD, batchFileRows, count, percent, table, utcTime } from "../engine/table.js";
import { formatBytes } from "../engine/units.js";

export default class Status extends BaseCommand {
  static override description =
    "Transfers in progress, or one transfer's state and what it still misses, or a batch's summary and its files not complete";
  static override examples = [
    "<%= config.bin %> status",
    "<%= config.bin %> status tr_01kb4x5q2m3n4p5r6s7t8v9w0x",
    "<%= config.bin %> status bt_01kb4x5q2m3n4p5r6s7t8v9w0x",
  ];
  static override args = {
    id: Args.string({ description: "A transfer id (tr_…) or batch id (bt_…)", required: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Status);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const api = this.api(this.clientConfig(flags));
    if (args.id?.startsWith("bt_")) return this.batch(api, args.id);
    if (args.id) {
      const [file, missing] = await Promise.all([
        api.getFile(args.id),
        api.missing(args.id).catch(() => undefined),
      ]);
      if (this.json)
        return void process.stdout.write(
          `${JSON.stringify({ ...file, missing: missing?.missing ?? null })}\n`,
        );
      const pct = file.size ? ((100 * file.bytesDone) / file.size).toFixed(1) : "100.0";
      const lines = [
        `${file.id}  ${file.name}`,
        `  status     ${file.status} (${file.priority} priority)`,
        `  stored     ${formatBytes(file.bytesDone)} of ${formatBytes(file.size)} (${pct}%), ${file.partsDone} parts`,
        `  sha256     ${file.sha256}`,
        `  created    ${file.createdAt}   updated ${file.updatedAt}`,
      ];
      if (file.compositeChecksum) lines.push(`  composite  ${file.compositeChecksum}`);
      if (file.retries) lines.push(`  retries    ${file.retries} (reported by the sender)`);
      if (file.lastError) lines.push(`  last error ${file.lastError}`);
      if (missing?.missing.length)
        lines.push(
          `  missing    ${missing.missing.map((g) => `bytes ${g.offset}–${g.offset + g.size - 1}`).join(", ")}`,
        );
      return void process.stdout.write(`${lines.join("\n")}\n`);
    }
    const [uploading, assembling] = await Promise.all([
      api.listFiles({ status: "uploading", limit: 100 }),
      api.listFiles({ status: "assembling", limit: 100 }),
    ]);
    const items = [...uploading.items, ...assembling.items];
    if (this.json) return void process.stdout.write(`${JSON.stringify(items)}\n`);
    if (items.length === 0) return void process.stdout.write("No transfers in progress.\n");
    const rows = items.map((f) => [
      f.id,
      f.name.length > 30 ? `${f.name.slice(0, 27)}...` : f.name,
      formatBytes(f.size),
      `${f.size ? ((100 * f.bytesDone) / f.size).toFixed(1) : "100.0"}%`,
      f.status,
      f.priority,
      f.updatedAt.replace("T", " ").slice(0, 19),
    ]);
    const head = ["ID", "NAME", "SIZE", "STORED", "STATUS", "PRIORITY", "UPDATED"];
    process.stdout.write(`${table(head, rows)}\n`);
    if (uploading.nextCursor) process.stdout.write("(more: use sfts list --status uploading)\n");
  }

  private async batch(api: ApiClient, id: string): Promise<void> {
    const b = await api.getBatch(id);
    const open: FileSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.listBatchFiles(id, { cursor });
      open.push(...page.items.filter((f) => f.status !== "complete"));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    if (this.json) return void process.stdout.write(`${JSON.stringify({ ...b, incomplete: open })}\n`);
    const lines = [
      `${b.id}  ${b.name}`,
      `  status     ${b.status} (${b.priority} priority)`,
      `  files      ${b.filesComplete} of ${b.fileCount} complete${b.filesFailed ? `, ${b.filesFailed} failed` : ""}${b.dirs.length ? `; ${count(b.dirs.length, "empty folder")}` : ""}`,
      `  stored     ${formatBytes(b.bytesComplete)} of ${formatBytes(b.totalBytes)} (${percent(b.bytesComplete, b.totalBytes)})`,
      `  created    ${utcTime(b.createdAt)} UTC   updated ${utcTime(b.updatedAt)} UTC`,
    ];
    if (b.completedAt) lines.push(`  completed  ${utcTime(b.completedAt)} UTC`);
    lines.push(
      open.length
        ? `\nNot complete (${open.length}):\n${table(BATCH_FILE_HEAD, batchFileRows(open))}`
        : "  every file is complete",
    );
    process.stdout.write(`${lines.join("\n")}\n`);
  }
}
