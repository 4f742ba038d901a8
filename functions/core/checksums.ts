import { createHash } from "node:crypto";

/** S3 carries SHA-256 checksums as base64 of the 32-byte digest; SFTS shows them as hex. */
export const hexToBase64 = (hex: string): string => Buffer.from(hex, "hex").toString("base64");
export const base64ToHex = (b64: string): string => Buffer.from(b64, "base64").toString("hex");

/**
 * The composite checksum S3 reports for a multipart object with ChecksumAlgorithm SHA256:
 * base64(SHA-256(digest(part 1) || … || digest(part N))) + "-N".
 */
export function compositeSha256(partDigestsHex: readonly string[]): string {
  const h = createHash("sha256");
  for (const hex of partDigestsHex) h.update(Buffer.from(hex, "hex"));
  return `${h.digest("base64")}-${partDigestsHex.length}`;
}

export const EMPTY_SHA256_HEX = createHash("sha256").digest("hex");
