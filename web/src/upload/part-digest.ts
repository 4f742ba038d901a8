/**
 * PartDigests over WebCrypto and hash-wasm: the digests of bytes already in memory (a part, a small
 * file), which the coordinator signs into the presigned URL so storage refuses damaged bytes. SHA-256
 * by crypto.subtle (native, off the main thread's JS), lower-case hex; MD5 (WebCrypto has none) by
 * hash-wasm, loaded on first use by a dynamic import so only pages on md5 storage fetch its wasm, and
 * base64 as Content-MD5 wants it. One MD5 hasher is kept and reused: digests run one after another.
 */
import type { IHasher } from "hash-wasm";
import type { PartDigests } from "./types.js";

const hex = (bytes: Uint8Array): string => {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
};

const base64 = (bytes: Uint8Array): string => {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};

export function browserDigests(): PartDigests {
  let md5: Promise<IHasher> | undefined;
  /** hash-wasm's hasher is stateful: one digest at a time on it. */
  let queue: Promise<unknown> = Promise.resolve();
  return {
    async sha256(bytes) {
      return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
    },
    md5(bytes) {
      // A failed load (the chunk did not arrive) is tried again on the next digest.
      md5 ??= import("hash-wasm")
        .then((m) => m.createMD5())
        .catch((err: unknown) => {
          md5 = undefined;
          throw err;
        });
      const hasherP = md5;
      const run = queue.then(async () => {
        const h = await hasherP;
        h.init();
        h.update(bytes);
        return base64(h.digest("binary"));
      });
      queue = run.catch(() => {});
      return run;
    },
  };
}
