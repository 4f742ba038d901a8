/** Runs the built `sfts` CLI as a real process, as a user would, collecting its --json events. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SendEvent } from "../../cli/engine/events.js";
import { repoRoot } from "./build.js";
import type { StackInfo } from "./stack.js";

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: SendEvent[];
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
}

/** A private home for the CLI: its own config and state (journal, logs), pointed at a stack. */
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
  const child = spawn(process.execPath, [join(repoRoot, "bin", "run.js"), ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd !== undefined && { cwd }),
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  const events: SendEvent[] = [];
  child.stdout?.on("data", (d: Buffer) => {
    const text = d.toString();
    stdout += text;
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        const e = JSON.parse(line) as SendEvent;
        events.push(e);
        onEvent?.(e, child);
      } catch {
        // not an event line
      }
    }
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, events })),
  );
  return { child, done };
}

export const ofType = <T extends SendEvent["type"]>(events: SendEvent[], type: T) =>
  events.filter((e): e is Extract<SendEvent, { type: T }> => e.type === type);
