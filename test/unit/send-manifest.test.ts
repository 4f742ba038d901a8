import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashFileAndParts } from "../../cli/engine/file-io.js";
import { BatchJournal } from "../../cli/engine/send/batch-journal.js";
import { manifestDigest, type SendInput, walk } from "../../cli/engine/send/manifest.js";
import { manifestText } from "../../functions/contract/batches.js";
import { sha } from "./send-fakes.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "sfts-manifest-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const put = (rel: string, data = rel) => {
  const p = join(root, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, data);
  return p;
};
const normal = (path: string): SendInput => ({ path, priority: "normal" });
const paths = (m: Awaited<ReturnType<typeof walk>>) => m.files.map((f) => f.path).sort();

describe("the walk", () => {
  it("sends a folder under its name, a file under its base name, empty files and empty folders kept", async () => {
    put("data/a.txt");
    put("data/sub/deep/b.txt");
    put("data/empty.bin", "");
    mkdirSync(join(root, "data/hollow/inner"), { recursive: true });
    const single = put("notes.txt", "n");
    const m = await walk([normal(join(root, "data")), normal(single)]);
    expect(paths(m)).toEqual(["data/a.txt", "data/empty.bin", "data/sub/deep/b.txt", "notes.txt"]);
    expect(m.dirs).toEqual(["data/hollow/inner"]);
    expect(m.files.find((f) => f.path === "data/empty.bin")?.size).toBe(0);
    expect(m.totalBytes).toBe("data/a.txt".length + "data/sub/deep/b.txt".length + 1);
    expect(m.name).toBe("data and 1 more");
    expect(m.digest).toBe(sha(Buffer.from(manifestText(m.files, m.dirs))));
  });

  it("an empty folder given alone is kept as the batch's one folder", async () => {
    mkdirSync(join(root, "nothing"));
    const m = await walk([normal(join(root, "nothing"))]);
    expect(m.files).toEqual([]);
    expect(m.dirs).toEqual(["nothing"]);
  });

  it("keeps names as data: Unicode in both normal forms, spaces, leading dots, quotes, a newline", async () => {
    const names = [
      "caf\u00e9.txt",
      "cafe\u0301.txt",
      "with space .txt",
      ".hidden",
      'it\'s "quoted"',
      "line\nbreak",
    ];
    for (const n of names) put(`d/${n}`, n);
    const m = await walk([normal(join(root, "d"))]);
    expect(paths(m)).toEqual(names.map((n) => `d/${n}`).sort());
    expect(m.skipped).toEqual([]);
  });

  it("excludes: a pattern without / matches names at any depth, one with / the path inside the folder", async () => {
    put("p/keep.txt");
    put("p/x.tmp");
    put("p/a/b/y.tmp");
    put("p/.git/config");
    put("p/build/out.o");
    put("p/src/build/keep.c");
    const m = await walk([normal(join(root, "p"))], { exclude: ["*.tmp", ".git", "build/**"] });
    expect(paths(m)).toEqual(["p/keep.txt", "p/src/build/keep.c"]);
    // A folder whose every entry is excluded is still a folder of the tree.
    expect(m.dirs).toEqual(["p/a/b"]);
  });

  it("skips symlinks unless told to follow them, naming each once; following cuts loops", async () => {
    put("s/real/file.txt");
    symlinkSync(join(root, "s/real/file.txt"), join(root, "s/link.txt"));
    symlinkSync(join(root, "s"), join(root, "s/real/loop"));
    symlinkSync(join(root, "nowhere"), join(root, "s/broken"));
    const skipped: string[] = [];
    const m = await walk([normal(join(root, "s"))], { onSkip: (e) => skipped.push(e.file) });
    expect(paths(m)).toEqual(["s/real/file.txt"]);
    expect(skipped.sort()).toEqual(
      [join(root, "s/broken"), join(root, "s/link.txt"), join(root, "s/real/loop")].sort(),
    );
    expect(m.skipped.every((s) => /symlink/.test(s.reason))).toBe(true);

    const f = await walk([normal(join(root, "s"))], { followSymlinks: true });
    expect(paths(f)).toEqual(["s/link.txt", "s/real/file.txt"]);
    expect(f.skipped.map((s) => s.reason).sort()).toEqual([
      "is a broken symlink",
      "is a symlink loop (a folder inside itself)",
    ]);
  });

  it("skips FIFOs with a note, and refuses one named directly", async () => {
    put("q/plain.txt");
    execFileSync("mkfifo", [join(root, "q/pipe")]);
    const m = await walk([normal(join(root, "q"))]);
    expect(paths(m)).toEqual(["q/plain.txt"]);
    expect(m.skipped).toEqual([{ file: join(root, "q/pipe"), reason: "is a FIFO" }]);
    await expect(walk([normal(join(root, "q/pipe"))])).rejects.toMatchObject({
      code: "FILE_SPECIAL",
      exitCode: 3,
    });
  });

  it("a path a batch cannot hold (a backslash) is skipped with the reason", async () => {
    put("w/back\\slash.txt");
    put("w/fine.txt");
    const m = await walk([normal(join(root, "w"))]);
    expect(paths(m)).toEqual(["w/fine.txt"]);
    expect(m.skipped[0]?.reason).toMatch(/backslash/);
  });

  it("two folders with the same name are a usage error naming both", async () => {
    put("one/data/a.txt");
    put("two/data/b.txt");
    await expect(walk([normal(join(root, "one/data")), normal(join(root, "two/data"))])).rejects.toThrow(
      /both be sent as data/,
    );
    put("x/data", "a file named like the folder");
    await expect(walk([normal(join(root, "one/data")), normal(join(root, "x/data"))])).rejects.toMatchObject({
      exitCode: 2,
    });
  });

  it("a missing path is exit 3 with its name", async () => {
    await expect(walk([normal(join(root, "absent"))])).rejects.toMatchObject({
      code: "FILE_NOT_FOUND",
      exitCode: 3,
    });
  });

  it("the digest depends on paths and sizes only, not on the order given", () => {
    const a = manifestDigest(
      [
        { path: "b", size: 1 },
        { path: "a", size: 2 },
      ],
      ["d"],
    );
    const b = manifestDigest(
      [
        { path: "a", size: 2 },
        { path: "b", size: 1 },
      ],
      ["d"],
    );
    expect(a).toBe(b);
    expect(
      manifestDigest(
        [
          { path: "a", size: 3 },
          { path: "b", size: 1 },
        ],
        ["d"],
      ),
    ).not.toBe(a);
  });
});

