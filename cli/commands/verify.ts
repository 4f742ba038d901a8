import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { CliError, EXIT } from "../engine/errors.js";
import { hashFile, statFile } from "../engine/file-io.js";
import { formatBytes } from "../engine/units.js";

export default class Verify extends BaseCommand {
  static override description =
    `Check a local file against the SHA-256 the sender recorded, or against a given one

Exit code 0 when it matches, 9 when it does not.`;
  static override examples = [
    "<%= config.bin %> verify video.mov --id tr_01kb4x5q2m3n4p5r6s7t8v9w0x",
    "<%= config.bin %> verify video.mov --checksum 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  ];
  static override args = { path: Args.string({ description: "The local file to check", required: true }) };
  static override flags = {
    id: Flags.string({ description: "Compare with this transfer's SHA-256 and size (tr_…)" }),
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
}
