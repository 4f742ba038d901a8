import { ERRORS, type ErrorCode } from "../contract/errors.js";

/** A failure the API reports to its caller: code and status from the catalogue, message specific to the case. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERRORS[code].message);
    this.name = "AppError";
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;
