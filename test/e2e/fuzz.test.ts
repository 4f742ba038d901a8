import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/build.js";
import { ensureSchemathesis } from "../helpers/schemathesis.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import { type StateDigestServer, serveStateDigest } from "../helpers/state-digest.js";

const run = promisify(execFile);
let stack: TestStack;
let schemathesis: string;
let state: StateDigestServer;

beforeAll(async () => {
  [stack, schemathesis] = await Promise.all([startTestStack(), ensureSchemathesis()]);
  state = await serveStateDigest(stack);
}, 300_000);
afterAll(async () => {
  await state?.close();
  await stack?.cleanup();
});

/**
 * Runs schemathesis against the stack's own OpenAPI document; resolves with its exit code, its output,
 * and how many state digests its hooks asked for (none would mean the state check never ran).
 */
async function fuzz(args: string[]): Promise<{ code: number; out: string; digests: number }> {
  const before = state.requests();
  const done = (code: number, out: string) => ({ code, out, digests: state.requests() - before });
  try {
    const { stdout, stderr } = await run(
      schemathesis,
      [
        "run",
        `${stack.apiUrl}/openapi.json`,
        "--checks",
        "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance," +
          // From test/fuzz/state_hooks.py: a 4xx answer leaves the table and the bucket as they were.
          "rejected_request_changes_no_state",
        "--max-examples",
        "15",
        "--workers",
        "2",
        "--seed",
        "20261129",
        "--no-color",
        ...args,
      ],
      {
        maxBuffer: 64 * 1024 * 1024,
        timeout: 240_000,
        env: {
          ...process.env,
          SCHEMATHESIS_HOOKS: join(repoRoot, "test", "fuzz", "state_hooks.py"),
          SFTS_STATE_DIGEST_URL: state.url,
          // No __pycache__ beside the hooks in the working tree.
          PYTHONDONTWRITEBYTECODE: "1",
        },
      },
    );
    return done(0, stdout + stderr);
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return done(typeof e.code === "number" ? e.code : 1, `${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

describe("schemathesis against /openapi.json", () => {
  it("finds no server error, no answer outside the documented schemas and no refused request that changed state, with a valid token", async () => {
    const r = await fuzz(["-H", `Authorization: Bearer ${stack.token}`]);
    if (r.code !== 0) console.error(r.out.slice(-6000));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/No issues found|passed/);
    expect(r.digests).toBeGreaterThan(500);
  }, 300_000);

  it("and none without a token: every protected operation answers a documented 401, and changes nothing", async () => {
    const r = await fuzz([]);
    if (r.code !== 0) console.error(r.out.slice(-6000));
    expect(r.code).toBe(0);
    expect(r.digests).toBeGreaterThan(500);
  }, 300_000);
});
