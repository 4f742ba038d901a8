/**
 * The whole-file hash in a worker thread (content-hash.ts): the same digests as hashing in process, the
 * first parts' digests before the whole file's, progress up to the size, clear errors, abort, and the
 * passes limit handing a pass on without letting another slip in.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../cli/engine/errors.js";
import { HASH_READ_BYTES, HashPasses, hashInWorker } from "../../cli/engine/send/content-hash.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sfts-content-hash-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("hashInWorker", () => {
  it("hashes the whole file and its first parts across read boundaries, with progress to the end", async () => {
    const data = randomBytes(2 * HASH_READ_BYTES + 12_345);
    const path = join(dir, "a.bin");
    await writeFile(path, data);
    // Parts that straddle the reads: 5 MiB + 1, then up to just past the second read.
    const p1 = { offset: 0, size: 5 * 1024 * 1024 + 1 };
    const p2 = { offset: p1.size, size: HASH_READ_BYTES * 2 + 10 - p1.size };
    const seen: number[] = [];
    let partsFirst = false;
    const h = hashInWorker(path, [p1, p2], (b) => seen.push(b));
    const parts = await h.parts.then((d) => {
      partsFirst = seen.at(-1) !== data.length;
      return d;
    });
    expect(parts).toEqual([
      hex(data.subarray(0, p1.size)),
      hex(data.subarray(p2.offset, p2.offset + p2.size)),
    ]);
    expect(await h.sha256).toBe(hex(data));
    expect(partsFirst).toBe(true);
    expect(seen.at(-1)).toBe(data.length);
  });

  it("a file with no parts asked, and an empty file", async () => {
    const path = join(dir, "empty.bin");
    await writeFile(path, Buffer.alloc(0));
    const h = hashInWorker(path, []);
    expect(await h.parts).toEqual([]);
    expect(await h.sha256).toBe(hex(Buffer.alloc(0)));
  });

  it("a missing file is a clear CliError on both promises", async () => {
    const h = hashInWorker(join(dir, "nope.bin"), [{ offset: 0, size: 10 }]);
    await expect(h.parts).rejects.toBeInstanceOf(CliError);
    await expect(h.sha256).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
  });

  it("an abort ends the pass with the signal's reason", async () => {
    const path = join(dir, "b.bin");
    await writeFile(path, randomBytes(4 * HASH_READ_BYTES));
    const stop = new AbortController();
    const h = hashInWorker(path, [], undefined, stop.signal);
    const why = new Error("stopped");
    stop.abort(why);
    await expect(h.sha256).rejects.toBe(why);
  });
});

describe("HashPasses", () => {
  it("lets `limit` run, queues the rest in order, and hands a pass on as it is released", async () => {
    const passes = new HashPasses(() => 2);
    const never = new AbortController().signal;
    const a = await passes.acquire(never);
    const b = await passes.acquire(never);
    const order: string[] = [];
    const c = passes.acquire(never).then((r) => {
      order.push("c");
      return r;
    });
    const d = passes.acquire(never).then((r) => {
      order.push("d");
      return r;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    a();
    a(); // twice is once
    const rc = await c;
    expect(order).toEqual(["c"]);
    b();
    const rd = await d;
    expect(order).toEqual(["c", "d"]);
    rc();
    rd();
    // Both free again: two go at once.
    const e = await passes.acquire(never);
    const f = await passes.acquire(never);
    e();
    f();
  });

  it("a waiter whose signal aborts leaves the queue", async () => {
    const passes = new HashPasses(() => 1);
    const held = await passes.acquire(new AbortController().signal);
    const stop = new AbortController();
    const waiting = passes.acquire(stop.signal);
    stop.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    held();
    (await passes.acquire(new AbortController().signal))();
  });
});
