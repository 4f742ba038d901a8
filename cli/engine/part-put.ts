/**
 * One part PUT straight to storage on a presigned URL: the body streamed from memory in 64 KiB slices
 * (each slice waits for --limit-rate tokens), progress reported per slice, and a stall watchdog that
 * aborts the request when nothing moves for `stallMs`. Storage's answer becomes an ETag or a CliError.
 */
import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Bandwidth } from "./bandwidth.js";
import { classifyNetwork, storageError, toCliError } from "./classify.js";
import { CliError, EXIT } from "./errors.js";
import { parseRetryAfter } from "./retry.js";

const SLICE = 64 * 1024;
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 });

export interface PutOptions {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  bandwidth: Bandwidth;
  flow: string;
  stallMs: number;
  signal?: AbortSignal | undefined;
  onBytes?: (n: number) => void;
}

export function putPart(o: PutOptions): Promise<{ etag: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(o.url);
    const isHttps = url.protocol === "https:";
    const send = isHttps ? httpsRequest : httpRequest;
    let settled = false;
    let lastProgress = performance.now();
    let req: ClientRequest | undefined;
    const finish = (err: CliError | undefined, etag?: string) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      o.signal?.removeEventListener("abort", onAbort);
      if (err) {
        req?.destroy();
        reject(err);
      } else resolve({ etag: etag ?? "" });
    };
    const onAbort = () => {
      settled = true;
      clearInterval(watchdog);
      req?.destroy();
      reject(o.signal?.reason);
    };
    const watchdog = setInterval(
      () => {
        if (performance.now() - lastProgress > o.stallMs)
          finish(toCliError(classifyNetwork({ service: "storage", stallMs: o.stallMs, url: o.url })));
      },
      Math.min(1000, Math.max(50, o.stallMs / 4)),
    );
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener("abort", onAbort, { once: true });

    req = send(url, {
      method: "PUT",
      headers: { ...o.headers, "content-length": String(o.body.length) },
      agent: isHttps ? httpsAgent : httpAgent,
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (settled) return;
      finish(
        toCliError(classifyNetwork({ service: "storage", error: err, what: "sending the part", url: o.url })),
      );
    });
    req.on("response", (res: IncomingMessage) => {
      lastProgress = performance.now();
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => {
        lastProgress = performance.now();
        if (chunks.length < 64) chunks.push(c);
      });
      res.on("error", () =>
        finish(new CliError("NETWORK", "The connection broke during storage's answer", EXIT.NETWORK, true)),
      );
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          const etag = res.headers.etag;
          if (!etag)
            return finish(
              new CliError("NO_ETAG", "Storage accepted the part but sent no ETag", EXIT.REJECTED, true),
            );
          return finish(undefined, etag);
        }
        finish(
          storageError(
            status,
            Buffer.concat(chunks).toString("utf8"),
            parseRetryAfter(res.headers["retry-after"]),
            "the part",
          ),
        );
      });
    });

    const r = req;
    (async () => {
      for (let off = 0; off < o.body.length && !settled; off += SLICE) {
        const slice = o.body.subarray(off, Math.min(off + SLICE, o.body.length));
        await o.bandwidth.acquire(o.flow, slice.length, o.signal);
        if (settled) return;
        lastProgress = performance.now();
        if (!r.write(slice))
          await new Promise<void>((res) => {
            const done = () => {
              r.off("drain", done);
              r.off("close", done);
              res();
            };
            r.on("drain", done);
            r.on("close", done);
          });
        lastProgress = performance.now();
        o.onBytes?.(slice.length);
      }
      if (!settled) r.end();
    })().catch((err: unknown) => {
      if (!settled)
        finish(err instanceof CliError ? err : new CliError("NETWORK", String(err), EXIT.NETWORK, true));
    });
  });
}
