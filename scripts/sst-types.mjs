#!/usr/bin/env node
// @ts-check
/**
 * Makes SST's own types for sst.config.ts and infra/ (.sst/platform/config.d.ts) without AWS or a download
 * beyond the npm registry: runs `sst install` (SST 3.19.3, from node_modules) with the bun binary that the
 * npm package `bun` ships. SST looks for bun at $XDG_CONFIG_HOME/sst/bin/bun, so a private, temporary
 * XDG_CONFIG_HOME points there; SST_SKIP_DEPENDENCY_CHECK stops it fetching bun and Pulumi itself.
 * Does nothing when .sst/platform is already installed for this SST version. `--force` installs again.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const modules = join(root, "node_modules");
const platform = join(root, ".sst", "platform");

/** @returns {string} */
function sstVersion() {
  return JSON.parse(readFileSync(join(modules, "sst", "package.json"), "utf8")).version;
}

/** @returns {boolean} */
function installed() {
  const version = join(platform, "version");
  return (
    existsSync(join(platform, "config.d.ts")) &&
    existsSync(join(platform, "node_modules", "@pulumi", "aws", "package.json")) &&
    existsSync(version) &&
    readFileSync(version, "utf8").trim() === sstVersion()
  );
}

if (!process.argv.includes("--force") && installed()) process.exit(0);

const bun = join(modules, "bun", "bin", "bun.exe");
const sst = join(modules, "sst", "bin", "sst.mjs");
if (!existsSync(bun)) {
  process.stderr.write(
    `sst-types: no bun binary at ${bun}; run npm install (the bun package's postinstall puts it there)\n`,
  );
  process.exit(1);
}
const home = mkdtempSync(join(tmpdir(), "sfts-sst-home-"));
try {
  mkdirSync(join(home, "sst", "bin"), { recursive: true });
  symlinkSync(bun, join(home, "sst", "bin", "bun"));
  process.stderr.write("sst-types: installing SST's platform types into .sst/platform (sst install)…\n");
  const r = spawnSync(process.execPath, [sst, "install"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      XDG_CONFIG_HOME: home,
      // `sst install` evaluates the app() part of sst.config.ts, which needs a stage; no resource is touched.
      SST_STAGE: process.env.SST_STAGE ?? "typecheck",
      SST_SKIP_DEPENDENCY_CHECK: "1",
      SST_TELEMETRY_DISABLED: "1",
    },
  });
  if (r.status !== 0 || !installed()) {
    process.stderr.write(`sst-types: sst install failed (exit ${r.status}); see .sst/log/sst.log\n`);
    process.exit(1);
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
