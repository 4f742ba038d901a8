/**
 * Runs the built `sfts` CLI as a real process, as a user would (optionally through a shaped link, see
 * link.ts), collecting its `--json` events as they arrive.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import type { SendEvent } from "../cli/engine/events.js";

/** The repository root, from harness/ in the sources or dist/harness/ when compiled. */
export const repoRoot = resolve(
  import.meta.dirname,
  import.meta.dirname.includes(`${join("dist", "harness")}`) ? "../.." : "..",
);

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

export interface CliSpawnOptions {
  env: Record<string, string>;
  onEvent?: ((e: SendEvent, child: ChildProcess) => void) | undefined;
  cwd?: string | undefined;
  /** Turns the node argv into the one to spawn (a link runs it inside its namespace). */
  wrap?: ((argv: readonly string[]) => string[]) | undefined;
}

export function spawnCli(args: readonly string[], opts: CliSpawnOptions): CliRun {
  const argv = [process.execPath, join(repoRoot, "bin", "run.js"), ...args];
  const [command, ...rest] = opts.wrap ? opts.wrap(argv) : argv;
  const child = spawn(command ?? process.execPath, rest, {
    env: opts.env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(opts.cwd !== undefined && { cwd: opts.cwd }),
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
        opts.onEvent?.(e, child);
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
