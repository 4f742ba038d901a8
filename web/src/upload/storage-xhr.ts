/**
 * StoragePut over XMLHttpRequest (fetch reports no upload progress): one PUT of bytes already in memory
 * to a presigned URL, carrying the presigned headers exactly (those the browser sets itself and forbids
 * a page to set, host and content-length, are left to it: it sends the same values). Lifecycle of a PUT:
 * open → send → upload progress events (each resets the stall timer and reports bytes sent) → the answer
 * (load), or error / timeout / the stall timer (no progress for stallMs: abort) / the caller's signal
 * (abort, rejected with the signal's reason). put-outcome.ts turns what happened into an ETag or a
 * CliError; this file only watches the request.
 *
 * Origins that have answered this page are remembered, so a later failure on one is known to be on a
 * link that worked (the link watch then treats it as an outage, not a wrong address).
 */

import { type PutOutcome, putResult, settableHeader } from "./put-outcome.js";
import type { StoragePut, StoragePutRequest } from "./types.js";

/** No upload progress and no answer for this long: the PUT is stuck, abort it (the CLI's default too). */
export const STALL_MS = 30_000;

export function xhrStorage(o: { stallMs?: number } = {}): StoragePut {
  const stallMs = o.stallMs ?? STALL_MS;
  const answered = new Set<string>();
  const originOf = (url: string) => {
    try {
      return new URL(url).origin;
    } catch {
      return url;
    }
  };
  return {
    put: (req: StoragePutRequest) =>
      new Promise<{ etag: string }>((resolve, reject) => {
        const origin = originOf(req.url);
        const xhr = new XMLHttpRequest();
        let settled = false;
        let moved = false;
        let stall: ReturnType<typeof setTimeout> | undefined;
        const cleanup = () => {
          settled = true;
          clearTimeout(stall);
          req.signal?.removeEventListener("abort", onAbort);
        };
        const finish = (outcome: PutOutcome) => {
          if (settled) return;
          cleanup();
          if (outcome.kind === "answer") answered.add(origin);
          const r = putResult(req.url, outcome);
          if ("etag" in r) resolve(r);
          else reject(r.error);
        };
        const armStall = () => {
          clearTimeout(stall);
          stall = setTimeout(() => {
            if (settled) return;
            finish({ kind: "stall", stallMs });
            xhr.abort();
          }, stallMs);
        };
        const onAbort = () => {
          if (settled) return;
          cleanup();
          xhr.abort();
          reject(req.signal?.reason);
        };
        if (req.signal?.aborted) {
          reject(req.signal.reason);
          return;
        }
        req.signal?.addEventListener("abort", onAbort, { once: true });

        xhr.open("PUT", req.url);
        for (const [name, value] of Object.entries(req.headers))
          if (settableHeader(name)) xhr.setRequestHeader(name, value);
        xhr.upload.onprogress = (e) => {
          if (e.loaded > 0) moved = true;
          armStall();
          req.onProgress?.(e.loaded);
        };
        xhr.onreadystatechange = () => {
          if (xhr.readyState >= XMLHttpRequest.HEADERS_RECEIVED) armStall();
        };
        xhr.onload = () =>
          finish({
            kind: "answer",
            status: xhr.status,
            etag: exposedHeader(xhr, "etag"),
            body: xhr.responseText,
            retryAfter: exposedHeader(xhr, "retry-after"),
          });
        xhr.onerror = () => finish({ kind: "network", reached: moved || answered.has(origin) });
        xhr.ontimeout = () =>
          finish({ kind: "timeout", timeoutMs: xhr.timeout, reached: moved || answered.has(origin) });
        armStall();
        // Sent as a Blob of the bytes, not the array itself: DevTools (and any CDP client, such as the
        // browser tests' Playwright) copies an ArrayBuffer body into its request events, base64, making
        // PUTs ten times slower; a Blob body is read by the network service from blob storage.
        xhr.send(new Blob([req.body as Uint8Array<ArrayBuffer>]));
      }),
  };
}

/**
 * A response header storage's CORS rules may not expose (Retry-After; ETag on a misconfigured bucket): read
 * from the exposed list, because getResponseHeader of an unexposed header logs "Refused to get unsafe
 * header" on the console (a missing ETag is then put-outcome.ts's NO_ETAG, in words).
 */
function exposedHeader(xhr: XMLHttpRequest, name: string): string | null {
  for (const line of xhr.getAllResponseHeaders().split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === name) return line.slice(i + 1).trim();
  }
  return null;
}
