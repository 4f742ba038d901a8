/**
 * What every sfts command shares: the connection flags, and one place that turns any failure into a
 * one-line message and its exit code (a stack trace only with --verbose).
 */
import { Command, Flags } from "@oclif/core";
import { type ApiClient, apiClientFor } from "./engine/api-client.js";
import { type ClientConfig, resolveClientConfig } from "./engine/config.js";
import { CliError, EXIT } from "./engine/errors.js";
import { headProbe } from "./engine/head-probe.js";
import { LinkWatch } from "./engine/link-watch.js";

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    server: Flags.string({
      description: "Coordinator URL [env: SFTS_SERVER] (default: the local stack's)",
      helpGroup: "CONNECTION",
    }),
    token: Flags.string({ description: "API token [env: SFTS_TOKEN]", helpGroup: "CONNECTION" }),
    "max-retries": Flags.integer({
      description: "Retries per request or part [env: SFTS_MAX_RETRIES] (default 10)",
      min: 0,
      helpGroup: "CONNECTION",
    }),
    timeout: Flags.integer({
      description: "Seconds to wait for an API answer [env: SFTS_TIMEOUT] (default 60)",
      min: 1,
      helpGroup: "CONNECTION",
    }),
    json: Flags.boolean({ description: "Print JSON (one event per line for transfers)" }),
    verbose: Flags.boolean({ char: "v", description: "Say more, and show stack traces on errors" }),
  };

  protected verbose = false;
  protected json = false;

  protected clientConfig(flags: Record<string, unknown>): ClientConfig {
    const c = resolveClientConfig({
      server: flags.server as string | undefined,
      token: flags.token as string | undefined,
      "max-retries": flags["max-retries"] as number | undefined,
      timeout: flags.timeout as number | undefined,
      "chunk-size": flags["chunk-size"] as string | undefined,
    });
    if (!c.token)
      throw new CliError(
        "NO_TOKEN",
        `No API token for ${c.server}: pass --token, set SFTS_TOKEN, or run \`npm start\` for a local stack`,
        EXIT.AUTH,
      );
    // One link watch per command: retries after a lost link go again when it returns (retry.ts).
    return { ...c, retry: { ...c.retry, link: new LinkWatch({ probe: headProbe }) } };
  }

  protected api(c: ClientConfig, signal?: AbortSignal): ApiClient {
    return apiClientFor(c, signal);
  }

  /** Fails the command with a message and exit code, never a stack trace unless --verbose. */
  protected fail(err: CliError): never {
    if (this.json)
      process.stdout.write(
        `${JSON.stringify({ type: "error", code: err.code, exitCode: err.exitCode, message: err.message, time: new Date().toISOString() })}\n`,
      );
    else process.stderr.write(`sfts: ${err.message}\n`);
    if (this.verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return this.exit(err.exitCode);
  }

  protected override async catch(
    err: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<unknown> {
    if (err instanceof CliError) return this.fail(err);
    // oclif's own exits (this.exit) and flag parsing errors keep their codes and messages.
    if (err.oclif?.exit !== undefined) {
      if (err.oclif.exit === 0 || err.message.startsWith("EEXIT")) throw err;
      // oclif puts the reason of some parse errors (exactlyOne, exclusive) on the lines after the first.
      const lines = err.message.split("\n").filter((l) => l.trim() && !/See more help/.test(l));
      process.stderr.write(`sfts: ${lines.join("\n  ").trim()}\nSee more help with --help\n`);
      return this.exit(EXIT.USAGE);
    }
    return this.fail(new CliError("UNEXPECTED", `Unexpected error: ${err.message}`, EXIT.UNEXPECTED));
  }
}
