/**
 * What every SFTS function shares: the Lambda runtime and how SST bundles the code (esbuild, one ESM file,
 * minified). scripts/build-lambda.mjs builds the same bundle for the tests; a unit test checks that the
 * two agree on the Node version.
 */

/** Node 22, the newest Lambda runtime SST 3.19.3 offers (the code also runs on Node 20 and 24). */
export const LAMBDA_RUNTIME = "nodejs22.x";
/** Graviton: about 20 % cheaper per GB-second than x86_64, and the code has no native parts. */
export const LAMBDA_ARCHITECTURE = "arm64";
/** The Node version of that runtime, as esbuild names it (scripts/build-lambda.mjs builds for it). */
export const NODE_TARGET = "node22";

/**
 * SST 3.19.3 bundles with its embedded esbuild (0.21.5) for target esnext whatever the runtime (its
 * `esbuild.target` option is not read); the code is ES2022, which Node 22 runs as written either way.
 */
export function nodejsOptions(): NonNullable<sst.aws.FunctionArgs["nodejs"]> {
  return { format: "esm", minify: true };
}
