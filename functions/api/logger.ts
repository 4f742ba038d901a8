/** Structured JSON log lines (one object a line), with secrets kept out by construction: callers pass fields, never headers. */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const REDACT = /(sfts_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+|(X-Amz-Signature=)[0-9a-f]+|(\/s\/)[A-Za-z0-9_-]{8,}/g;

/** Masks API tokens and presigned signatures if one ever reaches a message. */
export const redact = (s: string): string =>
  s.replace(REDACT, (_m, tok, sig, share) => (tok ? `${tok}…` : sig ? `${sig}…` : `${share}…`));

const RANK: Record<LogLevel | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
export const LOG_LEVELS = Object.keys(RANK) as [LogLevel | "silent", ...(LogLevel | "silent")[]];

export function createLogger(
  write: (line: string) => void,
  base: Record<string, unknown> = {},
  minLevel: LogLevel | "silent" = "info",
): Logger {
  return {
    log(level, msg, fields) {
      if (RANK[level] < RANK[minLevel]) return;
      const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
      write(redact(line));
    },
    child(fields) {
      return createLogger(write, { ...base, ...fields }, minLevel);
    },
  };
}

export const silentLogger: Logger = { log() {}, child: () => silentLogger };
