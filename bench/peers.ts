/**
 * Where the upload benchmarks find the peer tools sfts is compared with, and the environment they run in
 * (no AWS_* or RCLONE_* variable of the user's leaks into a run).
 *   aws-pypi    the AWS CLI 1.x from PyPI: --aws-pypi-bin, else `pyenv which aws`, else `aws` on PATH
 *   aws-debian  Debian's AWS CLI 2.9, /usr/bin/aws unless told otherwise
 *   rclone      rclone on PATH
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The PyPI AWS CLI's real script (a pyenv shim resolved, so it runs the same inside a namespace). */
export async function findPypiAws(given?: string): Promise<string> {
  if (given) return given;
  const viaPyenv = await exec("pyenv", ["which", "aws"]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  if (viaPyenv) return viaPyenv;
  const onPath = await exec("sh", ["-c", "command -v aws"]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  return onPath || "aws";
}

/** The first line a command prints for its version, or undefined when it cannot run. */
export async function versionOf(
  argv: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  try {
    const [cmd, ...args] = argv;
    const { stdout, stderr } = await exec(cmd ?? "false", args, { env: env ?? process.env });
    return (stdout || stderr).trim().split("\n")[0];
  } catch {
    return undefined;
  }
}

/** This process's environment without AWS_* and RCLONE_* variables. */
export function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[1] !== undefined && !e[0].startsWith("AWS_") && !e[0].startsWith("RCLONE_"),
    ),
  );
}
