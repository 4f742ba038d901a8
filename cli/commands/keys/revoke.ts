import { Args } from "@oclif/core";
import { BaseCommand } from "../../base-command.js";

export default class KeysRevoke extends BaseCommand {
  static override description =
    `Revoke an API key (needs an admin key): it stops working within 30 seconds everywhere

You cannot revoke the key you are using; revoke it with another admin key.`;
  static override examples = ["<%= config.bin %> keys revoke key_0a1b2c3d4e5f6g7h"];
  static override args = {
    keyId: Args.string({ description: "The key's id (key_…, from keys list)", required: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(KeysRevoke);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const key = await this.api(this.clientConfig(flags)).revokeKey(args.keyId);
    if (this.json) return void process.stdout.write(`${JSON.stringify(key)}\n`);
    process.stdout.write(`Revoked ${key.keyId} ("${key.name}", ${key.role}).\n`);
  }
}
