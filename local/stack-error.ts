/**
 * A failure of the local stack that a person can act on. It is shown without a stack trace:
 * one line of message, then an optional block of details (e.g. the last lines of a child's log),
 * then an optional hint line saying what to do about it.
 */
export class StackError extends Error {
  override readonly name = "StackError";
  readonly hint?: string | undefined;
  readonly details?: string | undefined;

  constructor(message: string, options: { hint?: string; details?: string; cause?: unknown } = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** The text to print for a StackError: message, indented details, and the hint. */
export function formatStackError(err: StackError): string {
  const lines = [err.message];
  if (err.details !== undefined && err.details.trim() !== "") {
    lines.push(
      ...err.details
        .trimEnd()
        .split("\n")
        .map((line) => `  | ${line}`),
    );
  }
  if (err.hint !== undefined) lines.push(`hint: ${err.hint}`);
  return lines.join("\n");
}
