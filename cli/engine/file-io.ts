/**
 * Reading the file to send: one streaming pass for the whole-file SHA-256 (and, in the same pass, the
 * SHA-256 of its first planned parts, so their URLs come with the init answer), then each part read on
 * its own; small files are read whole, once, and hashed from memory.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { CliError, EXIT, fileError } from "./errors.js";

export interface LocalFile {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

export async function statFile(path: string): Promise<LocalFile> {
  const abs = resolve(path);
  try {
    const s = await stat(abs);
    if (s.isDirectory()) throw Object.assign(new Error("directory"), { code: "EISDIR" });
    const h = await open(abs, "r");
    await h.close();
    return { path: abs, size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch (err) {
    throw fileError(err, path);
  }
}

/** SHA-256 of the whole file, streamed in 4 MiB reads (memory stays flat whatever the size). */
export async function hashFile(
  path: string,
  onProgress?: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<string> {
  const h = createHash("sha256");
  let bytes = 0;
  let lastReport = 0;
  try {
    const stream = createReadStream(path, { highWaterMark: 4 * 1024 * 1024, ...(signal && { signal }) });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      h.update(chunk);
      bytes += chunk.length;
      const now = performance.now();
      if (onProgress && now - lastReport > 200) {
        onProgress(bytes);
        lastReport = now;
      }
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw fileError(err, path);
  }
  onProgress?.(bytes);
  return h.digest("hex");
}

export const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Reads exactly [offset, offset+size) into `into` (a fresh buffer by default). */
export async function readRange(
  handle: FileHandle,
  path: string,
  offset: number,
  size: number,
  into: Buffer = Buffer.allocUnsafe(size),
): Promise<Buffer> {
  const buf = into;
  let done = 0;
  try {
    while (done < size) {
      const { bytesRead } = await handle.read(buf, done, size - done, offset + done);
      if (bytesRead === 0) throw Object.assign(new Error("file shrank while sending"), { code: "ESHRUNK" });
      done += bytesRead;
    }
  } catch (err) {
    throw fileError(err, path);
  }
  return buf;
}

/**
 * SHA-256 of the whole file and of each of `parts` (contiguous from offset 0, in order), in one streaming
 * pass: each chunk feeds the file's hash and the hash of the part it falls in.
 */
export async function hashFileAndParts(
  path: string,
  parts: readonly { offset: number; size: number }[],
  onProgress?: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<{ sha256: string; parts: string[] }> {
  const whole = createHash("sha256");
  const partHashes: string[] = [];
  let i = 0;
  let part = parts.length ? createHash("sha256") : undefined;
  let bytes = 0;
  let lastReport = 0;
  const feed = (chunk: Buffer) => {
    let at = 0;
    while (part && at < chunk.length) {
      const p = parts[i] as { offset: number; size: number };
      const end = p.offset + p.size;
      const take = Math.min(chunk.length - at, end - (bytes + at));
      part.update(chunk.subarray(at, at + take));
      at += take;
      if (bytes + at === end) {
        partHashes.push(part.digest("hex"));
        i++;
        part = i < parts.length ? createHash("sha256") : undefined;
      }
    }
  };
  try {
    const stream = createReadStream(path, { highWaterMark: 4 * 1024 * 1024, ...(signal && { signal }) });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      whole.update(chunk);
      feed(chunk);
      bytes += chunk.length;
      const now = performance.now();
      if (onProgress && now - lastReport > 200) {
        onProgress(bytes);
        lastReport = now;
      }
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw fileError(err, path);
  }
  onProgress?.(bytes);
  return { sha256: whole.digest("hex"), parts: partHashes };
}

/** Reads a whole (small) file into `into`, checking it still has the expected size. */
export async function readWhole(path: string, size: number, into: Buffer): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw fileError(err, path);
  }
  try {
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(into, done, size - done, done);
      if (bytesRead === 0) throw changedError(path);
      done += bytesRead;
    }
    const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, size);
    if (bytesRead !== 0) throw changedError(path);
    return into.subarray(0, size);
  } catch (err) {
    throw err instanceof CliError ? err : fileError(err, path);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** The one error for a file whose contents moved under the sender (exit 9). */
export function changedError(path: string): CliError {
  return new CliError(
    "FILE_CHANGED",
    `${path} changed while it was being sent; run the command again to send the new contents`,
    EXIT.INTEGRITY,
  );
}
