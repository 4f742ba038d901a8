import { BaseCommand } from "../../base-command.js";
import { resolveClientConfig } from "../../engine/config.js";
import { maskToken } from "../../engine/config-store.js";

export default class ConfigShow extends BaseCommand {
  static override description =
    "Show which server and token sfts would use, and where each comes from (the token is masked)";
  static override examples = ["<%= config.bin %> config show"];

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigShow);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const c = resolveClientConfig({ server: flags.server, token: flags.token });
    const token = c.token === undefined ? undefined : maskToken(c.token);
    if (this.json) {
      process.stdout.write(`${JSON.stringify({ server: c.server, token: token ?? null, from: c.from })}\n`);
      return;
    }
    process.stdout.write(
      `${[
        `server  ${c.server}  (from ${c.from.server})`,
        `token   ${token === undefined ? "none" : `${token}  (from ${c.from.token})`}`,
      ].join("\n")}\n`,
    );
  }
}
