/**
 * The small-file path of a browser upload (as the CLI's single-put.ts): a file up to the batch's
 * maxSinglePutSize goes as one PUT of its whole body (read by one slice when it was hashed, held within
 * the memory budget, read again and checked against its SHA-256 if a later run needs it), in a "part"
 * slot (every PUT to storage shares the browser's connections), retried by policy. A spent URL (storage
 * says URL_EXPIRED, or it has under a minute left) is renewed by the file's entry sent again; storage not
 * holding the object when the completion is asked sends it once more.
 */
import { isUrlExpired } from "../../../cli/engine/classify.js";
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import { withRetries } from "../../../cli/engine/retry.js";
import type { BatchFileAnswer } from "../../../functions/contract/batches.js";
import type { FileContext, FileUpload } from "./file-upload.js";
import { URL_MARGIN_MS } from "./parts.js";

/** A spent single-PUT URL is renewed (a fresh entry answer) at most this often per run. */
const URL_RENEWALS = 3;
/** Storage not holding a PUT's object at completion: sent again at most this often. */
const REPEATS = 1;

type PutAnswer = Extract<BatchFileAnswer, { action: "put" }>;

/** Sends a small file whose entry was answered put: its PUT (renewing a spent URL), then its completion. */
export async function sendSingle(f: FileUpload, first: PutAnswer, ctx: FileContext): Promise<void> {
  let a = first;
  let renewals = 0;
  let repeats = 0;
  const renew = async (why: CliError | undefined) => {
    if (renewals++ >= URL_RENEWALS)
      throw why ?? new CliError("URL_EXPIRED", "The presigned URL kept expiring", EXIT.NETWORK);
    const next = await ctx.entry(f.entry(ctx));
    if (next.action === "done") return next;
    if (next.action !== "put")
      throw new CliError(
        "BAD_ANSWER",
        `The server answered ${next.action} for a single PUT`,
        EXIT.UNEXPECTED,
      );
    a = next;
    return undefined;
  };
  for (;;) {
    if (!a.stored) {
      f.enter("sending", ctx);
      let expired: CliError | undefined;
      if (Date.parse(a.put.expiresAt) - Date.now() >= URL_MARGIN_MS || renewals >= URL_RENEWALS)
        expired = await putWhole(f, a, ctx);
      else expired = new CliError("URL_EXPIRED", "The presigned URL was about to expire", EXIT.NETWORK);
      if (expired) {
        const done = await renew(expired);
        if (done) return f.follow(done, ctx);
        continue;
      }
    }
    f.enter("finishing", ctx);
    const r = await ctx.complete(a.transferId);
    if (r.status === "complete") return f.complete(undefined, ctx);
    if (repeats++ < REPEATS) {
      // Storage holds no such object (a PUT that never landed): send it again.
      f.doneBytes = 0;
      a = { ...a, stored: false };
      continue;
    }
    throw new CliError(
      r.error?.code ?? "NOT_COMPLETE",
      r.error?.message ?? `The server left ${f.picked.path} ${r.status}`,
      EXIT.REJECTED,
    );
  }
}

/** One PUT of the whole body, retried by policy; a spent URL is returned (the caller renews it). */
async function putWhole(f: FileUpload, a: PutAnswer, ctx: FileContext): Promise<CliError | undefined> {
  const body = await f.readBody(ctx);
  let expired: CliError | undefined;
  try {
    await withRetries(
      async () => {
        const slot = await ctx.scheduler.acquire({
          slot: "part",
          priority: ctx.priority,
          signal: ctx.signal,
        });
        let sent = 0;
        f.inFlight.set(0, 0);
        try {
          return await ctx.storage.put({
            url: a.put.url,
            headers: a.put.headers,
            body,
            signal: ctx.signal,
            onProgress: (total) => {
              const delta = total - sent;
              if (delta <= 0) return;
              sent = total;
              ctx.uploaded(delta);
              f.inFlight.set(0, Math.min(total, body.byteLength));
              ctx.changed();
            },
          });
        } catch (err) {
          if (isUrlExpired(err)) {
            expired = err as CliError;
            // Not worth a retry on the same URL: a fresh one is asked for.
            throw new CliError(expired.code, expired.message, expired.exitCode, false);
          }
          throw err;
        } finally {
          f.inFlight.delete(0);
          slot.release();
        }
      },
      { policy: ctx.retry, signal: ctx.signal, onRetry: () => f.retried(ctx) },
    );
  } catch (err) {
    if (expired && !ctx.signal.aborted) {
      f.retried(ctx);
      return expired;
    }
    throw err;
  }
  f.stored(f.picked.size);
  f.doneBytes = f.picked.size;
  f.releaseBody();
  return undefined;
}
