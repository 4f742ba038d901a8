/**
 * The Web Worker behind content-hasher.ts: the whole-file SHA-256, off the page's thread. One worker per
 * file: it receives the File (a Blob: posting it copies a handle, not the bytes), reads it one slice at a
 * time (Blob.slice → arrayBuffer, so memory stays one slice whatever the size), feeds hash-wasm's
 * streaming SHA-256 (only its SHA-256 wasm is bundled into this chunk), posts progress every
 * HASH_PROGRESS_EVERY bytes and finally the lower-case hex digest. A slice that cannot be read (the file
 * changed or vanished since it was picked: NotReadableError / NotFoundError) is answered "unreadable".
 * The page terminates the worker when done or cancelled.
 */
import { createSHA256 } from "hash-wasm";
import { HASH_PROGRESS_EVERY, HASH_SLICE, type HashReply, type HashRequest } from "./hash-messages.js";

/** The worker's global scope, typed by what is used (the web tsconfig has the DOM lib, not WebWorker's). */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<HashRequest>) => void) | null;
  postMessage(reply: HashReply): void;
};

async function hash(file: Blob): Promise<void> {
  let hasher: Awaited<ReturnType<typeof createSHA256>>;
  try {
    hasher = await createSHA256();
  } catch (err) {
    scope.postMessage({ type: "failed", message: `the SHA-256 hasher did not load (${String(err)})` });
    return;
  }
  hasher.init();
  let reported = 0;
  for (let at = 0; at < file.size; ) {
    const end = Math.min(file.size, at + HASH_SLICE);
    let bytes: ArrayBuffer;
    try {
      bytes = await file.slice(at, end).arrayBuffer();
    } catch (err) {
      scope.postMessage({ type: "unreadable", message: err instanceof Error ? err.message : String(err) });
      return;
    }
    hasher.update(new Uint8Array(bytes));
    at = end;
    if (at - reported >= HASH_PROGRESS_EVERY || at === file.size) {
      reported = at;
      scope.postMessage({ type: "progress", bytes: at });
    }
  }
  scope.postMessage({ type: "done", sha256: hasher.digest("hex") });
}

scope.onmessage = (e) => {
  void hash(e.data.file);
};
