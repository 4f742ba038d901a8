/**
 * PartDigests over WebCrypto and hash-wasm: the digests of bytes already in memory (a part, a small
 * file), which the coordinator signs into the presigned URL so storage refuses damaged bytes. SHA-256
 * by crypto.subtle (native), lower-case hex. A page outside a secure context (plain http from a host
 * other than localhost) has no crypto.subtle: it is told so in words (open the dashboard over https)
 * rather than given a second SHA-256 in the bundle. MD5 (WebCrypto has none) by hash-wasm, base64 as
 * Content-MD5 wants it, loaded on first use by a dynamic import so only pages on md5 storage fetch it;
 * its one hasher is used by one digest at a time (hash-wasm's hashers are stateful).
 */
import type { IHasher } from "hash-wasm";
import { CliError, EXIT } from "../../../cli/engine/errors.js";
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

/** A hash-wasm hasher loaded on first use (again after a failed load), its digests one at a time. */
function lazyHasher(load: () => Promise<IHasher>) {
  let hasher: Promise<IHasher> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(use: (h: IHasher) => T): Promise<T> => {
    hasher ??= load().catch((err: unknown) => {
      hasher = undefined;
      throw err;
    });
    const loaded = hasher;
    const run = queue.then(async () => {
      const h = await loaded;
      h.init();
      return use(h);
    });
    queue = run.catch(() => {});
    return run;
  };
}

export function browserDigests(): PartDigests {
  const md5 = lazyHasher(() => import("hash-wasm").then((m) => m.createMD5()));
  return {
    async sha256(bytes) {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle)
        throw new CliError(
          "NO_WEBCRYPTO",
          "This page is not in a secure context, so the browser gives it no WebCrypto to hash the parts: " +
            "open the dashboard over https (or on localhost)",
          EXIT.UNEXPECTED,
        );
      return hex(new Uint8Array(await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
    },
    md5: (bytes) => md5((h) => base64(h.update(bytes).digest("binary"))),
  };
}
