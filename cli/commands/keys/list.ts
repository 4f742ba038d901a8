import { BaseCommand } from "../../base-command.js";

const utc = (iso: string) => `${new Date(iso).toISOString().replace("T", " ").slice(0, 19)} UTC`;

export default class KeysList extends BaseCommand {
  static override description =
    "List API keys, newest first, with role and state (needs an admin key; tokens are never shown)";
  static override examples = ["<%= config.bin %> keys list", "<%= config.bin %> keys list --json"];

  async run(): Promise<void> {
    const { flags } = await this.parse(KeysList);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const { items } = await this.api(this.clientConfig(flags)).listKeys();
    if (this.json) return void process.stdout.write(`${JSON.stringify(items)}\n`);
    if (items.length === 0)
      return void process.stdout.write("No API keys made with `sfts keys create` yet.\n");
    const rows = items.map((k) => [
      k.keyId,
      k.name,
      k.role,
      utc(k.createdAt),
      k.revokedAt ? `revoked ${utc(k.revokedAt)}` : "active",
    ]);
    const head = ["KEY ID", "NAME", "ROLE", "CREATED", "STATE"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const fmt = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd();
    process.stdout.write(`${[fmt(head), ...rows.map(fmt)].join("\n")}\n`);
  }
}
