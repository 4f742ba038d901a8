/**
 * Where the CLI's settings come from, first match wins: flags, environment (SFTS_SERVER, SFTS_TOKEN,
 * SFTS_MAX_RETRIES, SFTS_CHUNK_SIZE, SFTS_TIMEOUT), the config file ($XDG_CONFIG_HOME/sfts/config.json),
 * then the local stack `npm start` left in $XDG_STATE_HOME/sfts/local-stack.json, then the defaults.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { CliError, EXIT } from "./errors.js";
import { configDir, type LocalStackInfo, localStackFile } from "./paths.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import { parseSize, type UnitError } from "./units.js";

export const DEFAULT_SERVER = "http://127.0.0.1:5000";

const FileConfig = z
  .object({
    server: z.url().optional(),
    token: z.string().min(1).optional(),
    maxRetries: z.number().int().min(0).max(1000).optional(),
    chunkSize: z.union([z.number().int().positive(), z.string()]).optional(),
    timeout: z.number().positive().optional(),
  })
  .strict();
export type FileConfig = z.infer<typeof FileConfig>;

export interface ClientConfig {
  server: string;
  token: string | undefined;
  retry: RetryPolicy;
  chunkSize: number | undefined;
  timeoutMs: number;
  /** Where server and token came from, for messages. */
  from: { server: string; token: string };
}

export interface ConfigFlags {
  server?: string | undefined;
  token?: string | undefined;
  "max-retries"?: number | undefined;
  "chunk-size"?: string | undefined;
  timeout?: number | undefined;
}

export const configFile = (env: NodeJS.ProcessEnv = process.env) => join(configDir(env), "config.json");

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError("BAD_CONFIG", `Cannot read ${path}: ${(err as Error).message}`, EXIT.USAGE);
  }
}

export function readFileConfig(env: NodeJS.ProcessEnv = process.env): FileConfig {
  const path = configFile(env);
  const raw = readJson(path);
  if (raw === undefined) return {};
  const parsed = FileConfig.safeParse(raw);
  if (!parsed.success)
    throw new CliError(
      "BAD_CONFIG",
      `${path} is not a valid SFTS config: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      EXIT.USAGE,
    );
  return parsed.data;
}

function readLocalStack(env: NodeJS.ProcessEnv): LocalStackInfo | undefined {
  let raw: Partial<LocalStackInfo> | undefined;
  try {
    raw = readJson(localStackFile(env)) as Partial<LocalStackInfo> | undefined;
  } catch {
    return undefined; // only a default: a damaged file must not stop a command that names its server
  }
  return raw && typeof raw.server === "string" && typeof raw.token === "string"
    ? (raw as LocalStackInfo)
    : undefined;
}

function size(text: string | number | undefined, what: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (typeof text === "number") return text;
  try {
    return parseSize(text);
  } catch (err) {
    throw new CliError("USAGE", `${what}: ${(err as UnitError).message}`, EXIT.USAGE);
  }
}

function number(text: string | undefined, what: string, min: number): number | undefined {
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new CliError(
      "USAGE",
      `${what} must be a whole number of at least ${min}, not "${text}"`,
      EXIT.USAGE,
    );
  return n;
}

export function resolveClientConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const file = readFileConfig(env);
  const local = readLocalStack(env);
  let server: string;
  let serverFrom: string;
  if (flags.server) [server, serverFrom] = [flags.server, "--server"];
  else if (env.SFTS_SERVER) [server, serverFrom] = [env.SFTS_SERVER, "SFTS_SERVER"];
  else if (file.server) [server, serverFrom] = [file.server, configFile(env)];
  else if (local) [server, serverFrom] = [local.server, localStackFile(env)];
  else [server, serverFrom] = [DEFAULT_SERVER, "the default"];
  try {
    new URL(server);
  } catch {
    throw new CliError(
      "USAGE",
      `The server address "${server}" (from ${serverFrom}) is not a URL`,
      EXIT.USAGE,
    );
  }
  let token: string | undefined;
  let tokenFrom = "nowhere";
  if (flags.token) [token, tokenFrom] = [flags.token, "--token"];
  else if (env.SFTS_TOKEN) [token, tokenFrom] = [env.SFTS_TOKEN, "SFTS_TOKEN"];
  else if (file.token) [token, tokenFrom] = [file.token, configFile(env)];
  else if (local && sameServer(local.server, server)) [token, tokenFrom] = [local.token, localStackFile(env)];

  const maxRetries =
    flags["max-retries"] ?? number(env.SFTS_MAX_RETRIES, "SFTS_MAX_RETRIES", 0) ?? file.maxRetries;
  const timeoutSeconds = flags.timeout ?? number(env.SFTS_TIMEOUT, "SFTS_TIMEOUT", 1) ?? file.timeout ?? 60;
  return {
    server,
    token,
    retry: { ...DEFAULT_RETRY, ...(maxRetries !== undefined && { maxRetries }) },
    chunkSize:
      size(flags["chunk-size"], "--chunk-size") ??
      size(env.SFTS_CHUNK_SIZE, "SFTS_CHUNK_SIZE") ??
      size(file.chunkSize, `chunkSize in ${configFile(env)}`),
    timeoutMs: timeoutSeconds * 1000,
    from: { server: serverFrom, token: tokenFrom },
  };
}

function sameServer(a: string, b: string): boolean {
  try {
    const [x, y] = [new URL(a), new URL(b)];
    const host = (h: string) => (h === "localhost" ? "127.0.0.1" : h);
    return x.protocol === y.protocol && host(x.hostname) === host(y.hostname) && x.port === y.port;
  } catch {
    return false;
  }
}
