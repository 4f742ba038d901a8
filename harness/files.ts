/** Test and benchmark files, and reading back what storage holds: one way each, for every script. */
import { createHash, randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";

/**
 * Writes `bytes` random bytes (incompressible, never deduplicated by accident) in 8 MiB chunks and
 * returns their SHA-256, hashed on the way; with `sync`, flushed to disk before it returns.
 */
export async function writeRandomFile(
  path: string,
  bytes: number,
  opts: { sync?: boolean } = {},
): Promise<string> {
  const hash = createHash("sha256");
  const f = await open(path, "w");
  try {
    for (let done = 0; done < bytes; ) {
      const chunk = randomBytes(Math.min(8 * 1024 * 1024, bytes - done));
      hash.update(chunk);
      await f.write(chunk);
      done += chunk.length;
    }
    if (opts.sync) await f.sync();
  } finally {
    await f.close();
  }
  return hash.digest("hex");
}

/** Reads an object straight from storage and hashes it, streamed. */
export async function sha256OfObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ sha256: string; size: number }> {
  const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of obj.Body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}
