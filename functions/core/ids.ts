import { createHash, randomBytes } from "node:crypto";

// Crockford's base32, lower case: sortable, no ambiguous letters, safe in URLs and S3 keys.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function encodeBase32(value: bigint, length: number): string {
  let out = "";
  let v = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}

/** ULID layout (48-bit milliseconds + 80 random bits) so ids sort by creation time. */
export function newTransferId(nowMs: number = Date.now()): string {
  const random = BigInt(`0x${randomBytes(10).toString("hex")}`);
  return `tr_${encodeBase32(BigInt(nowMs), 10)}${encodeBase32(random, 16)}`;
}

/**
 * A transfer id derived from what identifies a record (the same parts give the same id), so a call
 * repeated after a lost answer finds the record the first one wrote instead of adding a second.
 */
export function derivedTransferId(parts: readonly string[]): string {
  const digest = createHash("sha256").update(JSON.stringify(parts), "utf8").digest("hex");
  return `tr_${encodeBase32(BigInt(`0x${digest}`), 26)}`;
}

/** An API token: 256 random bits; only its SHA-256 is ever stored. */
export function newApiToken(): string {
  return `sfts_${randomBytes(32).toString("base64url")}`;
}

export function newKeyId(): string {
  return `key_${encodeBase32(BigInt(`0x${randomBytes(10).toString("hex")}`), 16)}`;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
