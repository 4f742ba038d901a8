import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type ClientConfig,
  type ConfigFlags,
  configFile,
  DEFAULT_SERVER,
  readFileConfig,
  resolveClientConfig,
} from "../../cli/engine/config.js";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import { localStackFile } from "../../cli/engine/paths.js";
import { DEFAULT_RETRY } from "../../cli/engine/retry.js";

let root: string;
let env: Record<string, string>;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "sfts-cli-config-"));
  env = {
    HOME: join(root, "home"),
    XDG_CONFIG_HOME: join(root, "config"),
    XDG_STATE_HOME: join(root, "state"),
  };
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function writeConfig(content: unknown): string {
  const file = join(env.XDG_CONFIG_HOME!, "sfts", "config.json");
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

function writeLocalStack(content: unknown): string {
  const file = join(env.XDG_STATE_HOME!, "sfts", "local-stack.json");
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

const stack = (server: string, token = "sfts_local") => ({
  server,
  token,
  startedAt: "2025-01-01T00:00:00.000Z",
  pid: 1,
});

/** Runs resolveClientConfig and returns the CliError it throws. */
function configError(flags: ConfigFlags): CliError {
  try {
    resolveClientConfig(flags, env);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error("expected a CliError, but resolveClientConfig returned");
}

describe("resolveClientConfig: defaults", () => {
  it("talks to the default local address with no token when nothing is set", () => {
    const c = resolveClientConfig({}, env);
    const expected: ClientConfig = {
      server: DEFAULT_SERVER,
      token: undefined,
      retry: DEFAULT_RETRY,
      chunkSize: undefined,
      timeoutMs: 60_000,
      from: { server: "the default", token: "nowhere" },
    };
    expect(c).toEqual(expected);
    expect(DEFAULT_SERVER).toBe("http://127.0.0.1:5000");
  });

  it("puts the files under XDG_CONFIG_HOME and XDG_STATE_HOME", () => {
    expect(configFile(env)).toBe(join(root, "config", "sfts", "config.json"));
    expect(localStackFile(env)).toBe(join(root, "state", "sfts", "local-stack.json"));
  });
});

describe("resolveClientConfig: precedence", () => {
  beforeEach(() => {
    writeConfig({
      server: "https://file.example",
      token: "file-token",
      maxRetries: 3,
      chunkSize: "16MiB",
      timeout: 30,
    });
    writeLocalStack(stack("http://127.0.0.1:5000", "stack-token"));
  });

  it("takes flags over everything", () => {
    const c = resolveClientConfig(
      {
        server: "https://flag.example",
        token: "flag-token",
        "max-retries": 1,
        "chunk-size": "8MiB",
        timeout: 5,
      },
      {
        ...env,
        SFTS_SERVER: "https://env.example",
        SFTS_TOKEN: "env-token",
        SFTS_MAX_RETRIES: "2",
        SFTS_CHUNK_SIZE: "32MiB",
        SFTS_TIMEOUT: "10",
      },
    );
    expect(c.server).toBe("https://flag.example");
    expect(c.token).toBe("flag-token");
    expect(c.retry.maxRetries).toBe(1);
    expect(c.chunkSize).toBe(8 * 1024 * 1024);
    expect(c.timeoutMs).toBe(5_000);
    expect(c.from).toEqual({ server: "--server", token: "--token" });
  });

  it("takes the environment over the config file", () => {
    const c = resolveClientConfig(
      {},
      {
        ...env,
        SFTS_SERVER: "https://env.example",
        SFTS_TOKEN: "env-token",
        SFTS_MAX_RETRIES: "2",
        SFTS_CHUNK_SIZE: "32MiB",
        SFTS_TIMEOUT: "10",
      },
    );
    expect(c.server).toBe("https://env.example");
    expect(c.token).toBe("env-token");
    expect(c.retry).toEqual({ ...DEFAULT_RETRY, maxRetries: 2 });
    expect(c.chunkSize).toBe(32 * 1024 * 1024);
    expect(c.timeoutMs).toBe(10_000);
    expect(c.from).toEqual({ server: "SFTS_SERVER", token: "SFTS_TOKEN" });
  });

  it("takes the config file over the local stack", () => {
    const c = resolveClientConfig({}, env);
    expect(c.server).toBe("https://file.example");
    expect(c.token).toBe("file-token");
    expect(c.retry.maxRetries).toBe(3);
    expect(c.chunkSize).toBe(16 * 1024 * 1024);
    expect(c.timeoutMs).toBe(30_000);
    expect(c.from).toEqual({ server: configFile(env), token: configFile(env) });
  });

  it("mixes sources field by field", () => {
    const c = resolveClientConfig({ "max-retries": 0 }, { ...env, SFTS_SERVER: "https://env.example" });
    expect(c.server).toBe("https://env.example");
    expect(c.token).toBe("file-token");
    expect(c.retry.maxRetries).toBe(0);
    expect(c.chunkSize).toBe(16 * 1024 * 1024);
  });

  it("treats empty flags and empty variables as unset", () => {
    const c = resolveClientConfig(
      { server: "", token: "", "chunk-size": "" },
      {
        ...env,
        SFTS_SERVER: "",
        SFTS_TOKEN: "",
        SFTS_MAX_RETRIES: "",
        SFTS_CHUNK_SIZE: "",
        SFTS_TIMEOUT: "",
      },
    );
    expect(c.server).toBe("https://file.example");
    expect(c.token).toBe("file-token");
    expect(c.retry.maxRetries).toBe(3);
    expect(c.chunkSize).toBe(16 * 1024 * 1024);
    expect(c.timeoutMs).toBe(30_000);
  });
});

describe("resolveClientConfig: the local stack", () => {
  it("uses the local stack's address and token when nothing else is set", () => {
    const file = writeLocalStack(stack("http://127.0.0.1:5123", "stack-token"));
    const c = resolveClientConfig({}, env);
    expect(c.server).toBe("http://127.0.0.1:5123");
    expect(c.token).toBe("stack-token");
    expect(c.from).toEqual({ server: file, token: file });
  });

  it("uses its token for the same server, counting localhost and 127.0.0.1 as one", () => {
    writeLocalStack(stack("http://127.0.0.1:5000", "stack-token"));
    for (const server of ["http://127.0.0.1:5000", "http://localhost:5000", "http://localhost:5000/"]) {
      expect(resolveClientConfig({ server }, env).token).toBe("stack-token");
    }
    writeLocalStack(stack("http://localhost:5000", "stack-token"));
    expect(resolveClientConfig({ server: "http://127.0.0.1:5000" }, env).token).toBe("stack-token");
  });

  it("never sends its token to another server", () => {
    writeLocalStack(stack("http://127.0.0.1:5000", "stack-token"));
    for (const server of [
      "https://sfts.example.com",
      "http://127.0.0.1:5001",
      "https://127.0.0.1:5000",
      "http://10.0.0.1:5000",
    ]) {
      const c = resolveClientConfig({ server }, env);
      expect(c.token).toBeUndefined();
      expect(c.from.token).toBe("nowhere");
    }
    writeConfig({ server: "https://file.example" });
    expect(resolveClientConfig({}, env).token).toBeUndefined();
    expect(resolveClientConfig({}, { ...env, SFTS_SERVER: "http://example.com:5000" }).token).toBeUndefined();
  });

  it("ignores a local stack file without a server and a token", () => {
    writeLocalStack({ server: "http://127.0.0.1:5123" });
    const c = resolveClientConfig({}, env);
    expect(c.server).toBe(DEFAULT_SERVER);
    expect(c.token).toBeUndefined();
  });
});

describe("resolveClientConfig: bad settings", () => {
  it("refuses a config file that is not JSON, naming the file, with exit code 2", () => {
    const file = writeConfig("{ server: ");
    const err = configError({});
    expect(err.exitCode).toBe(EXIT.USAGE);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(file);
  });

  it("refuses a config file that breaks the schema, naming the file and the field", () => {
    for (const bad of [
      { server: "not a url" },
      { token: "" },
      { maxRetries: -1 },
      { maxRetries: 1.5 },
      { timeout: 0 },
      { chunkSize: 0 },
      { unknownKey: true },
      [],
    ]) {
      const file = writeConfig(bad);
      const err = configError({});
      expect(err.exitCode).toBe(EXIT.USAGE);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(/is not a valid SFTS config/);
    }
    writeConfig({ server: "not a url" });
    expect(configError({}).message).toMatch(/server/);
  });

  it("refuses a server that is not a URL, saying where it came from", () => {
    const flagErr = configError({ server: "127.0.0.1:5000 x" });
    expect(flagErr.exitCode).toBe(EXIT.USAGE);
    expect(flagErr.message).toContain("--server");
    env.SFTS_SERVER = "nonsense";
    const envErr = configError({});
    expect(envErr.exitCode).toBe(EXIT.USAGE);
    expect(envErr.message).toMatch(/"nonsense" \(from SFTS_SERVER\) is not a URL/);
  });

  it("ignores a damaged local stack file (it only supplies defaults) and falls back", () => {
    writeLocalStack("{");
    const c = resolveClientConfig({ token: "t" }, env);
    expect(c.server).toBe("http://127.0.0.1:5000");
    expect(c.from.server).toBe("the default");
  });

  it("refuses non-integer retries and a zero timeout from the environment", () => {
    env.SFTS_MAX_RETRIES = "1.5";
    expect(configError({}).exitCode).toBe(EXIT.USAGE);
    delete env.SFTS_MAX_RETRIES;
    env.SFTS_TIMEOUT = "0";
    expect(configError({}).message).toContain("SFTS_TIMEOUT");
  });

  it("refuses unreadable numbers and sizes in the environment", () => {
    for (const [name, value] of [
      ["SFTS_MAX_RETRIES", "many"],
      ["SFTS_MAX_RETRIES", "-1"],
      ["SFTS_TIMEOUT", "soon"],
      ["SFTS_TIMEOUT", "-5"],
      ["SFTS_CHUNK_SIZE", "8XB"],
    ] as const) {
      const err = (() => {
        try {
          resolveClientConfig({}, { ...env, [name]: value });
        } catch (e) {
          return e as CliError;
        }
        throw new Error(`${name}=${value} was accepted`);
      })();
      expect(err).toBeInstanceOf(CliError);
      expect(err.exitCode).toBe(EXIT.USAGE);
      expect(err.message).toContain(name);
    }
  });

  it("refuses an unreadable --chunk-size, naming the flag", () => {
    const err = configError({ "chunk-size": "huge" });
    expect(err.exitCode).toBe(EXIT.USAGE);
    expect(err.message).toMatch(/^--chunk-size: /);
  });
});

describe("resolveClientConfig: chunk size", () => {
  it("reads sizes with units from flags, environment and the config file", () => {
    expect(resolveClientConfig({ "chunk-size": "8MiB" }, env).chunkSize).toBe(8_388_608);
    expect(resolveClientConfig({}, { ...env, SFTS_CHUNK_SIZE: "10MB" }).chunkSize).toBe(10_000_000);
    writeConfig({ chunkSize: "512k" });
    expect(resolveClientConfig({}, env).chunkSize).toBe(524_288);
    writeConfig({ chunkSize: 6_000_000 });
    expect(resolveClientConfig({}, env).chunkSize).toBe(6_000_000);
  });

  it("names the config file when its chunk size is unreadable", () => {
    const file = writeConfig({ chunkSize: "big" });
    const err = configError({});
    expect(err.exitCode).toBe(EXIT.USAGE);
    expect(err.message).toContain(`chunkSize in ${file}`);
  });
});

describe("readFileConfig", () => {
  it("is empty when there is no config file", () => {
    expect(readFileConfig(env)).toEqual({});
  });

  it("returns the fields of a valid file", () => {
    writeConfig({ server: "https://x.example", token: "t", maxRetries: 0, chunkSize: "8MiB", timeout: 1.5 });
    expect(readFileConfig(env)).toEqual({
      server: "https://x.example",
      token: "t",
      maxRetries: 0,
      chunkSize: "8MiB",
      timeout: 1.5,
    });
  });
});
