import type { ChildProcess } from "node:child_process";
import { type IncomingMessage, request } from "node:http";
import { connect, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { readLogTail } from "./log-tail.js";
import { StackError } from "./stack-error.js";

/** `host:port` for a URL or a listen flag; an IPv6 literal needs brackets there. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

/**
 * Fails with a StackError naming the port when nothing may listen on host:port. A probe server
 * listens and is closed again before this returns; `hint` should say how to choose another port.
 */
export async function assertPortFree(host: string, port: number, what: string, hint?: string): Promise<void> {
  const err = await tryListen(host, port);
  if (err !== undefined) {
    const code = errorCode(err);
    const where = `Port ${port} on ${host} (needed for ${what})`;
    if (code === "EADDRINUSE") {
      throw new StackError(`${where} is already in use`, {
        hint: hint ?? `stop what listens there (see \`ss -ltnp 'sport = :${port}'\`) or choose another port`,
      });
    }
    if (code === "EADDRNOTAVAIL") {
      throw new StackError(`${where} cannot be used: ${host} is not an address of this machine`, {
        ...(hint === undefined ? {} : { hint }),
      });
    }
    if (code === "EACCES") {
      throw new StackError(`${where} cannot be used: ports below 1024 need privileges`, {
        ...(hint === undefined ? {} : { hint }),
      });
    }
    throw new StackError(`${where} cannot be used: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** Listens on host:port and closes again; the listen error, if any. */
async function tryListen(host: string, port: number): Promise<unknown> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, () => resolve());
    });
  } catch (err) {
    return err;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return undefined;
}

/**
 * Like `assertPortFree` for a server that binds the wildcard address (all interfaces), which fails
 * when anything holds the port on any address: probes `::` (IPv4 and IPv6), or `0.0.0.0` where
 * the machine has no IPv6.
 */
export async function assertPortFreeEverywhere(port: number, what: string, hint?: string): Promise<void> {
  const code = errorCode(await tryListen("::", port));
  const host = code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL" ? "0.0.0.0" : "::";
  await assertPortFree(host, port, what, hint);
}

/** A port the OS reports free on `host` right now (another process may still take it before we do). */
export async function getFreePort(host = "127.0.0.1"): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error(`no TCP port from ${host}`);
  return address.port;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Who should answer, for messages ("versitygw"). */
  what?: string;
  /** When this child exits before the answer comes, fail at once instead of waiting for the timeout. */
  child?: ChildProcess;
  /** The child's log, whose tail goes into the error; `logFrom` is the byte offset where this run began. */
  logFile?: string;
  logFrom?: number;
  /** Pause between attempts (default 100 ms). */
  intervalMs?: number;
}

export interface WaitForHttpOptions extends WaitOptions {
  /** Whether a response means ready; default: any HTTP response at all. */
  isReady?: (res: IncomingMessage) => boolean;
  /** Default GET; DynamoDB answers a bare POST with 400, which is enough to know it is up. */
  method?: string;
}

type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function failure(message: string, options: WaitOptions, hint?: string): Promise<StackError> {
  const details =
    options.logFile === undefined ? "" : await readLogTail(options.logFile, options.logFrom ?? 0, 15);
  const seeLog = options.logFile === undefined ? undefined : `full log: ${options.logFile}`;
  const fullHint = [hint, seeLog].filter((part) => part !== undefined).join("; ");
  return new StackError(message, {
    ...(details === "" ? {} : { details }),
    ...(fullHint === "" ? {} : { hint: fullHint }),
  });
}

/**
 * Calls `probe` until it returns true. Rejects with a StackError when the deadline passes or as soon
 * as `options.child` exits (whichever comes first), with the tail of the child's log.
 */
async function pollUntil(
  probe: (budgetMs: number) => Promise<boolean>,
  target: string,
  options: WaitOptions,
) {
  const what = options.what ?? target;
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  const { child } = options;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    if (child === undefined) return;
    if (hasExited(child)) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    onExit = (code, signal) => resolve({ code, signal });
    child.once("exit", onExit);
  });
  const exitFailure = (exit: ExitInfo) =>
    failure(
      `${what} exited (${exit.signal ?? `code ${exit.code}`}) before it answered on ${target}`,
      options,
    );
  try {
    for (;;) {
      const budget = Math.max(50, Math.min(1000, deadline - Date.now()));
      const outcome = await Promise.race([
        probe(budget).then((ok) => ({ ok }) as const),
        exited.then((exit) => ({ exit }) as const),
      ]);
      if ("exit" in outcome) throw await exitFailure(outcome.exit);
      if (outcome.ok) {
        if (child !== undefined && hasExited(child)) {
          throw await exitFailure({ code: child.exitCode, signal: child.signalCode });
        }
        return;
      }
      if (Date.now() >= deadline) {
        throw await failure(
          `${what} did not answer on ${target} within ${Math.round(options.timeoutMs / 1000)} s`,
          options,
        );
      }
      const pause = await Promise.race([
        sleep(Math.min(interval, Math.max(0, deadline - Date.now()))).then(() => undefined),
        exited,
      ]);
      if (pause !== undefined) throw await exitFailure(pause);
    }
  } finally {
    if (child !== undefined && onExit !== undefined) child.off("exit", onExit);
  }
}

function tcpAnswers(host: string, port: number, budgetMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(budgetMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function httpAnswers(url: string, options: WaitForHttpOptions, budgetMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: options.method ?? "GET", agent: false, timeout: budgetMs }, (res) => {
      res.resume();
      resolve(options.isReady === undefined ? true : options.isReady(res));
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}

/** Resolves once a TCP connection to host:port succeeds. */
export function waitForPort(host: string, port: number, options: WaitOptions): Promise<void> {
  return pollUntil((budget) => tcpAnswers(host, port, budget), hostPort(host, port), options);
}

/** Resolves once `url` gives an HTTP response that `options.isReady` accepts (default: any). */
export function waitForHttp(url: string, options: WaitForHttpOptions): Promise<void> {
  return pollUntil((budget) => httpAnswers(url, options, budget), url, options);
}
