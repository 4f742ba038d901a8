import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

export const repoRoot = resolve(import.meta.dirname, "..", "..");

/** e2e tests run what users run: the compiled output. Built once before the e2e project starts. */
export default function setup() {
  execFileSync("npm", ["run", "build", "--silent"], { cwd: repoRoot, stdio: "inherit" });
}
