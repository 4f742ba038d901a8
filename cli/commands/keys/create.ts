import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.js";

export default class KeysCreate extends BaseCommand {
  static override description =
    `Create an API key (needs an admin key). The token is printed once, on the first line; the server keeps only its hash

A user key can send, receive, list and share files; an admin key can also manage keys.`;
  static override examples = [
    "<%= config.bin %> keys create laptop",
    "<%= config.bin %> keys create ops --role admin",
    "<%= config.bin %> keys create ci --json",
  ];
  static override args = {
    name: Args.string({ description: "What the key is for (shown in keys list)", required: true }),
  };
  static override flags = {
    role: Flags.string({ description: "user or admin", options: ["user", "admin"], default: "user" }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(KeysCreate);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const key = await this.api(this.clientConfig(flags)).createKey({
      name: args.name,
      role: flags.role === "admin" ? "admin" : "user",
    });
    if (this.json) return void process.stdout.write(`${JSON.stringify(key)}\n`);
    process.stdout.write(
      `${[
        key.token,
        `  key id  ${key.keyId}`,
        `  name    ${key.name}`,
        `  role    ${key.role}`,
        "The token is shown only now. Use it with `sfts login`, `sfts config set token`, or SFTS_TOKEN.",
      ].join("\n")}\n`,
    );
  }
}
