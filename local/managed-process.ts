/**
 * A child process of the local stack: output appended to a log file (written by the child itself,
 * so nothing is lost if we die), recorded in the pid registry while it runs, stopped with SIGTERM
 * then SIGKILL. Children still running when this process exits normally are SIGKILLed from an
 * `exit` handler; after a crash or SIGKILL of this process, `reapOrphans` clears them up on the
 * next start. Signals (Ctrl-C) are the caller's to trap: call `stop()` or `stopAllManaged()`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { readLogTail } from "./log-tail.js";
import { forgetProcess, recordProcess } from "./pid-registry.js";
import { StackError } from "./stack-error.js";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Byte offset in `logFile` where this run's output begins (the log is appended to across runs). */
  readonly logFrom: number;
  /** Resolves when the process has exited, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  /** The last lines this run wrote to its log. */
  logTail(lines?: number): Promise<string>;
  /** SIGTERM, SIGKILL after the grace period; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface SpawnManagedOptions {
  /** For messages and the registry ("versitygw"). */
  name: string;
  command: string;
  args: readonly string[];
  /** Appended to; parent folders are created. */
  logFile: string;
  cwd?: string;
  /** The child's whole environment (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** With `cmdMarker`, the pid is kept in `<stateDir>/pids.json` while the process runs. */
  stateDir?: string;
  /** A string in the child's command line that identifies it for `reapOrphans`. */
  cmdMarker?: string;
  /** Time between SIGTERM and SIGKILL in `stop()` (default 5 s). */
  stopGraceMs?: number;
}

const running = new Map<number, { handle: ManagedProcess; stateDir: string | undefined }>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Only synchronous work is possible here: no waiting for a graceful shutdown.
  process.on("exit", () => {
    for (const [pid, { handle, stateDir }] of running) {
      handle.child.kill("SIGKILL");
      if (stateDir !== undefined) {
        try {
          forgetProcess(stateDir, pid);
        } catch {
          // the next start reaps by pid and command line anyway
        }
      }
    }
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function openLog(logFile: string, header: string): { fd: number; logFrom: number } {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, "a");
  writeSync(fd, header);
  return { fd, logFrom: fstatSync(fd).size };
}

/** Starts `command` and resolves once it runs; a StackError when it cannot be started at all. */
export async function spawnManaged(options: SpawnManagedOptions): Promise<ManagedProcess> {
  const { name, command, args, logFile } = options;
  const { fd, logFrom } = openLog(
    logFile,
    `\n=== ${new Date().toISOString()} starting ${name}: ${[command, ...args].join(" ")}\n`,
  );
  let child: ChildProcess;
  try {
    child = spawn(command, [...args], {
      stdio: ["ignore", fd, fd],
      env: options.env ?? process.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    }).catch((err: unknown) => {
      const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
      const reason =
        code === "ENOENT" ? `${command} was not found` : err instanceof Error ? err.message : String(err);
      throw new StackError(`Could not start ${name}: ${reason}`, { cause: err });
    });
    // After the start, 'error' only reports a failed kill(); the exit is what counts.
    child.on("error", () => {});
    return manage(child, exited, options, logFrom);
  } finally {
    closeSync(fd);
  }
}

function manage(
  child: ChildProcess,
  exited: Promise<ExitInfo>,
  options: SpawnManagedOptions,
  logFrom: number,
): ManagedProcess {
  const pid = child.pid;
  if (pid === undefined) throw new StackError(`Could not start ${options.name}: no process id`);
  const { stateDir, cmdMarker } = options;
  const registered = stateDir !== undefined && cmdMarker !== undefined ? stateDir : undefined;
  if (registered !== undefined && cmdMarker !== undefined) {
    try {
      recordProcess(registered, { name: options.name, pid, cmdMarker });
    } catch (err) {
      child.kill("SIGKILL");
      throw new StackError(`Could not record the pid of ${options.name} in ${registered}`, { cause: err });
    }
  }
  // Registered before any stop() awaits `exited`, so the bookkeeping is done when stop() resolves.
  void exited.then(() => {
    running.delete(pid);
    if (registered === undefined) return;
    try {
      forgetProcess(registered, pid);
    } catch {
      // a stale entry is harmless: reapOrphans checks the pid's command line before it kills
    }
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!hasExited(child)) {
        child.kill("SIGTERM");
        const timer = new AbortController();
        const outcome = await Promise.race([
          exited,
          sleep(options.stopGraceMs ?? 5000, "timeout" as const, { signal: timer.signal }).catch(
            () => undefined,
          ),
        ]);
        timer.abort();
        if (outcome === "timeout") child.kill("SIGKILL");
      }
      await exited;
    })();
    return stopping;
  };

  const managed: ManagedProcess = {
    name: options.name,
    pid,
    child,
    logFile: options.logFile,
    logFrom,
    exited,
    logTail: (lines = 20) => readLogTail(options.logFile, logFrom, lines),
    stop,
  };
  if (!hasExited(child)) {
    installExitHandler();
    running.set(pid, { handle: managed, stateDir: registered });
  }
  return managed;
}

/** Stops every process started here that still runs, in parallel (e.g. from a SIGINT handler). */
export async function stopAllManaged(): Promise<void> {
  await Promise.all([...running.values()].map(({ handle }) => handle.stop()));
}
