/**
 * The small-file path: a file up to the part size goes as one PUT of its whole body. This module owns that
 * body (its memory lease, and a buffer from the pool or allocated to size) and the PUT itself, with its
 * retries and the spent-URL case (the file then goes back to initialising for a fresh answer).
 */
import type { BatchFileAnswer } from "../../../functions/contract/batches.js";
import { CliError } from "../errors.js";
import { withRetries } from "../retry.js";
import type { SendHost } from "./file-transfer.js";
import type { Lease } from "./scheduler.js";

/** Whole-file buffers below this are allocated to size, not taken from the 8 MiB-rounded pool. */
export const SMALL_BODY = 1024 * 1024;

type PutAnswer = Extract<BatchFileAnswer, { action: "put" }>;

/** A small file's whole body, held in memory from hashing to the end of its PUT. */
export class WholeBody {
  body: Buffer | undefined;
  /** The body's buffer came from the pool (else an exact-size allocation, for a small file). */
  private pooled = false;
  private lease: Lease | undefined;

  constructor(private readonly host: SendHost) {}

  async hold(): Promise<void> {
    if (this.lease) return;
    this.lease = await this.host.ctx.scheduler.acquire({
      bytes: this.host.file.size,
      priority: this.host.priority,
      signal: this.host.ctx.stop,
    });
  }

  /** Reads the whole file into its buffer. */
  async read(): Promise<Buffer> {
    const { file, ctx } = this.host;
    this.body = await ctx.files.readWhole(file.local, file.size, this.buffer());
    return this.body;
  }

  /**
   * A buffer for the whole file: from the pool (capacities rounded up to 8 MiB, reused) for big ones, an
   * exact-size allocation below SMALL_BODY — thousands of small files must not each take an 8 MiB buffer.
   */
  private buffer(): Buffer {
    const size = this.host.file.size;
    this.pooled = size >= SMALL_BODY;
    return this.pooled ? this.host.ctx.pool.acquire(size) : Buffer.allocUnsafe(size);
  }

  release(): void {
    if (this.body && this.pooled) this.host.ctx.pool.release(this.body);
    this.body = undefined;
    this.lease?.release();
    this.lease = undefined;
  }
}

/**
 * One PUT of the whole body in a "put" slot, retried by policy. Resolves true when the URL was spent and
 * `mayRenew` (the caller then asks for a fresh one), false when the body is stored.
 */
export async function putWhole(
  host: SendHost,
  a: PutAnswer,
  body: Buffer,
  mayRenew: boolean,
): Promise<boolean> {
  const { ctx, file } = host;
  const slot = await ctx.scheduler.acquire({
    slot: "put",
    priority: host.priority,
    signal: ctx.stop,
  });
  let renew = false;
  try {
    await withRetries(
      async () => {
        host.inFlightWritten.set(0, 0);
        try {
          return await ctx.transport.put({
            url: a.put.url,
            headers: a.put.headers,
            body,
            flow: file.shown,
            signal: host.signal,
            onBytes: (n) => {
              host.sent(n);
              host.inFlightWritten.set(0, (host.inFlightWritten.get(0) ?? 0) + n);
            },
          });
        } catch (err) {
          if (err instanceof CliError && err.code === "URL_EXPIRED") {
            renew = true;
            host.onRetry({ attempt: 1, delayMs: 0, error: err }, "PUT file");
            throw new CliError(err.code, err.message, err.exitCode, false);
          }
          throw err;
        } finally {
          host.inFlightWritten.delete(0);
        }
      },
      {
        policy: ctx.opts.retry,
        signal: host.signal,
        onRetry: (info) => host.onRetry(info, "PUT file"),
      },
    );
  } catch (err) {
    if (!renew || !mayRenew) throw err;
  } finally {
    slot.release();
  }
  return renew;
}
