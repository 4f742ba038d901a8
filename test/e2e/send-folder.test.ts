import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journalDir } from "../../cli/engine/journal.js";
import { writeRandomFile } from "../../harness/files.js";
import { apiClient, MiB, sha256 } from "../helpers/api.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "sfts-send-folder-"));
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Writes a tree: path → size (random bytes), or null for an empty folder. Answers path → SHA-256. */
async function tree(root: string, spec: Record<string, number | null>): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const [rel, size] of Object.entries(spec)) {
    const p = join(root, rel);
    if (size === null) {
      await mkdir(p, { recursive: true });
      continue;
    }
    await mkdir(join(p, ".."), { recursive: true });
    hashes.set(rel, await writeRandomFile(p, size));
  }
  return hashes;
}

async function batchFiles(batchId: string) {
  const api = apiClient(stack);
  const items: { id: string; path: string; sha256: string; size: number; status: string }[] = [];
  let cursor: string | undefined;
  do {
    const r = await api.get(`/api/batches/${batchId}/files?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status).toBe(200);
    items.push(...r.body.items);
    cursor = r.body.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

async function storedSha(id: string): Promise<string> {
  const d = await apiClient(stack).get(`/download/${id}?redirect=false`);
  expect(d.status).toBe(200);
  return sha256(Buffer.from(await (await fetch(d.body.url)).arrayBuffer()));
}

/** Every file of the batch is complete, at its path, and storage holds exactly its bytes. */
async function expectBatchHolds(batchId: string, prefix: string, hashes: Map<string, string>) {
  const files = await batchFiles(batchId);
  expect(files.map((f) => f.path).sort()).toEqual([...hashes.keys()].map((k) => `${prefix}/${k}`).sort());
  for (const f of files) {
    expect(f.status, f.path).toBe("complete");
    const local = hashes.get(f.path.slice(prefix.length + 1));
    expect(f.sha256, f.path).toBe(local);
    expect(await storedSha(f.id), f.path).toBe(local);
  }
}

const batchEnd = (events: ReturnType<typeof ofType<"batch">>) => events.find((b) => b.phase === "end");

describe("sfts send FOLDER", () => {
  it("sends a nested folder as one batch: every file at its path, stored bytes hashed back, empty files and folders kept", async () => {
    const root = join(dir, "nested");
    const hashes = await tree(root, {
      "a/b/c.bin": 200_000,
      "a/empty.txt": 0,
      "a/b/deeper/still/d.bin": 70_000,
      "big.bin": 12 * MiB,
      ".dotfile": 10,
      "e/": null,
      "x/y/": null,
    });
    const env = await cliEnv(stack);
    const r = await runCli(["send", root, "--json"], env).done;
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const start = ofType(r.events, "batch").find((b) => b.phase === "start");
    const batchId = start?.batchId ?? "";
    expect(batchId).toMatch(/^bt_/);
    expect(start).toMatchObject({ files: 5, dirs: 2, resumed: false });
    expect(ofType(r.events, "done")).toHaveLength(5);
    expect(ofType(r.events, "done").every((d) => d.batchId === batchId)).toBe(true);
    await expectBatchHolds(batchId, "nested", hashes);
    const detail = await apiClient(stack).get(`/api/batches/${batchId}`);
    expect(detail.body.dirs.sort()).toEqual(["nested/e", "nested/x/y"]);
    expect(detail.body.status).toBe("complete");
  });

  it("keeps hostile names as they are: spaces, NFC and NFD, leading dots, quotes, a newline", async () => {
    const root = join(dir, "hostile");
    const names = [
      "with space .txt",
      "caf\u00e9.txt",
      "cafe\u0301.txt",
      ".hidden",
      "..double",
      'it\'s "quoted" & $x.txt',
      "line\nbreak.txt",
      "日本語/ファイル.txt",
    ];
    const hashes = await tree(root, Object.fromEntries(names.map((n) => [n, 1000 + n.length])));
    const r = await runCli(["send", root, "--json"], await cliEnv(stack)).done;
    expect(r.code).toBe(0);
    const batchId = batchEnd(ofType(r.events, "batch"))?.batchId ?? "";
    await expectBatchHolds(batchId, "hostile", hashes);
  });

  describe("kill -9 mid-batch, then the same command sends only what was missing", () => {
    const spec = () => {
      const s: Record<string, number | null> = { "big/one.bin": 20 * MiB };
      for (let i = 0; i < 40; i++) s[`small/${String(i).padStart(2, "0")}.bin`] = 256 * 1024;
      return s;
    };
    const args = (root: string) => ["send", root, "--json", "--limit-rate", "8MiB/s", "-c", "2", "-t", "4"];

    async function killed(name: string) {
      const root = join(dir, name);
      const hashes = await tree(root, spec());
      const env = await cliEnv(stack);
      let doneBeforeKill = 0;
      const first = runCli(args(root), env, (e, child) => {
        if (e.type === "done") doneBeforeKill++;
        if (e.type === "progress" && e.bytesDone >= 6 * MiB) child.kill("SIGKILL");
      });
      const r1 = await first.done;
      expect(r1.signal).toBe("SIGKILL");
      const batchId = ofType(r1.events, "batch")[0]?.batchId ?? "";
      // What the server holds after the kill, in bytes.
      const stored = (await batchFiles(batchId))
        .filter((f) => f.status === "complete")
        .reduce((n, f) => n + f.size, 0);
      const total = [...Object.values(spec())].reduce<number>((n, s) => n + (s ?? 0), 0);
      expect(stored).toBeLessThan(total);
      return { root, hashes, env, batchId, stored, total, doneBeforeKill };
    }

    /** Bytes the second run may send again beyond what was missing: the PUTs cut by the kill. */
    const slack = 2 * 8 * MiB + 4 * 256 * 1024;

    it("with the journal", async () => {
      const k = await killed("killed");
      const r2 = await runCli(args(k.root), k.env).done;
      expect(r2.code).toBe(0);
      const end = batchEnd(ofType(r2.events, "batch"));
      expect(end?.batchId).toBe(k.batchId);
      expect(end?.resumed).toBe(true);
      expect(end?.bytesSent ?? Number.NaN).toBeLessThanOrEqual(k.total - k.stored + slack);
      // Files complete before the kill are not sent again.
      const resent = ofType(r2.events, "done").filter((d) => d.bytesSent > 0).length;
      expect(resent).toBeLessThanOrEqual(41 - k.doneBeforeKill);
      await expectBatchHolds(k.batchId, "killed", k.hashes);
    });

    it("without the journal (as on another host): the server finds the batch by its digest", async () => {
      const k = await killed("killed-nojournal");
      await rm(journalDir(k.env), { recursive: true, force: true });
      const r2 = await runCli(args(k.root), k.env).done;
      expect(r2.code).toBe(0);
      expect(ofType(r2.events, "hash").length).toBeGreaterThan(0); // hashed again, nothing local to go by
      const end = batchEnd(ofType(r2.events, "batch"));
      expect(end?.batchId).toBe(k.batchId);
      expect(end?.resumed).toBe(true);
      expect(end?.bytesSent ?? Number.NaN).toBeLessThanOrEqual(k.total - k.stored + slack);
      await expectBatchHolds(k.batchId, "killed-nojournal", k.hashes);
    });
  });

  it("a file changed while it is sent: exit 9, and the server shows its transfer failed with the reason", async () => {
    const root = join(dir, "changing");
    await tree(root, { "grows.bin": 24 * MiB, "other.txt": 100 });
    const env = await cliEnv(stack);
    let changed = false;
    const r = await runCli(["send", root, "--json", "--limit-rate", "8MiB/s", "-c", "1"], env, (e) => {
      if (e.type === "part" && !changed) {
        changed = true;
        void appendFile(join(root, "grows.bin"), "more");
      }
    }).done;
    expect(r.code).toBe(9);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const err = ofType(r.events, "error").find((e) => e.file?.endsWith("grows.bin"));
    expect(err?.code).toBe("FILE_CHANGED");
    const t = await apiClient(stack).get(`/api/files/${err?.transferId}`);
    expect(t.body.status).toBe("failed");
    expect(t.body.lastError).toMatch(/changed while it was being sent/);
    // The other file of the batch is stored all the same.
    expect(ofType(r.events, "done").map((d) => d.path)).toEqual(["changing/other.txt"]);
  });

  it("two folders of the same name are a usage error naming both; nothing is sent", async () => {
    await tree(join(dir, "p1"), { "data/a.txt": 10 });
    await tree(join(dir, "p2"), { "data/b.txt": 10 });
    const r = await runCli(["send", join(dir, "p1/data"), join(dir, "p2/data")], await cliEnv(stack)).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/would both be sent as data/);
  });

  it("skips symlinks and FIFOs inside a folder, naming each once, and sends the rest", async () => {
    const root = join(dir, "mixed");
    await tree(root, { "real.txt": 50 });
    const { symlink } = await import("node:fs/promises");
    await symlink(join(root, "real.txt"), join(root, "link.txt"));
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [join(root, "pipe")]);
    await writeFile(join(root, "after.txt"), "x");
    const r = await runCli(["send", root, "--json"], await cliEnv(stack)).done;
    expect(r.code).toBe(0);
    expect(
      ofType(r.events, "skip")
        .map((s) => s.file)
        .sort(),
    ).toEqual([join(root, "link.txt"), join(root, "pipe")]);
    expect(
      ofType(r.events, "done")
        .map((d) => d.path)
        .sort(),
    ).toEqual(["mixed/after.txt", "mixed/real.txt"]);
  });
});
