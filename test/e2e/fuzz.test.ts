import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSchemathesis } from "../helpers/schemathesis.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const run = promisify(execFile);
let stack: TestStack;
let schemathesis: string;

beforeAll(async () => {
  [stack, schemathesis] = await Promise.all([startTestStack(), ensureSchemathesis()]);
}, 300_000);
afterAll(async () => {
  await stack?.cleanup();
});

/** Runs schemathesis against the stack's own OpenAPI document; resolves with its exit code and output. */
async function fuzz(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(
      schemathesis,
      [
        "run",
        `${stack.apiUrl}/openapi.json`,
        "--checks",
        "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
        "--max-examples",
        "15",
        "--workers",
        "2",
        "--seed",
        "20261129",
        "--no-color",
        ...args,
      ],
      { maxBuffer: 64 * 1024 * 1024, timeout: 240_000, env: { ...process.env, SCHEMATHESIS_HOOKS: "" } },
    );
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("schemathesis against /openapi.json", () => {
  it("finds no server error and no answer outside the documented schemas, with a valid token", async () => {
    const r = await fuzz(["-H", `Authorization: Bearer ${stack.token}`]);
    if (r.code !== 0) console.error(r.out.slice(-6000));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/No issues found|passed/);
  }, 300_000);

  it("and none without a token: every protected operation answers a documented 401", async () => {
    const r = await fuzz([]);
    if (r.code !== 0) console.error(r.out.slice(-6000));
    expect(r.code).toBe(0);
  }, 300_000);
});
