/**
 * Builds a pinned Go program once into the repository's cache (versitygw, SeaweedFS): the binary goes to
 * `<cacheDir>/<folder>/<binaryName>`, where `folder` names the pinned version, so a pin bump builds anew.
 * The build runs in a temporary folder beside it that is renamed into place only when it succeeded, so an
 * interrupted build never counts; two starts building at once both succeed (the second keeps the first's
 * binary). The output of every Go command is appended to `<cacheDir>/<folder>-build.log`, and a heartbeat
 * line tells the person waiting that it still runs. A missing Go or a failed build is a StackError with
 * the log's tail and what Go version is needed.
 */
import { spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { access, chmod, constants, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { findExecutable } from "./find-executable.js";
import { readLogTail } from "./log-tail.js";
import { StackError } from "./stack-error.js";

export interface GoBuildSpec {
  /** For messages: "the S3 emulator versitygw v1.7.0". */
  what: string;
  /** For progress lines: "versitygw v1.7.0". */
  short: string;
  /** The cache folder that holds the binary, named after the pinned version. */
  folder: string;
  binaryName: string;
  /** "Go ≥ 1.25", from the program's go.mod. */
  goNeeded: string;
  /** How long a first build takes, for the progress line: "~1–2 min". */
  expected: string;
  /** The command the failure message names: "go install". */
  command: string;
  /**
   * Runs the Go commands; the binary must end up as `<outDir>/<binaryName>`. Returns the exit code of the
   * step that failed (or 0); `run` appends each command and its output to the build log.
   */
  build(ctx: GoBuildContext): Promise<number>;
}

export interface GoBuildContext {
  go: string;
  outDir: string;
  env: NodeJS.ProcessEnv;
  /** Runs one command, its output appended to the build log; `stdout` collects standard output instead. */
  run(
    args: readonly string[],
    options?: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: string[] },
  ): Promise<number>;
  /** Appends a line to the build log. */
  note(line: string): void;
}

export function goBinaryPath(cacheDir: string, spec: Pick<GoBuildSpec, "folder" | "binaryName">): string {
  return join(cacheDir, spec.folder, spec.binaryName);
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of the binary, built with Go first when the cache has none. */
export async function ensureGoBinary(
  cacheDir: string,
  spec: GoBuildSpec,
  log: (line: string) => void,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const binary = goBinaryPath(cacheDir, spec);
  if (await isExecutable(binary)) return binary;

  const env = options.env ?? process.env;
  const go = findExecutable("go", env);
  if (go === undefined) {
    throw new StackError(`Go is needed once to build ${spec.what}; no \`go\` on PATH`, {
      hint: `install ${spec.goNeeded} (https://go.dev/dl/) and start again, or run through .ci/run, which has it`,
    });
  }

  await mkdir(cacheDir, { recursive: true });
  const finalDir = join(cacheDir, spec.folder);
  const buildDir = await mkdtemp(`${finalDir}.building-`);
  const buildLog = join(cacheDir, `${spec.folder}-build.log`);
  log(`building ${spec.short} (once, ${spec.expected})…`);
  const started = Date.now();
  const heartbeat = setInterval(() => {
    log(`still building ${spec.short} (${Math.round((Date.now() - started) / 1000)} s)…`);
  }, 20_000);
  const out = createWriteStream(buildLog);
  try {
    const exit = await spec.build({
      go,
      outDir: buildDir,
      env,
      run: (args, runOptions = {}) => runLogged(go, args, out, { cwd: buildDir, env, ...runOptions }),
      note: (line) => out.write(`${line}\n`),
    });
    await new Promise<void>((resolve) => out.end(() => resolve()));
    if (exit !== 0 || !(await isExecutable(join(buildDir, spec.binaryName)))) {
      const tail = await readLogTail(buildLog, 0, 20);
      throw new StackError(`Building ${spec.short} with \`${spec.command}\` failed (exit ${exit})`, {
        details: tail,
        hint: `full output: ${buildLog}; the first build needs ${spec.goNeeded} and access to the Go module proxy (or a warm Go module cache)`,
      });
    }
    // Another start may have finished the same build meanwhile; its binary is as good as ours.
    if (!(await isExecutable(binary))) {
      await rm(finalDir, { recursive: true, force: true });
      await chmod(buildDir, 0o755); // mkdtemp made it private
      await rename(buildDir, finalDir).catch(async (err: unknown) => {
        if (!(await isExecutable(binary))) throw err;
      });
    }
    log(`built ${spec.short} in ${Math.round((Date.now() - started) / 1000)} s`);
    return binary;
  } finally {
    clearInterval(heartbeat);
    if (!out.writableEnded) out.end();
    await rm(buildDir, { recursive: true, force: true });
  }
}

function runLogged(
  go: string,
  args: readonly string[],
  out: WriteStream,
  options: { cwd: string; env: NodeJS.ProcessEnv; stdout?: string[] },
): Promise<number> {
  return new Promise((resolve, reject) => {
    out.write(`$ (cd ${options.cwd} && ${go} ${args.join(" ")})\n`);
    const child = spawn(go, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collected = options.stdout;
    if (collected === undefined) child.stdout.pipe(out, { end: false });
    else child.stdout.on("data", (chunk: Buffer) => collected.push(chunk.toString("utf8")));
    child.stderr.pipe(out, { end: false });
    child.once("error", (err) => {
      reject(new StackError(`Could not run ${go}: ${err.message}`, { cause: err }));
    });
    child.once("close", (code, signal) => {
      resolve(code ?? (signal === null ? 1 : 128));
    });
  });
}
