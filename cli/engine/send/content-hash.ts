/**
 * The SHA-256 of a whole file, computed beside its sending, off the main thread: one worker thread per
 * file reads it with large sequential reads (two buffers: the next read runs in the thread pool while the
 * current one is hashed) and hashes it with Node's own crypto, which is OpenSSL's SHA-256 using the CPU's
 * SHA extensions (about 1.45 GB/s a core here; no JavaScript or WebAssembly library comes near it, so
 * none is kept for this). The main thread only moves parts meanwhile.
 *
 * The digests of the first parts (signed into the URLs of the init answer) come back as soon as their
 * bytes are read, long before the whole file's (their MD5s too, base64, when asked: storage in md5 mode); progress about every 200 ms; an abort ends the worker.
 * The worker's code is plain JavaScript evaluated from a string, so the same module runs compiled, under
 * vitest and bundled, with no file of its own to find.
 *
 * SFTS_TEST_HASH_RATE (bytes/s; tests only) slows the pass down, so an end-to-end test can show the
 * first parts leaving before the whole file is hashed without depending on the machine's speed.
 */
import { Worker } from "node:worker_threads";
import { fileError } from "../errors.js";

/** Bytes a read asks for (two such buffers per worker). */
export const HASH_READ_BYTES = 8 * 1024 * 1024;
const PROGRESS_EVERY_MS = 200;

