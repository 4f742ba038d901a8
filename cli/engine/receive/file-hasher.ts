/**
 * Checking what arrived, off the main thread: one worker thread per receive (however many files are
 * fetched at once) reads each partial file back in file order (from the page cache, just written) as
 * its parts are written, and in that one pass hashes each part (checked against the part's SHA-256) and
 * the whole file. A part that does not match is reported damaged and left out of the whole file's hash
 * (its state is copied before the part and put back), so the caller fetches it again and says it is
 * written again; the pass goes on from there. The whole file's SHA-256 is thus ready moments after its
 * last part, with no second read at the end, and the main thread only moves bytes.
 * (Hashing on the main thread as bytes arrive, and holding the buffers for the whole-file hash, were
 * both measured: slower, the second through the garbage collector.)
 * HashThread.file(path, parts) opens one file's checker; HashThread.close ends the thread.
 */
import { Worker } from "node:worker_threads";
import { CliError, EXIT, fileError } from "../errors.js";

// Plain JS, evaluated as the worker: no file to resolve next to the compiled module (or the TS source).
const WORKER = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { openSync, readSync, closeSync } = require("node:fs");
const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
const files = new Map();
let busy = false;
function fail(f, err) {
  f.failed = true;
  parentPort.postMessage({ type: "error", file: f.id, message: String(err && err.message), code: err && err.code });
}
function work() {
  for (const f of files.values()) {
    if (f.failed) continue;
    const p = f.parts[f.next];
    if (p && f.written.has(f.next)) {
      try {
        if (f.at === 0) { f.before = f.whole.copy(); f.part = createHash("sha256"); }
        const n = readSync(f.fd, buf, 0, Math.min(buf.length, p.size - f.at), p.offset + f.at);
        if (n === 0) throw Object.assign(new Error("the partial file is shorter than expected"), { code: "ESHORT" });
        const b = buf.subarray(0, n);
        f.part.update(b);
        f.whole.update(b);
        f.at += n;
        if (f.at === p.size) {
          const sha256 = f.part.digest("hex");
          const ok = p.sha256 === undefined || sha256 === p.sha256;
          if (ok) f.next++;
          else { f.whole = f.before; f.written.delete(f.next); }
          f.at = 0;
          parentPort.postMessage({ type: "part", file: f.id, index: f.next - (ok ? 1 : 0), ok, sha256 });
        }
      } catch (err) { fail(f, err); }
      return true;
    }
    if (!p && f.finish) {
      f.finish = false;
      parentPort.postMessage({ type: "whole", file: f.id, sha256: f.whole.digest("hex") });
      return true;
    }
  }
  return false;
}
function step() {
  busy = false;
  if (work()) { busy = true; setImmediate(step); }
}
parentPort.on("message", (m) => {
  let f = files.get(m.file);
  if (m.type === "open") {
    f = { id: m.file, fd: -1, parts: m.parts, written: new Set(), next: 0, at: 0, whole: createHash("sha256"), finish: false, failed: false };
    files.set(m.file, f);
    try { f.fd = openSync(m.path, "r"); } catch (err) { fail(f, err); }
  } else if (!f) return;
  else if (m.type === "written") f.written.add(m.index);
  else if (m.type === "finish") f.finish = true;
  else if (m.type === "close") { if (f.fd >= 0) closeSync(f.fd); files.delete(m.file); }
  if (!busy) { busy = true; setImmediate(step); }
});
`;

export interface Part {
  offset: number;
  size: number;
  /** Checked against this when known (else only the whole file is). */
  sha256?: string | undefined;
}

type Reply =
  | { type: "part"; file: number; index: number; ok: boolean; sha256: string }
  | { type: "whole"; file: number; sha256: string }
  | { type: "error"; file: number; message: string; code?: string };

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

/** One hashing thread, shared by the files of a receive; started on first use. */
export class HashThread {
  private worker: Worker | undefined;
  private readonly files = new Map<number, FileHasher>();
  private nextFile = 0;

  /** A checker of the partial file at `path`, whose parts (in file order, tiling it) are `parts`. */
  file(path: string, parts: readonly Part[]): FileHasher {
    const id = this.nextFile++;
    const h = new FileHasher(this, id, path);
    this.files.set(id, h);
    const shown = parts.map((p) => ({ offset: p.offset, size: p.size, sha256: p.sha256 }));
    this.post({ type: "open", file: id, path, parts: shown });
    return h;
  }

  /** @internal */
  post(m: Record<string, unknown>): void {
    if (!this.worker) {
      const w = new Worker(WORKER, { eval: true });
      w.on("message", (r: Reply) => this.files.get(r.file)?.reply(r));
      const lost = (why: string) => {
        this.worker = undefined;
        for (const f of this.files.values()) f.fail(new CliError("UNEXPECTED", why, EXIT.UNEXPECTED));
      };
      w.on("error", (err) => lost(`The hashing thread failed: ${err.message}`));
      w.on("exit", () => lost("The hashing thread ended early"));
      this.worker = w;
    }
    this.worker.postMessage(m);
  }

  /** @internal */
  forget(id: number): void {
    this.files.delete(id);
    this.worker?.postMessage({ type: "close", file: id });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    for (const f of this.files.values())
      f.fail(new CliError("UNEXPECTED", "The hashing thread was closed", EXIT.UNEXPECTED));
    this.files.clear();
    if (w) {
      w.removeAllListeners("exit");
      await w.terminate().catch(() => {});
    }
  }
}

export class FileHasher {
  private readonly parts = new Map<number, Pending<boolean>>();
  private whole: Pending<string> | undefined;
  private failure: unknown;

  constructor(
    private readonly thread: HashThread,
    private readonly id: number,
    private readonly path: string,
  ) {}

  /**
   * Part `index` is on disk: resolves true once checked (and in the whole file's hash), false if it does
   * not match its SHA-256 (then fetch it again and call this again). Parts are checked in file order.
   */
  written(index: number): Promise<boolean> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.parts.set(index, { resolve, reject });
      this.thread.post({ type: "written", file: this.id, index });
    });
  }

  /** The whole file's SHA-256, once every part is checked. */
  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.whole = { resolve, reject };
      this.thread.post({ type: "finish", file: this.id });
    });
  }

  close(): void {
    this.fail(new CliError("UNEXPECTED", "The file's checker was closed", EXIT.UNEXPECTED));
    this.thread.forget(this.id);
  }

  /** @internal */
  reply(r: Reply): void {
    if (r.type === "part") {
      this.parts.get(r.index)?.resolve(r.ok);
      this.parts.delete(r.index);
    } else if (r.type === "whole") this.whole?.resolve(r.sha256);
    else this.fail(fileError(Object.assign(new Error(r.message), { code: r.code }), this.path));
  }

  /** @internal */
  fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.parts.values()) p.reject(err);
    this.parts.clear();
    this.whole?.reject(err);
  }
}
