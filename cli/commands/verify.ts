import { Args, Flags } from "@oclif/core";
import type { FileSummary } from "../../functions/contract/schemas.js";
import { BaseCommand } from "../base-command.js";
import { CliError, EXIT } from "../engine/errors.js";
import { hashFile, statFile } from "../engine/file-io.js";
import { count } from "../engine/table.js";
import { formatBytes } from "../engine/units.js";
import { verifyTree } from "../engine/verify-tree.js";

export default class Verify extends BaseCommand {
  static override description =
    `Check a local file against the SHA-256 the sender recorded, or against a given one; or a folder against a batch

Exit code 0 when it matches, 9 when it does not. For a folder and a batch (--id bt_…) every file's SHA-256 is
checked, and the files (and empty folders) that differ, are missing, or are in the folder but not in the batch
are named.`;
  static override examples = [
    "<%= config.bin %> verify video.mov --id tr_01kb4x5q2m3n4p5r6s7t8v9w0x",
    "<%= config.bin %> verify video.mov --checksum 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "<%= config.bin %> verify copy/ --id bt_01kb4x5q2m3n4p5r6s7t8v9w0x",
  ];
  static override args = {
    path: Args.string({
      description: "The local file (or, with a batch id, folder) to check",
      required: true,
    }),
  };
  static override flags = {
    id: Flags.string({
      description: "Compare with this transfer's SHA-256 and size (tr_…), or with this batch (bt_…)",
    }),
    checksum: Flags.string({ description: "Compare with this SHA-256 (64 hex digits)" }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Verify);
    this.verbose = flags.verbose;
    this.json = flags.json;
    if ((flags.id === undefined) === (flags.checksum === undefined))
      throw new CliError("USAGE", "Give exactly one of --id or --checksum", EXIT.USAGE);
    if (flags.checksum !== undefined && !/^[0-9a-fA-F]{64}$/.test(flags.checksum))
      throw new CliError("USAGE", "--checksum: a SHA-256 is 64 hexadecimal digits", EXIT.USAGE);
    const path = args.path;
    if (flags.id?.startsWith("bt_")) return this.tree(path, flags.id, flags);
    const local = await statFile(path);
    let expected = flags.checksum?.toLowerCase() ?? "";
    let expectedSize: number | undefined;
    if (flags.id !== undefined) {
      const file = await this.api(this.clientConfig(flags)).getFile(flags.id);
      expected = file.sha256;
      expectedSize = file.size;
    }
    const sizes = expectedSize === undefined ? {} : { expectedSize, actualSize: local.size };
    // A different size settles it without reading the file.
    if (expectedSize !== undefined && expectedSize !== local.size) {
      if (this.json)
        process.stdout.write(`${JSON.stringify({ path, expected, actual: null, match: false, ...sizes })}\n`);
      else
        process.stdout.write(
          `MISMATCH  ${path}  expected ${formatBytes(expectedSize)} (${expectedSize} bytes) got ${formatBytes(local.size)} (${local.size} bytes)\n`,
        );
      return this.exit(EXIT.INTEGRITY);
    }
    const actual = await hashFile(local.path);
    const match = actual === expected;
    if (this.json) process.stdout.write(`${JSON.stringify({ path, expected, actual, match, ...sizes })}\n`);
    else
      process.stdout.write(
        match ? `OK  ${path}  sha256 ${actual}\n` : `MISMATCH  ${path}  expected ${expected} got ${actual}\n`,
      );
    if (!match) return this.exit(EXIT.INTEGRITY);
  }

  private async tree(dir: string, id: string, flags: Record<string, unknown>): Promise<void> {
    const api = this.api(this.clientConfig(flags));
    const batch = await api.getBatch(id);
    const files: FileSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.listBatchFiles(id, { cursor });
      files.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    const r = await verifyTree(dir, files, batch.dirs);
    const match = r.differ.length + r.missing.length + r.extra.length === 0;
    if (this.json) process.stdout.write(`${JSON.stringify({ path: dir, batchId: id, match, ...r })}\n`);
    else {
      const lines = [
        ...r.differ.map((d) =>
          d.actual === null
            ? `MISMATCH  ${d.path}  expected ${d.expectedSize} bytes got ${d.actualSize}`
            : `MISMATCH  ${d.path}  expected ${d.expected} got ${d.actual}`,
        ),
        ...r.missing.map((p) => `MISSING   ${p}`),
        ...r.extra.map((p) => `EXTRA     ${p}`),
        match
          ? `OK  ${dir}  ${count(r.files, "file")} and ${count(r.dirs, "empty folder")} match ${id}`
          : `${dir} differs from ${id}: ${r.differ.length} differ, ${r.missing.length} missing, ${r.extra.length} extra`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    if (!match) return this.exit(EXIT.INTEGRITY);
  }
}
