/** Runs the built `sfts` CLI as a real process for tests (see harness/cli-process.ts), in a private home. */
import type { ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SendEvent } from "../../cli/engine/events.js";
import { type CliResult, type CliRun, ofType, spawnCli } from "../../harness/cli-process.js";
import type { StackInfo } from "./stack.js";

export async function cliEnv(stack: Pick<StackInfo, "apiUrl" | "token">, extra: Record<string, string> = {}) {
  const home = await mkdtemp(join(tmpdir(), "sfts-cli-home-"));
  return {
    ...process.env,
    HOME: home,
    XDG_STATE_HOME: join(home, "state"),
    XDG_CONFIG_HOME: join(home, "config"),
    SFTS_SERVER: stack.apiUrl,
    SFTS_TOKEN: stack.token,
    ...extra,
  } as Record<string, string>;
}

export function runCli(
  args: string[],
  env: Record<string, string>,
  onEvent?: (e: SendEvent, child: ChildProcess) => void,
  cwd?: string,
): CliRun {
  return spawnCli(args, { env, onEvent, cwd });
}

export { type CliResult, type CliRun, ofType };
