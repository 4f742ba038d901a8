/**
 * The messages between content-hasher.ts (the page) and hash-worker.ts (the Web Worker): the page posts
 * one file, the worker answers progress, then the digest or the reason it could not read the file.
 */
export interface HashRequest {
  file: Blob;
  /** The size the page knows (read when the file was picked): a File that reads shorter changed. */
  size: number;
}

export type HashReply =
  | { type: "progress"; bytes: number }
  | { type: "done"; sha256: string }
  /** Reading a slice failed (the file changed, moved or vanished since it was picked). */
  | { type: "unreadable"; name: string; message: string }
  /** Anything else (the hasher did not load). */
  | { type: "failed"; message: string };

/** Read this much at a time: one slice in memory, whatever the file's size. */
export const HASH_SLICE = 8 * 1024 * 1024;
/** Progress at most this often (in bytes hashed). */
export const HASH_PROGRESS_EVERY = 16 * 1024 * 1024;
