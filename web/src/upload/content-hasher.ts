/**
 * ContentHasher over a module Web Worker (hash-worker.ts, bundled by Vite as its own chunk): one worker
 * per file, posted the File, terminated when its digest arrives, when it fails, or when the caller's
 * signal aborts (the promise then rejects with the signal's reason). A file the browser can no longer
 * read becomes FILE_UNREADABLE in words: it changed or vanished since it was picked, pick it again.
 */
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import type { HashReply, HashRequest } from "./hash-messages.js";
import type { ContentHasher } from "./types.js";

const nameOf = (file: Blob): string => {
  const name = (file as { name?: unknown }).name;
  return typeof name === "string" && name ? name : "the file";
};

/** DOMException names that mean "changed or vanished since picked", which the sentence says already. */
const QUIET = new Set(["NotFoundError", "NotReadableError"]);

export function unreadableFile(name: string, detail?: string): CliError {
  return new CliError(
    "FILE_UNREADABLE",
    `The browser could not read ${name}${detail ? ` (${detail})` : ""}: the file changed or vanished since it was picked; pick it again`,
    EXIT.FILE,
  );
}

export function workerHasher(): ContentHasher {
  return {
    sha256: (file, onProgress, signal) =>
      new Promise<string>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const worker = new Worker(new URL("./hash-worker.ts", import.meta.url), { type: "module" });
        const end = () => {
          worker.terminate();
          signal?.removeEventListener("abort", onAbort);
        };
        const onAbort = () => {
          end();
          reject(signal?.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        worker.onmessage = (e: MessageEvent<HashReply>) => {
          const m = e.data;
          if (m.type === "progress") {
            onProgress?.(m.bytes);
            return;
          }
          end();
          if (m.type === "done") resolve(m.sha256);
          // The browser's own words for a vanished or changed file add nothing to the sentence.
          else if (m.type === "unreadable")
            reject(unreadableFile(nameOf(file), QUIET.has(m.name) ? undefined : m.message));
          else
            reject(
              new CliError("HASH_FAILED", `Could not hash ${nameOf(file)}: ${m.message}`, EXIT.UNEXPECTED),
            );
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          end();
          reject(
            new CliError(
              "HASH_FAILED",
              `Could not hash ${nameOf(file)}: the hashing worker failed (${e.message || "it did not start"})`,
              EXIT.UNEXPECTED,
            ),
          );
        };
        worker.onmessageerror = () => {
          end();
          reject(unreadableFile(nameOf(file)));
        };
        worker.postMessage({ file, size: file.size } satisfies HashRequest);
      }),
  };
}
