#!/usr/bin/env node
// @ts-check
/**
 * Builds the Lambda bundles the way `sst deploy` builds a Node function (SST 3.19.3,
 * pkg/runtime/node/build.go): esbuild, one bundled ESM file (.mjs) for platform node, main fields
 * module then main, names kept, SST's banner (require, __filename and __dirname for ESM code), minified,
 * no source map, sharp and pg-native external. Target: the runtime's Node (infra/lambda.ts NODE_TARGET).
 * The AWS SDK is bundled, not taken from the runtime, so the bundle runs what the tests ran.
 *
 *   node scripts/build-lambda.mjs [outDir]      (default dist/lambda: api/lambda.mjs, janitor/janitor-lambda.mjs)
 */
import { stat } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const root = resolve(import.meta.dirname, "..");

/** The functions infra/ declares, by their handler files. */
export const LAMBDAS = {
  api: "functions/api/lambda.ts",
  janitor: "functions/api/janitor-lambda.ts",
};

/** Lambda runtime nodejs22.x (infra/lambda.ts LAMBDA_RUNTIME). */
export const NODE_TARGET = "node22";

const BANNER = [
  `import { createRequire as topLevelCreateRequire } from 'module';`,
  `const require = topLevelCreateRequire(import.meta.url);`,
  `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
  `const __filename = topLevelFileUrlToPath(import.meta.url)`,
  `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
].join("\n");

/**
 * @param {string} entry handler file, relative to the repository
 * @param {string} outfile
 * @returns {import("esbuild").BuildOptions}
 */
export function esbuildOptions(entry, outfile) {
  return {
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: NODE_TARGET,
    mainFields: ["module", "main"],
    keepNames: true,
    external: ["sharp", "pg-native"],
    banner: { js: BANNER },
    minify: true,
    sourcemap: false,
    metafile: true,
    logLevel: "warning",
  };
}

/**
 * @param {string} [outDir]
 * @returns {Promise<Record<keyof typeof LAMBDAS, string>>} the path of each built handler file
 */
export async function buildLambdas(outDir = join(root, "dist", "lambda")) {
  /** @type {Record<string, string>} */
  const built = {};
  for (const [name, entry] of Object.entries(LAMBDAS)) {
    // SST names the file after the handler's file: functions/api/lambda.ts → lambda.mjs (handler lambda.handler).
    const outfile = join(outDir, name, `${basename(entry, extname(entry))}.mjs`);
    await esbuild.build(esbuildOptions(entry, outfile));
    built[name] = outfile;
  }
  return /** @type {Record<keyof typeof LAMBDAS, string>} */ (built);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await buildLambdas(process.argv[2] ? resolve(process.argv[2]) : undefined);
  for (const [name, file] of Object.entries(built))
    process.stdout.write(`${name}: ${file} (${((await stat(file)).size / 1024).toFixed(0)} KiB)\n`);
}
