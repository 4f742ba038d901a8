import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

export const repoRoot = resolve(import.meta.dirname, "..", "..");

/**
 * Builds the dashboard as users get it (web/dist). vitest sets NODE_ENV=test, with which Vite would
 * build an unminified page, so the build gets NODE_ENV=production.
 */
export function buildWebForProduction(): void {
  execFileSync("npm", ["run", "build:web", "--silent"], {
    cwd: repoRoot,
    stdio: "inherit",
    env: { ...process.env, NODE_ENV: "production" },
  });
}

/** e2e tests run what users run: the compiled output. Built once before the e2e project starts. */
export default function setup() {
  execFileSync("npm", ["run", "build", "--silent"], { cwd: repoRoot, stdio: "inherit" });
}