export interface ContentHash {
  /** SHA-256 (hex) of each first part, in order, as soon as they are read. */
  parts: Promise<string[]>;
  /** MD5 (base64) of each first part, with `parts`; empty unless asked for. */
  partMd5s: Promise<string[]>;
  /** SHA-256 (hex) of the whole file. */
  sha256: Promise<string>;
}

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { open } = require("node:fs/promises");
const { createHash } = require("node:crypto");
const { path, parts, md5, readBytes, rate, everyMs } = workerData;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const h = await open(path, "r");
  try {
    const whole = createHash("sha256");
    const digests = [];
    const md5s = [];
    let i = 0;
    let part = parts.length ? createHash("sha256") : undefined;
    let partMd5 = part && md5 ? createHash("md5") : undefined;
    let posted = false;
    const bufs = [Buffer.allocUnsafe(readBytes), Buffer.allocUnsafe(readBytes)];
    let which = 0;
    let pos = 0;
    let last = Date.now();
    const t0 = last;
    let next = h.read(bufs[0], 0, readBytes, 0);
    for (;;) {
      const { bytesRead } = await next;
      if (bytesRead === 0) break;
      const data = bufs[which].subarray(0, bytesRead);
      which ^= 1;
      next = h.read(bufs[which], 0, readBytes, pos + bytesRead);
      whole.update(data);
      let at = 0;
      while (part && at < data.length) {
        const end = parts[i].offset + parts[i].size;
        const take = Math.min(data.length - at, end - (pos + at));
        part.update(data.subarray(at, at + take));
        partMd5?.update(data.subarray(at, at + take));
        at += take;
        if (pos + at === end) {
          digests.push(part.digest("hex"));
          if (partMd5) md5s.push(partMd5.digest("base64"));
          i++;
          part = i < parts.length ? createHash("sha256") : undefined;
          partMd5 = part && md5 ? createHash("md5") : undefined;
          if (!part) {
            posted = true;
            parentPort.postMessage({ type: "parts", digests, md5s });
          }
        }
      }
      pos += bytesRead;
      if (rate > 0) {
        const ahead = (pos / rate) * 1000 - (Date.now() - t0);
        if (ahead > 0) await sleep(ahead);
      }
      if (Date.now() - last >= everyMs) {
        last = Date.now();
        parentPort.postMessage({ type: "progress", bytes: pos });
      }
    }
    if (!posted) parentPort.postMessage({ type: "parts", digests, md5s });
    parentPort.postMessage({ type: "done", sha256: whole.digest("hex"), bytes: pos });
  } finally {
    await h.close();
  }
})().catch((err) => parentPort.postMessage({ type: "error", code: err.code, message: err.message }));
`;

type FromWorker =
  | { type: "parts"; digests: string[]; md5s: string[] }
  | { type: "progress"; bytes: number }
  | { type: "done"; sha256: string; bytes: number }
  | { type: "error"; code?: string; message: string };

const testRate = (): number => {
  const r = Number(process.env.SFTS_TEST_HASH_RATE ?? "");
  return Number.isFinite(r) && r > 0 ? r : 0;
};

/**
 * Starts hashing `path` in a worker: the digests of `parts` (contiguous from offset 0; their MD5s too when
 * `md5`) and of the whole file. The promises reject with a CliError if the file cannot be read, or with the signal's reason.
 */
export function hashInWorker(
  path: string,
  parts: readonly { offset: number; size: number }[],
  onProgress?: (bytes: number) => void,
  signal?: AbortSignal,
  md5 = false,
): ContentHash {
  let resolveParts: (d: { digests: string[]; md5s: string[] }) => void = () => {};
  let rejectParts: (e: unknown) => void = () => {};
  let resolveWhole: (s: string) => void = () => {};
  let rejectWhole: (e: unknown) => void = () => {};
  const first = new Promise<{ digests: string[]; md5s: string[] }>((res, rej) => {
    resolveParts = res;
    rejectParts = rej;
  });
  const out: ContentHash = {
    parts: first.then((d) => d.digests),
    partMd5s: first.then((d) => d.md5s),
    sha256: new Promise((res, rej) => {
      resolveWhole = res;
      rejectWhole = rej;
    }),
  };
  // Whoever awaits only one of them must not see the other's rejection as unhandled.
  out.parts.catch(() => {});
  out.partMd5s.catch(() => {});
  out.sha256.catch(() => {});
  const fail = (err: unknown) => {
    rejectParts(err);
    rejectWhole(err);
  };
  if (signal?.aborted) {
    fail(signal.reason);
    return out;
  }
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      path,
      parts: parts.map((p) => ({ offset: p.offset, size: p.size })),
      md5,
      readBytes: HASH_READ_BYTES,
      rate: testRate(),
      everyMs: PROGRESS_EVERY_MS,
    },
  });
  // A worker never keeps the command alive on its own (an abort or an error ends it anyway).
  worker.unref();
  let ended = false;
  const end = () => {
    ended = true;
    signal?.removeEventListener("abort", onAbort);
    void worker.terminate();
  };
  const onAbort = () => {
    if (ended) return;
    end();
    fail(signal?.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  worker.on("message", (m: FromWorker) => {
    if (ended) return;
    if (m.type === "parts") resolveParts({ digests: m.digests, md5s: m.md5s });
    else if (m.type === "progress") onProgress?.(m.bytes);
    else if (m.type === "done") {
      onProgress?.(m.bytes);
      end();
      resolveWhole(m.sha256);
    } else {
      end();
      fail(fileError(Object.assign(new Error(m.message), { code: m.code }), path));
    }
  });
  worker.on("error", (err) => {
    if (ended) return;
    end();
    fail(fileError(err, path));
  });
  worker.on("exit", () => {
    if (ended) return;
    end();
    fail(fileError(new Error("the hashing thread stopped"), path));
  });
  return out;
}

/**
 * Whole-file passes running at once, at most `limit()` (the scheduler's hashing slots): a big file holds
 * one from before its first parts are hashed until its whole-file SHA-256 is known, so no more files send
 * with their content pending than could be hashed together. FIFO (files start in priority order).
 */
export class HashPasses {
  private active = 0;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(private readonly limit: () => number) {}

  /** Resolves with the release once a pass may run; rejects with the signal's reason if it aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const release = () => {
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const next = this.waiting.shift();
        // Handed on as it is: the next one holds this pass, so none slips in between.
        if (next) next.grant();
        else this.active--;
      };
    };
    if (this.active < this.limit()) {
      this.active++;
      return Promise.resolve(release());
    }
    return new Promise((resolve, reject) => {
      const w = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(release());
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(w);
    });
  }
}
