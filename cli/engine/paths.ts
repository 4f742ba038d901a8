/**
 * Where SFTS keeps its files on a client machine (XDG Base Directory spec):
 * config in $XDG_CONFIG_HOME/sfts, state (journals, the local stack's address and token) in $XDG_STATE_HOME/sfts.
 */
import { homedir } from "node:os";
import { join } from "node:path";

type Env = Record<string, string | undefined>;

export function configDir(env: Env = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "sfts");
}

export function stateDir(env: Env = process.env): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state"), "sfts");
}

/** Written by `npm start`: the local stack's API address and development token, read by the CLI as defaults. */
export function localStackFile(env: Env = process.env): string {
  return join(stateDir(env), "local-stack.json");
}

export interface LocalStackInfo {
  server: string;
  token: string;
  startedAt: string;
  pid: number;
}
