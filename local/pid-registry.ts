/**
 * What the local stack started, in `<stateDir>/pids.json`, so that a later start can stop what a
 * crashed or SIGKILLed parent left behind: DynamoDB Local's Java process outlives its parent and
 * keeps its port. An entry is only acted on while the pid still runs the recorded command (its
 * /proc cmdline contains `cmdMarker` and, on Linux, its start time matches), so a reused pid is
 * never killed. Plain synchronous file I/O: the file is tiny and a process `exit` handler must be
 * able to update it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface PidEntry {
  name: string;
  pid: number;
  /** A string the process's command line must contain for the entry to still be ours. */
  cmdMarker: string;
  /** Linux start time of the pid (clock ticks since boot), to tell a reused pid apart. */
  startTime?: number;
  /** The process that started it; while that one runs, the entry is not an orphan. */
  ownerPid: number;
  ownerStartTime?: number;
  startedAt: string;
}

const REGISTRY_FILE = "pids.json";

export function registryPath(stateDir: string): string {
  return join(stateDir, REGISTRY_FILE);
}

export function readRegistry(stateDir: string): PidEntry[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(registryPath(stateDir), "utf8"));
    return Array.isArray(parsed) ? parsed.filter(isPidEntry) : [];
  } catch {
    return [];
  }
}

function isPidEntry(value: unknown): value is PidEntry {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.name === "string" &&
    Number.isInteger(entry.pid) &&
    typeof entry.cmdMarker === "string" &&
    entry.cmdMarker !== "" &&
    Number.isInteger(entry.ownerPid)
  );
}

function writeRegistry(stateDir: string, entries: readonly PidEntry[]): void {
  const file = registryPath(stateDir);
  if (entries.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(stateDir, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(entries, null, 2)}\n`);
  renameSync(temp, file);
}

/** Records a process we started (pid must be running). */
export function recordProcess(
  stateDir: string,
  entry: { name: string; pid: number; cmdMarker: string },
): void {
  const startTime = processInfo(entry.pid)?.startTime;
  const ownerStartTime = processInfo(process.pid)?.startTime;
  const record: PidEntry = {
    ...entry,
    ...(startTime === undefined ? {} : { startTime }),
    ownerPid: process.pid,
    ...(ownerStartTime === undefined ? {} : { ownerStartTime }),
    startedAt: new Date().toISOString(),
  };
  writeRegistry(stateDir, [...readRegistry(stateDir).filter((e) => e.pid !== entry.pid), record]);
}

/** Drops the entry of a process that has exited or been stopped. */
export function forgetProcess(stateDir: string, pid: number): void {
  const entries = readRegistry(stateDir);
  const kept = entries.filter((e) => e.pid !== pid);
  if (kept.length !== entries.length) writeRegistry(stateDir, kept);
}

interface ProcessInfo {
  cmdline: string;
  /** Field 22 of /proc/<pid>/stat; undefined where there is no /proc. */
  startTime?: number;
  zombie: boolean;
}

const hasProc = existsSync("/proc/self/stat");

/** What the OS says about a live pid, or undefined when no such process runs (a zombie counts as gone). */
export function processInfo(pid: number): ProcessInfo | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (hasProc) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // The command name in field 2 may hold spaces and parentheses; fields 3.. follow the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const state = fields[0];
      const startTime = Number(fields[19]);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      const zombie = state === "Z" || state === "X";
      return { cmdline, zombie, ...(Number.isFinite(startTime) ? { startTime } : {}) };
    } catch {
      return undefined;
    }
  }
  try {
    const cmdline = execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" }).trim();
    return cmdline === "" ? undefined : { cmdline, zombie: false };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  const info = processInfo(pid);
  return info !== undefined && !info.zombie;
}

/** Whether `pid` still runs the process the entry describes (not a reused pid). */
function stillOurs(info: ProcessInfo, entry: { cmdMarker: string; startTime?: number }): boolean {
  if (!info.cmdline.includes(entry.cmdMarker)) return false;
  return entry.startTime === undefined || info.startTime === undefined || info.startTime === entry.startTime;
}

function ownerRuns(entry: PidEntry): boolean {
  const owner = processInfo(entry.ownerPid);
  if (owner === undefined || owner.zombie) return false;
  return entry.ownerStartTime === undefined || owner.startTime === entry.ownerStartTime;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the pid is gone (it need not be our child). */
export async function killPid(pid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (!isAlive(pid)) return;
  signal("SIGKILL");
  const killDeadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(50);
}

export interface ReapOptions {
  log?: (line: string) => void;
  /** How long an orphan gets between SIGTERM and SIGKILL (default 5 s). */
  graceMs?: number;
}

/**
 * Stops the processes recorded in `<stateDir>/pids.json` whose owner no longer runs, and clears
 * their entries. Entries whose pid is gone or now runs something else are cleared without a
 * signal; entries whose owner still runs (another live stack) are left alone. Returns the entries
 * it killed.
 */
export async function reapOrphans(stateDir: string, options: ReapOptions = {}): Promise<PidEntry[]> {
  const reaped: PidEntry[] = [];
  const kept = new Set<number>();
  const examined = readRegistry(stateDir);
  for (const entry of examined) {
    const info = processInfo(entry.pid);
    if (info === undefined || info.zombie || !stillOurs(info, entry)) continue;
    if (ownerRuns(entry)) {
      options.log?.(
        `left ${entry.name} (pid ${entry.pid}) alone: pid ${entry.ownerPid} that started it still runs`,
      );
      kept.add(entry.pid);
      continue;
    }
    options.log?.(`stopping ${entry.name} (pid ${entry.pid}) left over from an earlier run`);
    await killPid(entry.pid, options.graceMs ?? 5000);
    reaped.push(entry);
  }
  // Entries recorded while we waited for a kill are not ours to drop.
  const examinedPids = new Set(examined.map((e) => e.pid));
  writeRegistry(
    stateDir,
    readRegistry(stateDir).filter((e) => !examinedPids.has(e.pid) || kept.has(e.pid)),
  );
  return reaped;
}
