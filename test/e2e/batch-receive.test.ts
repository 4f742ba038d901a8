/**
 * `sfts send DIR` then `sfts receive bt_… -o DIR`, both as processes against the local stack: a nested
 * tree comes back byte-identical (diff -r), names included; killed half way, the same command fetches only the files not yet verified;
 * a batch whose table was tampered with (a path leading out of DIR, written straight into DynamoDB Local)
 * is refused whole and nothing is written; a symlink inside DIR is never written through; paths that
 * collide when case or accents fold are named and nothing is overwritten; files not complete are named.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, apiClient, MiB, sha256 } from "../helpers/api.js";
import { type BatchFile, makeBatch, rewritePath } from "../helpers/batches.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { stackInfo, startTestStack, type TestStack } from "../helpers/stack.js";

const run = promisify(execFile);
const STACK_TRACE = /\n\s+at /;
let stack: TestStack;
let api: Api;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startTestStack();
  api = apiClient(stack);
  dir = await mkdtemp(join(tmpdir(), "sfts-batch-receive-"));
  env = await cliEnv(stack);
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function sfts(args: string[], onEvent?: Parameters<typeof runCli>[2]) {
  const r = await runCli(args, env, onEvent, dir).done;
  expect(r.stderr).not.toMatch(STACK_TRACE);
  return r;
}

/** Writes the files (and empty folders) under root. */
async function writeTree(root: string, files: BatchFile[], dirs: string[] = []) {
  for (const f of files) {
    await mkdir(dirname(join(root, f.path)), { recursive: true });
    await writeFile(join(root, f.path), f.data);
  }
  for (const d of dirs) await mkdir(join(root, d), { recursive: true });
}

/** Every entry under root, relative, sorted: what "nothing was written" is checked against. */
async function listing(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  return (await readdir(root, { recursive: true })).map(String).sort();
}

const NESTED: BatchFile[] = [
  { path: "README.txt", data: Buffer.from("hello\n") },
  { path: ".hidden", data: randomBytes(100) },
  { path: "empty.txt", data: Buffer.alloc(0) },
  { path: "data/raw/scan 1.bin", data: randomBytes(300 * 1024) },
  { path: "data/raw/.cache/x", data: randomBytes(10) },
  { path: "données/été 2026/résumé.txt", data: Buffer.from("café\n") },
  { path: "東京/読我 a b.md", data: randomBytes(4096) },
  { path: "big/twenty.bin", data: randomBytes(20 * MiB), parts: [8 * MiB, 8 * MiB, 4 * MiB] },
];
const NESTED_DIRS = ["empty dir", "data/empty inside", ".dot-dir"];

