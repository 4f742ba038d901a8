import type { TestProject } from "vitest/node";
import { type StackInfo, stackInfo, startTestStack } from "./stack.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/** One local stack for the integration project; test files reach it through inject("stack"). */
export default async function setup(project: TestProject) {
  const stack = await startTestStack();
  project.provide("stack", stackInfo(stack));
  return async () => {
    await stack.cleanup();
  };
}
