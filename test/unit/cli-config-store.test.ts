import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readFileConfig } from "../../cli/engine/config.js";
import { checkServer, checkToken, maskToken, writeFileConfig } from "../../cli/engine/config-store.js";

let home: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "sfts-config-store-"));
  env = { XDG_CONFIG_HOME: join(home, "config") };
});
afterEach(() => rm(home, { recursive: true, force: true }));

describe("writeFileConfig", () => {
  it("creates the file with mode 0600 (it holds a token) in a 0700 folder", async () => {
    const path = writeFileConfig({ server: "https://api.example", token: "sfts_abc" }, env);
    expect(path).toBe(join(home, "config", "sfts", "config.json"));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, "config", "sfts"))).mode & 0o777).toBe(0o700);
    expect(readFileConfig(env)).toEqual({ server: "https://api.example", token: "sfts_abc" });
  });

  it("keeps what the file already holds, and tightens a file that was readable by others", async () => {
    writeFileConfig({ maxRetries: 3 }, env);
    const path = writeFileConfig({ token: "sfts_new" }, env);
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ maxRetries: 3, token: "sfts_new" });
    await writeFile(path, JSON.stringify({ timeout: 9 }), { mode: 0o644 });
    writeFileConfig({ server: "http://127.0.0.1:5000" }, env);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(readFileConfig(env)).toEqual({ timeout: 9, server: "http://127.0.0.1:5000" });
  });
});

describe("checks", () => {
  it("accepts http(s) addresses and drops a trailing slash", () => {
    expect(checkServer(" https://abc.execute-api.eu-west-1.amazonaws.com/ ")).toBe(
      "https://abc.execute-api.eu-west-1.amazonaws.com",
    );
    expect(() => checkServer("ftp://x")).toThrow(/https/);
    expect(() => checkServer("not a url")).toThrow(/not a URL/);
    expect(() => checkServer("https://user:pw@x.example")).toThrow(/credentials/);
  });

  it("wants a token without spaces, and masks it for display", () => {
    expect(checkToken(" sfts_abc ")).toBe("sfts_abc");
    expect(() => checkToken("two words")).toThrow(/one word/);
    expect(maskToken("sfts_0123456789abcdef")).toBe("sfts_0123…");
    expect(maskToken("short")).toBe("…");
  });
});
