import { BaseCommand } from "../base-command.js";
import { ApiClient } from "../engine/api-client.js";
import { resolveClientConfig } from "../engine/config.js";
import { checkServer, checkToken, writeFileConfig } from "../engine/config-store.js";
import { CliError, EXIT } from "../engine/errors.js";
import { createPrompter } from "../engine/prompt.js";
import { DEFAULT_RETRY } from "../engine/retry.js";

export default class Login extends BaseCommand {
  static override description =
    `Point sfts at a coordinator: asks for its address and an API token, checks both with the server, and saves them in $XDG_CONFIG_HOME/sfts/config.json (mode 0600)

For a deployed stage the address is the \`api\` output of \`npx sst deploy\`. --server and --token answer the
questions in advance; answers can also be piped in, one per line.`;
  static override examples = [
    "<%= config.bin %> login",
    "<%= config.bin %> login --server https://abc123.execute-api.eu-west-1.amazonaws.com",
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(Login);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const current = resolveClientConfig({});
    const prompter = createPrompter();
    let server: string;
    let token: string;
    try {
      const serverAnswer =
        flags.server ?? (await prompter.ask("SFTS server URL", { default: current.server }));
      if (!serverAnswer) throw new CliError("USAGE", "No server address given", EXIT.USAGE);
      server = checkServer(serverAnswer);
      const tokenAnswer = flags.token ?? (await prompter.ask("API token", { hidden: true }));
      if (!tokenAnswer) throw new CliError("USAGE", "No API token given", EXIT.USAGE);
      token = checkToken(tokenAnswer);
    } finally {
      prompter.close();
    }
    // A wrong address should fail in seconds, not after the ten retries a transfer gets.
    const api = new ApiClient({
      server,
      token,
      timeoutMs: current.timeoutMs,
      retry: { ...DEFAULT_RETRY, maxRetries: 2 },
    });
    const key = await api.whoAmI();
    const path = writeFileConfig({ server, token });
    if (this.json)
      process.stdout.write(
        `${JSON.stringify({ server, keyId: key.keyId, name: key.name, role: key.role, file: path })}\n`,
      );
    else
      process.stdout.write(
        `Logged in to ${server} as "${key.name}" (${key.keyId}, ${key.role}). Saved in ${path}.\n`,
      );
  }
}