describe("sfts receive bt_…", () => {
  let batchId: string;
  let src: string;

  beforeAll(async () => {
    src = join(dir, "src");
    await writeTree(src, NESTED, NESTED_DIRS);
    // The real sender: the folder goes under its name (src/…), like scp -r.
    const sent = await sfts(["send", src, "--json"]);
    expect(sent.code, sent.stderr).toBe(0);
    batchId = ofType(sent.events, "batch").find((e) => e.phase === "end")?.batchId ?? "";
    expect(batchId).toMatch(/^bt_/);
  });

  it("recreates a nested tree byte-identical under -o DIR (diff -r): Unicode, spaces, dots, empty files and folders", async () => {
    const out = join(dir, "copy");
    const r = await sfts(["receive", batchId, "-o", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${out}  ${batchId}  ${NESTED.length} files`);
    expect(r.stdout).toMatch(new RegExp(`${NESTED.length} received, 0 already there`));
    expect(await readdir(out)).toEqual(["src"]);
    const diff = await run("diff", ["-r", src, join(out, "src")]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(diff.stdout ?? "").toBe("");
    expect(await listing(join(out, "src"))).toEqual(await listing(src)); // no partial file or journal left

    // Verified again by the CLI's own check.
    const v = await sfts(["verify", out, "--id", batchId]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain(`OK  ${out}  ${NESTED.length} files and ${NESTED_DIRS.length} empty folders`);
    // The multipart file came back range by range, each range checked against its part's SHA-256.
    const big = await sfts(["list", batchId, "--json"]);
    const twenty = (JSON.parse(big.stdout) as { path: string; upload?: string }[]).find(
      (f) => f.path === "src/big/twenty.bin",
    );
    expect(twenty?.upload).toBe("multipart");
  });

  it("run again, skips every file without fetching (the receive journal); --json ends with the summary", async () => {
    const out = join(dir, "copy");
    const r = await sfts(["receive", batchId, "-o", out, "--json"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
    expect(summary).toMatchObject({
      type: "received",
      batchId,
      fetched: 0,
      skipped: NESTED.length,
      bytesFetched: 0,
    });
    expect(ofType(r.events, "start")).toHaveLength(0);
  });

  it("a file changed in DIR is not overwritten without --force (exit 11, named); with --force it is fetched again", async () => {
    const out = join(dir, "copy");
    const changed = join(out, "src/data/raw/scan 1.bin");
    await writeFile(changed, randomBytes(300 * 1024));
    const refused = await sfts(["receive", batchId, "-o", out]);
    expect(refused.code).toBe(11);
    expect(refused.stderr).toContain('"src/data/raw/scan 1.bin"');
    expect(refused.stderr).toMatch(/--force/);
    const forced = await sfts(["receive", batchId, "-o", out, "--force", "--json"]);
    expect(forced.code).toBe(0);
    expect(ofType(forced.events, "done").map((e) => e.file)).toEqual([changed]);
    expect((await readFile(changed)).equals(NESTED[3]?.data as Buffer)).toBe(true);
  });

  it("killed half way (kill -9), the same command fetches only the files not yet received", async () => {
    const files: BatchFile[] = Array.from({ length: 30 }, (_, i) => ({
      path: `part/f${String(i).padStart(2, "0")}.bin`,
      data: randomBytes(128 * 1024),
    }));
    const id = (await makeBatch(api, "thirty", files)).id;
    const out = join(dir, "killed");
    const args = ["receive", id, "-o", out, "--json", "--limit-rate", "1MiB/s", "--files", "2"];
    let seen = 0;
    const first = await sfts(args, (e, child) => {
      if (e.type === "done" && ++seen === 10) child.kill("SIGKILL");
    });
    expect(first.signal).toBe("SIGKILL");
    const got = ofType(first.events, "done").length;
    for (const e of ofType(first.events, "done")) {
      expect(e.batchId).toBe(id);
      expect(e.file).toBe(join(out, e.path ?? "?"));
    }
    expect(got).toBeGreaterThanOrEqual(10);
    expect(got).toBeLessThan(30);
    const second = await sfts(["receive", id, "-o", out, "--json", "--files", "2"]);
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout.trim().split("\n").pop() ?? "{}");
    expect(summary.skipped).toBeGreaterThanOrEqual(got);
    expect(summary.fetched + summary.skipped).toBe(30);
    expect(summary.bytesFetched).toBe(summary.fetched * 128 * 1024);
    for (const f of files) expect(sha256(await readFile(join(out, f.path))), f.path).toBe(sha256(f.data));
    expect((await listing(out)).filter((p) => p.includes("sfts-partial"))).toEqual([]);
  });

  it("a file not complete on the server is named, the exit code says so (6), the others are received", async () => {
    const files: BatchFile[] = [
      { path: "ok.txt", data: Buffer.from("fine") },
      { path: "later/unsent.bin", data: randomBytes(1000), unsent: true },
    ];
    const id = (await makeBatch(api, "partly", files)).id;
    const out = join(dir, "partly");
    const r = await sfts(["receive", id, "-o", out]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^sfts: 1 file is not complete on the server/);
    expect(r.stderr).toContain('"later/unsent.bin" uploading');
    expect(await readFile(join(out, "ok.txt"), "utf8")).toBe("fine");
  });
});

describe("sfts receive bt_…: paths from a server that cannot be trusted", () => {
  const hostile = [
    "../escape.txt",
    "/tmp/sfts-absolute-escape.txt",
    "a/../../escape.txt",
    "C:/evil.txt",
    "dir\\..\\evil",
  ];

  for (const path of hostile)
    it(`refuses the whole batch when one path is ${JSON.stringify(path)} (written into the table), exit 6, nothing written`, async () => {
      const files: BatchFile[] = [
        { path: `innocent/${randomBytes(4).toString("hex")}.txt`, data: Buffer.from("a") },
        { path: "victim.txt", data: Buffer.from("b") },
      ];
      const made = await makeBatch(api, "hostile", files, ["empty"]);
      await rewritePath(stackInfo(stack), made.ids.get("victim.txt") as string, path);
      const listed = await api.get(`/api/batches/${made.id}/files`);
      expect(listed.body.items.map((f: { path: string }) => f.path)).toContain(path);

      const parent = join(dir, `hostile-${randomBytes(4).toString("hex")}`);
      await mkdir(parent);
      const out = join(parent, "out");
      const r = await sfts(["receive", made.id, "-o", out]);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/^sfts: Batch bt_\w+ has a path that would not stay inside/);
      expect(r.stderr).toContain(JSON.stringify(path));
      expect(r.stderr).toMatch(/nothing was written/);
      expect(await listing(parent)).toEqual([]); // not even DIR
      expect(existsSync("/tmp/sfts-absolute-escape.txt")).toBe(false);
      expect(existsSync(join(dir, "escape.txt"))).toBe(false);
    });

  it("a symlink inside DIR pointing out is not written through: refused before anything is written", async () => {
    const files: BatchFile[] = [
      { path: "first.txt", data: Buffer.from("1") },
      { path: "link/inside.txt", data: Buffer.from("2") },
    ];
    const id = (await makeBatch(api, "via-link", files)).id;
    const outside = join(dir, "outside");
    await mkdir(outside);
    const out = join(dir, "with-link");
    await mkdir(out);
    await symlink(outside, join(out, "link"));
    const r = await sfts(["receive", id, "-o", out]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('"link" is a symbolic link');
    expect(await readdir(outside)).toEqual([]);
    expect(await listing(out)).toEqual(["link"]);
  });

  it("paths that collide when case or accents fold (A.txt/a.txt, NFC/NFD é) are named; nothing is overwritten", async () => {
    const nfc = "caf\u00e9.txt";
    const nfd = "cafe\u0301.txt";
    const files: BatchFile[] = [
      { path: "A.txt", data: Buffer.from("upper") },
      { path: "a.txt", data: Buffer.from("lower") },
      { path: nfc, data: Buffer.from("composed") },
      { path: nfd, data: Buffer.from("decomposed") },
      { path: "fine.txt", data: Buffer.from("fine") },
    ];
    const id = (await makeBatch(api, "collide", files)).id;
    const out = join(dir, "collide");
    await mkdir(out);
    await writeFile(join(out, "a.txt"), "mine");
    const r = await sfts(["receive", id, "-o", out]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/paths that would overwrite one another; nothing was written/);
    expect(r.stderr).toContain('"A.txt" and "a.txt"');
    expect(r.stderr).toContain(`"${nfd}" (cafe\\u0301.txt) and "${nfc}" (caf\\u00e9.txt)`);
    expect(await listing(out)).toEqual(["a.txt"]);
    expect(await readFile(join(out, "a.txt"), "utf8")).toBe("mine");
  });

  it("sfts receive tr_… still receives one file as before", async () => {
    const made = await makeBatch(api, "single", [{ path: "sub/one.bin", data: randomBytes(5000) }]);
    const tr = made.ids.get("sub/one.bin") as string;
    const out = join(dir, "single");
    await mkdir(out);
    const r = await runCli(["receive", tr], env, undefined, out).done;
    expect(r.code).toBe(0);
    expect(await readdir(out)).toEqual(["one.bin"]);
  });
});
