/** Structured JSON log lines (one object a line), with secrets kept out by construction: callers pass fields, never headers. */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const REDACT = /(sfts_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+|(X-Amz-Signature=)[0-9a-f]+/g;

/** Masks API tokens and presigned signatures if one ever reaches a message. */
export const redact = (s: string): string =>
  s.replace(REDACT, (_m, tok, sig) => (tok ? `${tok}…` : `${sig}…`));

export function createLogger(write: (line: string) => void, base: Record<string, unknown> = {}): Logger {
  return {
    log(level, msg, fields) {
      const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
      write(redact(line));
    },
    child(fields) {
      return createLogger(write, { ...base, ...fields });
    },
  };
}

export const silentLogger: Logger = { log() {}, child: () => silentLogger };
