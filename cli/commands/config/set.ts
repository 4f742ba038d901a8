import { Args } from "@oclif/core";
import { BaseCommand } from "../../base-command.js";
import { checkServer, checkToken, writeFileConfig } from "../../engine/config-store.js";

export default class ConfigSet extends BaseCommand {
  static override description =
    `Save the coordinator's address or an API token in the config file ($XDG_CONFIG_HOME/sfts/config.json, mode 0600)

Flags and SFTS_SERVER / SFTS_TOKEN still win over the file. \`sfts login\` sets both and checks them.`;
  static override examples = [
    "<%= config.bin %> config set server https://abc123.execute-api.eu-west-1.amazonaws.com",
    "<%= config.bin %> config set token sfts_…",
  ];
  static override args = {
    key: Args.string({ description: "What to set", options: ["server", "token"], required: true }),
    value: Args.string({ description: "The URL, or the token", required: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ConfigSet);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const change =
      args.key === "server" ? { server: checkServer(args.value) } : { token: checkToken(args.value) };
    const path = writeFileConfig(change);
    if (this.json) process.stdout.write(`${JSON.stringify({ set: args.key, file: path })}\n`);
    else
      process.stdout.write(
        `Saved ${args.key === "server" ? `server ${change.server}` : "the token"} in ${path}\n`,
      );
  }
}
