import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HashThread, type Part } from "../../cli/engine/receive/file-hasher.js";
import { PartialJournalWriter, readPartialJournal } from "../../cli/engine/receive/partial-journal.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sfts-receive-checker-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file of `sizes` parts, with the parts' true SHA-256s; the bytes on disk are zeros until written. */
async function partsOf(name: string, sizes: number[]) {
  const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
  const parts: Part[] = [];
  let offset = 0;
  for (const size of sizes) {
    parts.push({ offset, size, sha256: sha(data.subarray(offset, offset + size)) });
    offset += size;
  }
  const path = join(dir, name);
  await writeFile(path, Buffer.alloc(data.length));
  const put = async (i: number, bytes = data) => {
    const p = parts[i] as Part;
    const f = await open(path, "r+");
    await f.write(bytes, p.offset, p.size, p.offset);
    await f.close();
  };
  return { data, parts, path, put };
}

describe("the hashing thread: each part checked, the whole file hashed, in one in-order pass", () => {
  it("parts written out of order are checked in file order; the whole file's SHA-256 follows", async () => {
    const thread = new HashThread();
    try {
      const { data, parts, path, put } = await partsOf("order.bin", [
        3 << 20,
        5 << 20,
        1 << 20,
        (4 << 20) | 7,
      ]);
      const h = thread.file(path, parts);
      const settled: number[] = [];
      const checks = [2, 0, 3, 1].map(async (i) => {
        await put(i);
        const ok = await h.written(i);
        settled.push(i);
        return ok;
      });
      expect(await Promise.all(checks)).toEqual([true, true, true, true]);
      expect(settled).toEqual([0, 1, 2, 3]);
      expect(await h.digest()).toBe(sha(data));
      h.close();
    } finally {
      await thread.close();
    }
  });

  it("a damaged part is refused and left out of the whole file's hash; written again, it passes", async () => {
    const thread = new HashThread();
    try {
      const { data, parts, path, put } = await partsOf("damaged.bin", [2 << 20, 2 << 20, 2 << 20]);
      const h = thread.file(path, parts);
      await put(0);
      const bad = Buffer.from(data);
      const at = (2 << 20) + 12345;
      bad[at] = (bad[at] ?? 0) ^ 0x01; // one bit of part 1
      await put(1, bad);
      await put(2);
      const [a, b, c] = [h.written(0), h.written(1), h.written(2)];
      expect(await a).toBe(true);
      expect(await b).toBe(false);
      await put(1);
      expect(await h.written(1)).toBe(true);
      expect(await c).toBe(true);
      expect(await h.digest()).toBe(sha(data)); // the damaged bytes never reached it
      h.close();
    } finally {
      await thread.close();
    }
  });

  it("one thread serves several files at once; an empty file hashes as empty", async () => {
    const thread = new HashThread();
    try {
      const x = await partsOf("x.bin", [1 << 20, 1 << 20]);
      const y = await partsOf("y.bin", [3 << 20]);
      const empty = await partsOf("empty.bin", []);
      const hx = thread.file(x.path, x.parts);
      const hy = thread.file(y.path, y.parts);
      const he = thread.file(empty.path, empty.parts);
      await Promise.all([x.put(0), x.put(1), y.put(0)]);
      const ok = await Promise.all([hx.written(1), hy.written(0), hx.written(0)]);
      expect(ok).toEqual([true, true, true]);
      expect(await Promise.all([hx.digest(), hy.digest(), he.digest()])).toEqual([
        sha(x.data),
        sha(y.data),
        sha(Buffer.alloc(0)),
      ]);
    } finally {
      await thread.close();
    }
  });

  it("a partial file shorter than its parts is a file error, not a hang", async () => {
    const thread = new HashThread();
    try {
      const { parts, path } = await partsOf("short.bin", [1 << 20, 1 << 20]);
      await writeFile(path, Buffer.alloc(100));
      const h = thread.file(path, parts);
      await expect(h.written(0)).rejects.toThrow(/short\.bin/);
    } finally {
      await thread.close();
    }
  });
});

describe("the partial file's journal", () => {
  it("saves coalesce: every save resolves, the file ends with the latest state, no temp file left", async () => {
    const file = join(dir, "p.sfts-partial.json");
    const w = new PartialJournalWriter(file);
    const state = (done: number[]) => ({
      version: 1 as const,
      transferId: "tr_x",
      size: 10,
      sha256: "s",
      done,
    });
    const saves = [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]].map((d) => w.save(state(d)));
    await Promise.all(saves);
    expect(readPartialJournal(file)?.done).toEqual([0, 1, 2, 3]);
    expect((await readdir(dir)).filter((n) => n.includes(".tmp"))).toEqual([]);
    await w.remove();
    expect(readPartialJournal(file)).toBeUndefined();
  });

  it("a torn or foreign journal reads as none (the ranges are fetched again)", async () => {
    const file = join(dir, "torn.json");
    await writeFile(file, '{"version":1,"transferId":"tr_x","size":10,"sha');
    expect(readPartialJournal(file)).toBeUndefined();
    await writeFile(file, JSON.stringify({ version: 2, done: [1] }));
    expect(readPartialJournal(file)).toBeUndefined();
    expect(await readFile(file, "utf8")).toContain("version");
  });
});
