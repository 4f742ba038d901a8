/**
 * schemathesis (from PyPI) as a test tool: installed once into a virtualenv in the git-ignored .cache
 * folder, pinned, like the versitygw build. It needs python3 with venv, which this kind of machine has.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./build.js";

const run = promisify(execFile);
export const SCHEMATHESIS_VERSION = "4.32.5";

export async function ensureSchemathesis(): Promise<string> {
  const venv = join(repoRoot, ".cache", `schemathesis-${SCHEMATHESIS_VERSION}`);
  const bin = join(venv, "bin", "schemathesis");
  if (existsSync(bin)) return bin;
  await run("python3", ["-m", "venv", venv]);
  await run(join(venv, "bin", "pip"), ["install", "--quiet", `schemathesis==${SCHEMATHESIS_VERSION}`], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return bin;
}
