import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../harness/cli-process.js";
import { writeRandomFile } from "../../harness/files.js";
import { MiB } from "../helpers/api.js";
import { cliEnv } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "sfts-send-pty-"));
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs a shell command in a pseudo-terminal (util-linux `script`), stdout and stderr both on it. */
function inTerminal(
  command: string,
  env: Record<string, string>,
): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve) => {
    const child = spawn("script", ["-qfec", `stty cols 240 rows 40; ${command}`, "/dev/null"], {
      env: { ...env, TERM: "xterm-256color" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("close", (code) => resolve({ code, screen: out }));
  });
}

/** What a person sees: escape sequences gone, carriage-return redraws resolved to their last text. */
function visibleLines(raw: string): string[] {
  const plain = raw
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what is stripped
    .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: as above
    .replace(/\u001b[()][A-Z0-9]/g, "");
  return plain
    .split("\n")
    .map((l) => l.split("\r").filter(Boolean).pop() ?? "")
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
}

describe("sfts send on a terminal", () => {
  it("ends showing the transfer id and SHA-256 (the bars' last lines are not lost)", async () => {
    const file = join(dir, "on-a-tty.bin");
    const sha = await writeRandomFile(file, 12 * MiB);
    const env = await cliEnv(stack);
    const cli = `${quote(process.execPath)} ${quote(join(repoRoot, "bin", "run.js"))}`;
    const r = await inTerminal(`${cli} send ${quote(file)} --limit-rate 16MiB/s`, env);
    expect(r.code).toBe(0);
    const lines = visibleLines(r.screen);
    const last = lines.at(-1) ?? "";
    expect(last).toMatch(/tr_[0-9a-z]{26}/);
    expect(last).toContain(`sha256 ${sha}`);
    expect(last).toMatch(/batch bt_[0-9a-z]{26}/);
    // The bar was drawn on the way (this was a terminal), and finished.
    expect(lines.some((l) => /on-a-tty\.bin\s+\|/.test(l))).toBe(true);
    expect(r.screen).not.toMatch(/\n\s+at /);
  });
});
