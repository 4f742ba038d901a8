/**
 * What one storage PUT from the browser came to, as the CLI would read it: an ETag, or a CliError from
 * the one classification (cli/engine/classify.ts). Pure, so it is unit tested in Node; storage-xhr.ts
 * feeds it what XMLHttpRequest saw.
 *
 * - An answer 2xx with an ETag: done. 2xx without one: the browser hides headers a cross-origin answer
 *   does not expose, so the bucket's CORS rules lack `ExposeHeaders: ETag`; no retry fixes that.
 * - Any other answer: storageError (S3's XML <Code>, Retry-After when CORS exposes it), so BadDigest is
 *   retryable (bytes damaged on the way), a 403 "expired" is URL_EXPIRED (re-presign), and so on.
 * - No answer (XHR's error or timeout event, or the stall timer): classifyNetwork → NetworkError whose
 *   endpoint is the URL's origin (the link watch probes it). XHR says nothing of why a connection failed
 *   (refused, reset, unresolved all look alike), so "had this page been connected to the origin" comes
 *   from the caller: bytes moved on this request, or an earlier request had an answer from it.
 * Also here, as pure as the rest: which presigned headers a page may set (settableHeader).
 */
import { classifyNetwork, originOf, storageError, toCliError } from "../../../cli/engine/classify.js";
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import { parseRetryAfter } from "../../../cli/engine/retry.js";

export type PutOutcome =
  | {
      kind: "answer";
      status: number;
      /** The ETag header as the browser lets the page read it (null when absent or not exposed). */
      etag: string | null;
      body: string;
      retryAfter: string | null;
    }
  /** XHR's error event: the connection failed, was refused or reset (or a CORS preflight refused it). */
  | { kind: "network"; reached: boolean }
  /** XHR's timeout event. */
  | { kind: "timeout"; timeoutMs: number; reached: boolean }
  /** No upload progress (and no answer) for stallMs. */
  | { kind: "stall"; stallMs: number };

/** Headers a page may not set (the Fetch standard's forbidden request headers); the browser sends its own. */
const FORBIDDEN = new Set([
  "accept-charset",
  "accept-encoding",
  "access-control-request-headers",
  "access-control-request-method",
  "connection",
  "content-length",
  "cookie",
  "cookie2",
  "date",
  "dnt",
  "expect",
  "host",
  "keep-alive",
  "origin",
  "referer",
  "set-cookie",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "via",
]);

export const settableHeader = (name: string): boolean => {
  const n = name.toLowerCase();
  return !FORBIDDEN.has(n) && !n.startsWith("proxy-") && !n.startsWith("sec-");
};

/** "part 3" for a multipart part's URL (its partNumber), else "the file" (a single PUT). */
export function putLabel(url: string): string {
  try {
    const n = new URL(url).searchParams.get("partNumber");
    return n ? `part ${n}` : "the file";
  } catch {
    return "the file";
  }
}

export function putResult(
  url: string,
  o: PutOutcome,
  now = Date.now(),
): { etag: string } | { error: CliError } {
  const what = putLabel(url);
  switch (o.kind) {
    case "answer": {
      if (o.status >= 200 && o.status < 300) {
        if (o.etag) return { etag: o.etag };
        return {
          error: new CliError(
            "NO_ETAG",
            `Storage accepted ${what} but the browser may not read its ETag: the bucket's CORS rules must expose ` +
              "the ETag header (ExposeHeaders: ETag) to this page's origin",
            EXIT.REJECTED,
          ),
        };
      }
      return { error: storageError(o.status, o.body, parseRetryAfter(o.retryAfter, now), what) };
    }
    case "stall":
      return { error: toCliError(classifyNetwork({ service: "storage", stallMs: o.stallMs, url })) };
    case "timeout":
    case "network": {
      const v = classifyNetwork({
        service: "storage",
        ...(o.kind === "timeout"
          ? { timeoutMs: o.timeoutMs }
          : { error: new Error("the connection failed (refused, reset, or not allowed by CORS)") }),
        what: `sending ${what}`,
        url,
      });
      const endpoint = originOf(url);
      return { error: toCliError({ ...v, network: { endpoint, reached: o.reached } }) };
    }
  }
}
