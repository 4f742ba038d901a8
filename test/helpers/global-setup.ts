/**
 * The integration project's global setup: one local stack per project (on the S3 server of the project's
 * SFTS_TEST_STORAGE, see vitest.config.ts), which test files reach through inject("stack"). It builds
 * the server on first use, here where no hook timeout applies.
 */
import type { TestProject } from "vitest/node";
import { testStorage } from "../../harness/local-stack.js";
import { type StackInfo, stackInfo, startTestStack } from "./stack.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export default async function setup(project: TestProject) {
  const stack = await startTestStack({ storage: projectStorage(project) });
  project.provide("stack", stackInfo(stack));
  return async () => {
    await stack.cleanup();
  };
}

/** The project's `test.env` reaches its workers, not this process: read it from the project. */
export function projectStorage(project: TestProject) {
  return testStorage({ ...process.env, ...project.config.env });
}
