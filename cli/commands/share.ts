import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { parseDuration } from "../engine/duration.js";
import { CliError, EXIT } from "../engine/errors.js";
import { table } from "../engine/table.js";
import type { UnitError } from "../engine/units.js";

/** The token of a share link, from the link itself (…/s/{token}) or the bare token. */
function shareToken(text: string): string {
  let token = text.trim();
  if (/^https?:\/\//i.test(token)) {
    let path: string;
    try {
      path = new URL(token).pathname;
    } catch {
      path = "";
    }
    token = /\/s\/([^/]+)\/?$/.exec(path)?.[1] ?? "";
  }
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token))
    throw new CliError(
      "USAGE",
      `--revoke: "${text}" is neither a share link (…/s/TOKEN) nor its token`,
      EXIT.USAGE,
    );
  return token;
}

const utc = (iso: string) => `${new Date(iso).toISOString().replace("T", " ").slice(0, 19)} UTC`;

export default class Share extends BaseCommand {
  static override description =
    `Share a complete file, or a whole batch, by link: anyone with the link can download it (curl -L works), until it expires, is revoked, or has been used --max-downloads times

The link is shown once; the server keeps only its hash. A download cut short can be resumed (curl -L -C -)
without using up another download. A batch's link (sfts share bt_…) answers a JSON listing of the batch's
files, each with its own url (LINK/tr_…) that downloads it; every such download counts.`;
  static override examples = [
    "<%= config.bin %> share tr_01kb4x5q2m3n4p5r6s7t8v9w0x",
    "<%= config.bin %> share tr_01kb4x5q2m3n4p5r6s7t8v9w0x --expires 7d --max-downloads 3",
    "<%= config.bin %> share --list tr_01kb4x5q2m3n4p5r6s7t8v9w0x",
    "<%= config.bin %> share bt_01kb4x5q2m3n4p5r6s7t8v9w0x --expires 7d",
    "<%= config.bin %> share --revoke http://127.0.0.1:5000/s/TOKEN",
  ];
  static override args = {
    id: Args.string({ description: "The transfer id of a complete file (tr_…), or a batch id (bt_…)" }),
  };
  static override flags = {
    expires: Flags.string({
      description: "How long the link works: 90s, 30m, 24h, 7d, at most 30d (default 24h)",
    }),
    "max-downloads": Flags.integer({ description: "Downloads the link allows (default: no limit)", min: 1 }),
    list: Flags.boolean({
      description: "List the file's (or batch's) share links: downloads, expiry, state",
    }),
    revoke: Flags.string({ description: "Revoke this share link (the link, or its token)" }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Share);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const creating = flags.expires !== undefined || flags["max-downloads"] !== undefined;
    if (flags.revoke !== undefined && (args.id !== undefined || flags.list || creating))
      throw new CliError(
        "USAGE",
        "--revoke takes only the link; give no ID or other flags with it",
        EXIT.USAGE,
      );
    if (flags.list && args.id === undefined)
      throw new CliError("USAGE", "Name the transfer whose links to list: sfts share --list ID", EXIT.USAGE);
    if (flags.revoke === undefined && args.id === undefined)
      throw new CliError(
        "USAGE",
        "Name the transfer to share (sfts share ID), or use --revoke LINK",
        EXIT.USAGE,
      );
    if (flags.list && creating)
      throw new CliError("USAGE", "--list does not take --expires or --max-downloads", EXIT.USAGE);
    let expiresIn: number | undefined;
    if (flags.expires !== undefined)
      try {
        expiresIn = parseDuration(flags.expires);
      } catch (err) {
        throw new CliError("USAGE", `--expires: ${(err as UnitError).message}`, EXIT.USAGE);
      }
    const token = flags.revoke === undefined ? undefined : shareToken(flags.revoke);
    const api = this.api(this.clientConfig(flags));
    const print = (value: unknown, text: string) =>
      process.stdout.write(this.json ? `${JSON.stringify(value)}\n` : `${text}\n`);

    if (token !== undefined) {
      const s = await api.revokeShare(token);
      return void print(s, `Revoked ${s.shareId} (a link to ${s.fileId}); it no longer works.`);
    }
    const id = args.id as string;
    const batch = id.startsWith("bt_");
    if (flags.list) {
      const { items } = await (batch ? api.listBatchShares(id) : api.listShares(id));
      if (items.length === 0) return void print(items, `No share links for ${id}.`);
      const rows = items.map((s) => [
        s.shareId,
        utc(s.createdAt),
        utc(s.expiresAt),
        `${s.downloads}/${s.maxDownloads ?? "unlimited"}`,
        s.state,
      ]);
      const head = ["SHARE ID", "CREATED", "EXPIRES", "DOWNLOADS", "STATE"];
      return void print(items, table(head, rows));
    }
    const body = {
      ...(expiresIn !== undefined && { expiresIn }),
      ...(flags["max-downloads"] !== undefined && { maxDownloads: flags["max-downloads"] }),
    };
    const s = await (batch ? api.createBatchShare(id, body) : api.createShare(id, body));
    // The link alone on the first line, so that `sfts share ID | head -1` is the link.
    print(
      s,
      [
        s.url,
        `  expires    ${utc(s.expiresAt)}`,
        `  downloads  ${s.maxDownloads === undefined ? "unlimited" : `at most ${s.maxDownloads}`}${batch ? " (each file fetched counts one)" : ""}`,
        ...(batch ? ["  files      GET the link for the list of files, each with its url"] : []),
        `  share id   ${s.shareId} (revoke: sfts share --revoke LINK)`,
      ].join("\n"),
    );
  }
}