describe("the batch journal", () => {
  it("is written debounced, not once per file, and remembers unchanged files only", async () => {
    for (let i = 0; i < 50; i++) put(`j/${i}.txt`, `${i}`);
    const m = await walk([normal(join(root, "j"))]);
    const env = { HOME: root, XDG_STATE_HOME: join(root, "state") };
    const j = BatchJournal.open("http://s", m.digest, env, 50);
    for (const f of m.files) j.record(f, "a".repeat(64), "tr_x");
    expect(j.writes).toBe(0);
    await new Promise((r) => setTimeout(r, 120));
    expect(j.writes).toBe(1);
    j.batchId = "bt_1";
    j.flush();
    expect(j.writes).toBe(2);

    const again = BatchJournal.open("http://s", m.digest, env, 50);
    expect(again.batchId).toBe("bt_1");
    const first = m.files[0] as (typeof m.files)[number];
    expect(again.lookup(first)).toEqual({ sha256: "a".repeat(64), transferId: "tr_x" });
    expect(again.lookup({ ...first, mtimeMs: first.mtimeMs + 1 })).toBeUndefined();
    expect(again.lookup({ ...first, ino: first.ino + 1 })).toBeUndefined();
    // Another server or another manifest starts afresh.
    expect(BatchJournal.open("http://other", m.digest, env).lookup(first)).toBeUndefined();
    again.remove();
    expect(BatchJournal.open("http://s", m.digest, env).lookup(first)).toBeUndefined();
  });
});

describe("hashing a file and its first parts in one pass", () => {
  it("gives the whole file's SHA-256 and each planned part's, across read boundaries", async () => {
    const data = Buffer.alloc(9 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131) % 251;
    const file = put("h.bin");
    writeFileSync(file, data);
    const parts = [
      { offset: 0, size: 5 * 1024 * 1024 },
      { offset: 5 * 1024 * 1024, size: 3 * 1024 * 1024 + 5 },
    ];
    const r = await hashFileAndParts(file, parts);
    expect(r.sha256).toBe(sha(data));
    expect(r.parts).toEqual(parts.map((p) => sha(data.subarray(p.offset, p.offset + p.size))));
    expect((await hashFileAndParts(file, [])).parts).toEqual([]);
  });
});
