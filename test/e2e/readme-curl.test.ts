import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/build.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const run = promisify(execFile);
let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "sfts-readme-"));
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function walkthrough(): Promise<string> {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const block = /<!-- curl-walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- curl-walkthrough:end -->/.exec(
    readme,
  );
  if (!block?.[1]) throw new Error("README has no curl walk-through block");
  return block[1];
}

describe("the README's curl walk-through", () => {
  it("runs as written against a fresh stack and ends with a verified download", async () => {
    const script = await walkthrough();
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
      cwd: dir,
      env: { ...process.env, API: stack.apiUrl, TOKEN: stack.token },
      maxBuffer: 10 * 1024 * 1024,
    });
    expect(stdout).toMatch(/^transfer tr_[0-9a-z]{26}$/m);
    expect(stdout).toContain('"recorded":"new"');
    expect(stdout).toMatch(/^\[\]$/m); // nothing missing
    expect(stdout).toMatch(/"status":"complete"/);
    expect(stdout).toMatch(/^downloaded and verified: [0-9a-f]{64}$/m);
    expect(stdout).toContain('{"status":"complete","deduplicated":true}');
    expect(stdout).toContain('"name":"demo.bin"');
    expect(stdout).toContain('"parts":[6291456,5243904]');
    expect(stdout).toMatch(/"status":"ok"/);
    expect(stdout).toMatch(/"status":"aborted"/);
  }, 60_000);
});
