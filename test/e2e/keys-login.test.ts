/**
 * `sfts keys`, `sfts config` and `sfts login` as a user runs them: the built CLI as a process, against a
 * local stack, with its own config folder. No SFTS_SERVER or SFTS_TOKEN unless a test sets them.
 */
import { spawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFreePort } from "../../local/ports.js";
import { repoRoot } from "../helpers/build.js";
import { cliEnv } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.cleanup();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs sfts with `input` on its standard input (answers to prompts, one per line). */
function sfts(args: string[], env: Record<string, string>, input = ""): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, "bin", "run.js"), ...args], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** A private home whose config comes only from what the test writes (no server or token in the env). */
async function bareEnv(): Promise<Record<string, string>> {
  const env = await cliEnv(stack);
  delete env.SFTS_SERVER;
  delete env.SFTS_TOKEN;
  return env;
}

const configOf = async (env: Record<string, string>) => {
  const path = join(env.XDG_CONFIG_HOME as string, "sfts", "config.json");
  return { path, json: JSON.parse(await readFile(path, "utf8")), mode: (await stat(path)).mode & 0o777 };
};

describe("sfts keys", () => {
  it("creates a key (token printed once, first line), lists it, revokes it", async () => {
    const env = await cliEnv(stack);
    const created = await sfts(["keys", "create", "laptop"], env);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const [token, ...rest] = created.stdout.trim().split("\n");
    expect(token).toMatch(/^sfts_[A-Za-z0-9_-]{40,}$/);
    const keyId = /key id\s+(key_[0-9a-z]{16})/.exec(rest.join("\n"))?.[1] ?? "";
    expect(rest.join("\n")).toMatch(/role\s+user/);

    const list = await sfts(["keys", "list"], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^KEY ID\s+NAME\s+ROLE\s+CREATED\s+STATE/);
    expect(list.stdout).toMatch(new RegExp(`${keyId}\\s+laptop\\s+user\\s+.*active`));
    expect(list.stdout).not.toContain(token as string);

    const revoked = await sfts(["keys", "revoke", keyId, "--json"], env);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ keyId, revokedAt: expect.any(String) });
    expect((await sfts(["keys", "list"], env)).stdout).toMatch(new RegExp(`${keyId}.*revoked`));
  });

  it("a user key may not manage keys: one line, exit 6", async () => {
    const env = await cliEnv(stack);
    const created = JSON.parse((await sfts(["keys", "create", "ci", "--json"], env)).stdout);
    const r = await sfts(["keys", "list"], { ...env, SFTS_TOKEN: created.token });
    expect(r.code).toBe(6);
    expect(r.stderr.trim()).toBe("sfts: Only an admin API key may manage API keys.");
  });

  it("revoking an unknown key exits 10; a bad role is a usage error (exit 2)", async () => {
    const env = await cliEnv(stack);
    expect((await sfts(["keys", "revoke", "key_0000000000000000"], env)).code).toBe(10);
    expect((await sfts(["keys", "create", "x", "--role", "root"], env)).code).toBe(2);
  });
});

describe("sfts config set", () => {
  it("saves server and token (mode 0600) and later commands use them with nothing else set", async () => {
    const env = await bareEnv();
    expect((await sfts(["config", "set", "server", `${stack.apiUrl}/`], env)).code).toBe(0);
    const setToken = await sfts(["config", "set", "token", stack.token], env);
    expect(setToken.code).toBe(0);
    expect(setToken.stdout).not.toContain(stack.token);
    const { json, mode } = await configOf(env);
    expect(json).toEqual({ server: stack.apiUrl, token: stack.token });
    expect(mode).toBe(0o600);
    const status = await sfts(["status", "--json"], env);
    expect(status.code).toBe(0);
    const shown = await sfts(["config", "show"], env);
    expect(shown.stdout).toContain(stack.apiUrl);
    expect(shown.stdout).not.toContain(stack.token);
  });

  it("refuses a key it does not know and a server that is not a URL", async () => {
    const env = await bareEnv();
    expect((await sfts(["config", "set", "colour", "blue"], env)).code).toBe(2);
    const bad = await sfts(["config", "set", "server", "ftp://x"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/https/);
  });
});

describe("sfts login", () => {
  it("asks for server and token, checks them with the server, and saves them", async () => {
    const env = await bareEnv();
    const r = await sfts(["login"], env, `${stack.apiUrl}\n${stack.token}\n`);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("SFTS server URL");
    expect(r.stderr).toContain("API token");
    expect(r.stderr).not.toContain(stack.token);
    expect(r.stdout).toMatch(/^Logged in to http:\/\/127\.0\.0\.1:\d+ as ".*" \(key_[0-9a-z]{16}, admin\)/);
    const { json, mode } = await configOf(env);
    expect(json).toEqual({ server: stack.apiUrl, token: stack.token });
    expect(mode).toBe(0o600);
    expect((await sfts(["keys", "list"], env)).code).toBe(0);
  });

  it("refuses a wrong token (exit 5) and saves nothing", async () => {
    const env = await bareEnv();
    const r = await sfts(["login", "--server", stack.apiUrl], env, "sfts_not-a-real-token\n");
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/refused the API token/);
    await expect(configOf(env)).rejects.toThrow(/ENOENT/);
  });

  it("says so when nothing answers at the address (exit 4)", async () => {
    const env = await bareEnv();
    const port = await getFreePort();
    const r = await sfts(["login", "--server", `http://127.0.0.1:${port}`, "--token", "sfts_x"], env);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/Cannot reach the SFTS server/);
  });
});
