/**
 * The e2e projects' global setup: builds the S3 server of the project's SFTS_TEST_STORAGE into the
 * repository's cache before any test file runs. A first build of SeaweedFS takes minutes, longer than a
 * hook may wait; a global setup has no timeout. Later runs find the binary and return at once.
 */
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { LOCAL_S3_SERVERS } from "../../local/s3-servers.js";
import { repoRoot } from "./build.js";
import { projectStorage } from "./global-setup.js";

export default async function setup(project: TestProject) {
  await LOCAL_S3_SERVERS[projectStorage(project)].ensure(join(repoRoot, ".cache"), (line) =>
    process.stderr.write(`[storage] ${line}\n`),
  );
}
