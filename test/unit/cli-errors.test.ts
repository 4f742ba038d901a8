import { describe, expect, it } from "vitest";
import { CliError, EXIT, fileError, isCliError } from "../../cli/engine/errors.js";

const errno = (code: string, message = `${code}: something`) => Object.assign(new Error(message), { code });

describe("EXIT", () => {
  it("gives every kind of failure its own exit code", () => {
    // The codes scripts already rely on; new kinds may be added with new numbers.
    expect(EXIT).toMatchObject({
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
      INTERRUPTED: 130,
    });
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe("CliError", () => {
  it("carries a code, a message, an exit code, and is not retryable unless said so", () => {
    const e = new CliError("X", "went wrong", EXIT.NETWORK);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("CliError");
    expect(e.message).toBe("went wrong");
    expect(e.retryable).toBe(false);
    expect(e.retryAfterMs).toBeUndefined();
    const r = new CliError("THROTTLED", "slow down", EXIT.NETWORK, true, 2000);
    expect(r.retryable).toBe(true);
    expect(r.retryAfterMs).toBe(2000);
  });

  it("is recognised by isCliError, and nothing else is", () => {
    expect(isCliError(new CliError("X", "x", EXIT.UNEXPECTED))).toBe(true);
    for (const other of [new Error("x"), { code: "X", exitCode: 1 }, null, undefined, "x"])
      expect(isCliError(other)).toBe(false);
  });
});

describe("fileError", () => {
  it.each([
    ["ENOENT", "FILE_NOT_FOUND", EXIT.FILE, "No such file: /data/a.bin"],
    ["EACCES", "FILE_UNREADABLE", EXIT.FILE, "Cannot read /data/a.bin: permission denied"],
    ["EPERM", "FILE_UNREADABLE", EXIT.FILE, "Cannot read /data/a.bin: permission denied"],
    ["EISDIR", "FILE_IS_DIRECTORY", EXIT.FILE, "/data/a.bin is a directory, not a file"],
    ["ENOSPC", "DISK_FULL", EXIT.DISK, "No space left on the disk while writing /data/a.bin"],
    ["EIO", "DISK_ERROR", EXIT.DISK, "The disk failed while reading /data/a.bin"],
  ] as const)("maps %s to %s with exit code %d", (code, cliCode, exitCode, message) => {
    const e = fileError(errno(code), "/data/a.bin");
    expect(e).toBeInstanceOf(CliError);
    expect(e.code).toBe(cliCode);
    expect(e.exitCode).toBe(exitCode);
    expect(e.message).toBe(message);
    expect(e.retryable).toBe(false);
  });

  it("maps any other error to FILE_ERROR with its message", () => {
    const e = fileError(errno("EMFILE", "too many open files"), "/data/a.bin");
    expect(e.code).toBe("FILE_ERROR");
    expect(e.exitCode).toBe(EXIT.FILE);
    expect(e.message).toBe("Cannot use /data/a.bin: too many open files");
  });

  it("copes with things thrown that are not errors", () => {
    expect(fileError("boom", "/f").message).toBe("Cannot use /f: boom");
    expect(fileError(null, "/f").code).toBe("FILE_ERROR");
    expect(fileError(undefined, "/f").code).toBe("FILE_ERROR");
    expect(fileError({ code: "ENOENT" }, "/f").code).toBe("FILE_NOT_FOUND");
  });
});
