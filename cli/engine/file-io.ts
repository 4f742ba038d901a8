/** Reading the file to send: one streaming pass for the whole-file SHA-256, then each part read on its own. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { fileError } from "./errors.js";

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
