/**
 * Every failure the CLI reports: a code, a one-line message, and a distinct exit code, so scripts can
 * tell "fix your input" from "the network is down" from "the file changed".
 */
export const EXIT = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  FILE: 3,
  SERVER_UNREACHABLE: 4,
  AUTH: 5,
  REJECTED: 6,
  NETWORK: 7,
  DISK: 8,
  INTEGRITY: 9,
  NOT_FOUND: 10,
  EXISTS: 11,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override name = "CliError";
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
    /** Whether trying again may help (network, throttling, 5xx). */
    readonly retryable = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export const isCliError = (e: unknown): e is CliError => e instanceof CliError;

/** Local file-system failures, in words. */
export function fileError(err: unknown, path: string): CliError {
  const code = (err as { code?: string } | undefined)?.code ?? "";
  switch (code) {
    case "ENOENT":
      return new CliError("FILE_NOT_FOUND", `No such file: ${path}`, EXIT.FILE);
    case "EACCES":
    case "EPERM":
      return new CliError("FILE_UNREADABLE", `Cannot read ${path}: permission denied`, EXIT.FILE);
    case "EISDIR":
      return new CliError("FILE_IS_DIRECTORY", `${path} is a directory, not a file`, EXIT.FILE);
    case "ENOSPC":
      return new CliError("DISK_FULL", `No space left on the disk while writing ${path}`, EXIT.DISK);
    case "EIO":
      return new CliError("DISK_ERROR", `The disk failed while reading ${path}`, EXIT.DISK);
    default:
      return new CliError(
        "FILE_ERROR",
        `Cannot use ${path}: ${err instanceof Error ? err.message : String(err)}`,
        EXIT.FILE,
      );
  }
}
