/**
 * One ranged GET of a stored file into its partial file: the bytes are written at their offset in
 * batches of about WRITE_BATCH bytes (one positional writev per batch, the next batch gathering while the
 * last is written), so the socket is read on while the disk writes. Checking them is the hashing
 * thread's job (file-hasher.ts), which reads them back in file order.
 *
 * A GET that breaks part way (reset, stall, short body) leaves `state` at the bytes received and
 * written; the same state passed again asks only for the rest of the range. Errors are CliErrors:
 * network and storage answers retryable as classify.ts says, a local file error not.
 */
import type { FileHandle } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Bandwidth } from "../bandwidth.js";
import { classifyNetwork, storageError, toCliError } from "../classify.js";
import { CliError, EXIT, fileError } from "../errors.js";
import { parseRetryAfter } from "../retry.js";

/** Bytes gathered before one positional write (at most two batches per range are held). */
export const WRITE_BATCH = 1024 * 1024;

export interface Range {
  offset: number;
  size: number;
}

/** Where a range stands: bytes [offset, offset + got) are received and written. */
export interface RangeState {
  got: number;
}

export interface RangeGetOptions {
  handle: FileHandle;
  path: string;
  bandwidth: Bandwidth;
  stallMs: number;
  signal: AbortSignal;
  onBytes: (n: number) => void;
}

/** Fetches what `state` still lacks of `range`; resolves when all of it is written (the hash not final). */
export function getRange(url: string, range: Range, state: RangeState, opts: RangeGetOptions): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const u = new URL(url);
    const send = u.protocol === "https:" ? httpsRequest : httpRequest;
    const start = range.offset + state.got;
    const end = range.offset + range.size;
    let settled = false;
    let last = performance.now();
    // Received (and hashed) but not yet handed to a write; and the write in flight.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let writing: Promise<void> = Promise.resolve();
    let writeError: unknown;
    let received = start;

    const flush = () => {
      if (pendingBytes === 0) return;
      const batch = pending;
      const at = received - pendingBytes;
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      writing = writing.then(async () => {
        if (writeError) return;
        try {
          await opts.handle.writev(batch, at);
          state.got += n;
        } catch (err) {
          writeError = fileError(err, opts.path);
        }
      });
    };
    /** Ends the GET: whatever arrived is written first, so `state` always matches the disk. */
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      opts.signal.removeEventListener("abort", onAbort);
      if (err !== undefined) req.destroy();
      flush();
      void writing.then(() => {
        if (writeError) reject(writeError);
        else if (err !== undefined) reject(err);
        else resolvePromise();
      });
    };
    const onAbort = () => finish(opts.signal.reason);
    const watchdog = setInterval(
      () => {
        if (performance.now() - last > opts.stallMs)
          finish(toCliError(classifyNetwork({ service: "storage", stallMs: opts.stallMs, url })));
      },
      Math.min(1000, Math.max(50, opts.stallMs / 4)),
    );
    opts.signal.addEventListener("abort", onAbort, { once: true });
    const req = send(u, { method: "GET", headers: { range: `bytes=${start}-${end - 1}` } });
    req.on("error", (err: NodeJS.ErrnoException) =>
      finish(
        toCliError(classifyNetwork({ service: "storage", error: err, what: "fetching the range", url })),
      ),
    );
    req.on("response", async (res: IncomingMessage) => {
      last = performance.now();
      const status = res.statusCode ?? 0;
      if (status !== 206 && !(status === 200 && start === 0)) {
        let body = "";
        for await (const c of res) if (body.length < 4096) body += String(c);
        return finish(storageError(status, body, parseRetryAfter(res.headers["retry-after"]), "the range"));
      }
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          if (settled) return;
          const take = Math.min(chunk.length, end - received);
          if (take <= 0) break;
          const piece = take === chunk.length ? chunk : chunk.subarray(0, take);
          if (opts.bandwidth.limited) await opts.bandwidth.acquire("receive", piece.length, opts.signal);
          pending.push(piece);
          pendingBytes += piece.length;
          received += piece.length;
          last = performance.now();
          opts.onBytes(piece.length);
          if (pendingBytes >= WRITE_BATCH) {
            // At most one batch written while the next gathers: the socket waits for a slow disk.
            await writing;
            if (writeError) return finish();
            flush();
          }
        }
      } catch (err) {
        return finish(
          err instanceof CliError
            ? err
            : new CliError("NETWORK", "The connection broke mid-range", EXIT.NETWORK, true),
        );
      }
      if (received !== end)
        return finish(new CliError("SHORT_READ", "Storage sent fewer bytes than asked", EXIT.NETWORK, true));
      finish();
    });
    req.end();
  });
}
