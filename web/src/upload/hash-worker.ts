/**
 * The Web Worker behind content-hasher.ts: the whole-file SHA-256, off the page's thread. One worker per
 * file: it receives the File (a Blob: posting it copies a handle, not the bytes), reads it one slice at a
 * time (Blob.slice → arrayBuffer, so memory stays one slice whatever the size), feeds hash-wasm's
 * streaming SHA-256 (only its SHA-256 wasm is bundled into this chunk), posts progress every
 * HASH_PROGRESS_EVERY bytes and finally the lower-case hex digest. A slice that cannot be read (the file
 * changed or vanished since it was picked: NotReadableError / NotFoundError), or a file whose size is not
 * the one the page was told (read at the pick), is answered "unreadable": never a digest of other bytes.
 * The page terminates the worker when done or cancelled.
 */
import { createSHA256 } from "hash-wasm";
import { HASH_PROGRESS_EVERY, HASH_SLICE, type HashReply, type HashRequest } from "./hash-messages.js";

/** The worker's global scope, typed by what is used (the web tsconfig has the DOM lib, not WebWorker's). */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<HashRequest>) => void) | null;
  postMessage(reply: HashReply): void;
};

const unreadable = (name: string, message: string): HashReply => ({ type: "unreadable", name, message });

async function hash(file: Blob, size: number): Promise<void> {
  let hasher: Awaited<ReturnType<typeof createSHA256>>;
  try {
    hasher = await createSHA256();
  } catch (err) {
    scope.postMessage({ type: "failed", message: `the SHA-256 hasher did not load (${String(err)})` });
    return;
  }
  if (file.size !== size) {
    scope.postMessage(unreadable("SizeChanged", `it is ${file.size} bytes now, ${size} when picked`));
    return;
  }
  hasher.init();
  let reported = 0;
  for (let at = 0; at < size; ) {
    const end = Math.min(size, at + HASH_SLICE);
    let bytes: ArrayBuffer;
    try {
      bytes = await file.slice(at, end).arrayBuffer();
    } catch (err) {
      const name = (err as { name?: unknown } | null)?.name;
      scope.postMessage(
        unreadable(
          typeof name === "string" ? name : "Error",
          err instanceof Error ? err.message : String(err),
        ),
      );
      return;
    }
    if (bytes.byteLength !== end - at) {
      scope.postMessage(unreadable("ShortRead", "it ended before the size it had when picked"));
      return;
    }
    hasher.update(new Uint8Array(bytes));
    at = end;
    if (at - reported >= HASH_PROGRESS_EVERY || at === size) {
      reported = at;
      scope.postMessage({ type: "progress", bytes: at });
    }
  }
  scope.postMessage({ type: "done", sha256: hasher.digest("hex") });
}

scope.onmessage = (e) => {
  void hash(e.data.file, e.data.size);
};
