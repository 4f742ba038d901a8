/**
 * The sender's other port: the local files it reads. nodeFiles reads the disk (file-io.ts) and hashes a
 * big file in a worker thread beside its sending (content-hash.ts); the unit tests use an in-memory map,
 * so a file can change between two phases, and a hash can be held back, without timing tricks.
 */
import { open, stat } from "node:fs/promises";
import { fileError } from "../errors.js";
import { readRange, readWhole } from "../file-io.js";
import { type ContentHash, hashInWorker } from "./content-hash.js";

export type { ContentHash } from "./content-hash.js";

export interface FileStat {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface OpenFile {
  /** Reads exactly [offset, offset+size) into `into`. */
  read(offset: number, size: number, into: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export interface LocalFiles {
  stat(local: string): Promise<FileStat>;
  /** The whole file (of `size` bytes, else FILE_CHANGED) into `into`. */
  readWhole(local: string, size: number, into: Buffer): Promise<Buffer>;
  open(local: string): Promise<OpenFile>;
  /**
   * SHA-256 of the file and of its first `parts` (contiguous from 0), in one pass off the main thread:
   * the parts' digests as soon as they are read (their MD5s too when `md5`), the whole file's at the end.
   */
  hash(
    local: string,
    parts: readonly { offset: number; size: number }[],
    onProgress?: (bytes: number) => void,
    signal?: AbortSignal,
    md5?: boolean,
  ): ContentHash;
}

export const nodeFiles: LocalFiles = {
  async stat(local) {
    try {
      const s = await stat(local);
      return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
    } catch (err) {
      throw fileError(err, local);
    }
  },
  readWhole: (local, size, into) => readWhole(local, size, into),
  async open(local) {
    let h: Awaited<ReturnType<typeof open>>;
    try {
      h = await open(local, "r");
    } catch (err) {
      throw fileError(err, local);
    }
    return {
      read: (offset, size, into) => readRange(h, local, offset, size, into),
      close: () => h.close().catch(() => {}),
    };
  },
  hash: (local, parts, onProgress, signal, md5) => hashInWorker(local, parts, onProgress, signal, md5),
};
