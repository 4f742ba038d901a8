/**
 * What every DynamoDB adapter of the table shares: the internal attributes stripped from items before
 * the core sees them, and the one translation of SDK failures into AppErrors.
 */
import { AppError } from "../core/errors.js";

/** The attributes transferItem and batch items add for the table's keys and indexes. */
export const INTERNAL_ATTRS = [
  "PK",
  "SK",
  "type",
  "listPk",
  "listSk",
  "statusPk",
  "openKey",
  "batchPk",
  "batchSk",
  "ttl",
];

export function strip<T>(item: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...item };
  for (const k of INTERNAL_ATTRS) delete out[k];
  return out as T;
}

/** Translates SDK failures at the edge: the core sees AppErrors only. */
export function dbError(err: unknown): never {
  if (err instanceof AppError) throw err;
  const name = err instanceof Error ? err.name : "";
  if (name === "ResourceNotFoundException")
    throw new AppError("DATABASE_UNAVAILABLE", "The transfers table does not exist; is the stack set up?");
  if (name === "ValidationException")
    throw new AppError("INVALID_INPUT", "The request could not be served as given.");
  throw new AppError("DATABASE_UNAVAILABLE", "The database did not answer; try again shortly.");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes a transfer's META item out of its batch's listing (index byBatch); fails its condition if not listed. */
export const detachCommand = (table: string, transferId: string, now: string) => ({
  TableName: table,
  Key: { PK: `T#${transferId}`, SK: "META" },
  UpdateExpression: "SET updatedAt = :now REMOVE batchPk, batchSk",
  ConditionExpression: "attribute_exists(batchPk)",
  ExpressionAttributeValues: { ":now": now },
});
