/**
 * Writes the CLI's config file ($XDG_CONFIG_HOME/sfts/config.json, read by config.ts): the change merged
 * into what the file already holds, checked, written atomically with mode 0600 — it holds an API token.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { configFile, type FileConfig, readFileConfig } from "./config.js";
import { CliError, EXIT, fileError } from "./errors.js";

/** A coordinator address: http(s), no credentials, no query; the trailing slash dropped. */
export function checkServer(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new CliError(
      "USAGE",
      `"${text}" is not a URL (e.g. https://abc123.execute-api.eu-west-1.amazonaws.com)`,
      EXIT.USAGE,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new CliError(
      "USAGE",
      `The server address must start with https:// or http://, not ${url.protocol}`,
      EXIT.USAGE,
    );
  if (url.username || url.password || url.search || url.hash)
    throw new CliError(
      "USAGE",
      "The server address must not carry credentials, a query or a fragment",
      EXIT.USAGE,
    );
  return url.href.replace(/\/+$/, "");
}

export function checkToken(text: string): string {
  const token = text.trim();
  if (token === "" || /\s/.test(token))
    throw new CliError("USAGE", "An API token is one word (sfts_…), without spaces", EXIT.USAGE);
  return token;
}

export function writeFileConfig(change: Partial<FileConfig>, env: NodeJS.ProcessEnv = process.env): string {
  const path = configFile(env);
  const next: FileConfig = { ...readFileConfig(env), ...change };
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600); // whatever the umask
    renameSync(tmp, path);
  } catch (err) {
    throw fileError(err, path);
  }
  return path;
}

/** A token as it may be shown: enough to recognise it, not enough to use it. */
export const maskToken = (token: string): string => (token.length <= 12 ? "…" : `${token.slice(0, 9)}…`);
