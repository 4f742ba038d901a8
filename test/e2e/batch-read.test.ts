/**
 * Reading batches with the CLI as a process against the local stack: `sfts list` (a Batches table above
 * the transfers, --batches, a batch's files), `sfts status bt_…` and `sfts cancel bt_…`, `sfts verify DIR
 * --id bt_…` (one flipped byte, one missing file, one extra file and folder: exit 9 naming each), and a
 * batch's share link (the JSON listing, a file fetched with curl and its SHA-256 checked, max downloads,
 * expiry, revoke).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchSummary, SharedBatchListing } from "../../functions/contract/batches.js";
import type { FileSummary, ShareInfo } from "../../functions/contract/schemas.js";
import { type Api, apiClient, sha256 } from "../helpers/api.js";
import { type BatchFile, type MadeBatch, makeBatch } from "../helpers/batches.js";
import { type CliResult, cliEnv, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const STACK_TRACE = /\n\s+at /;
let stack: TestStack;
let api: Api;
let dir: string;
let env: Record<string, string>;

const FILES: BatchFile[] = [
  { path: "a.txt", data: Buffer.from("alpha\n") },
  { path: "sub/b.bin", data: randomBytes(70_000) },
  { path: "sub/deeper/c d.bin", data: randomBytes(3000) },
  { path: "ünï/ë.txt", data: Buffer.from("é\n") },
];
const DIRS = ["nothing here"];
let full: MadeBatch;
let open: MadeBatch;

async function sfts(...args: string[]): Promise<CliResult> {
  const r = await runCli(args, env, undefined, dir).done;
  expect(r.stdout).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  return r;
}

function curl(...args: string[]): Promise<{ code: number | null; stdout: Buffer }> {
  const child = spawn("curl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => chunks.push(d));
  return new Promise((resolve) =>
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(chunks) })),
  );
}
/** A GET with curl: the status and the body. */
async function get(url: string): Promise<{ status: number; body: Buffer }> {
  const r = await curl("-sS", "-L", "-w", "\n%{http_code}", url);
  expect(r.code).toBe(0);
  const text = r.stdout;
  const nl = text.lastIndexOf(10);
  return { status: Number(text.subarray(nl + 1).toString()), body: text.subarray(0, nl) };
}

beforeAll(async () => {
  stack = await startTestStack();
  api = apiClient(stack);
  dir = await mkdtemp(join(tmpdir(), "sfts-batch-read-"));
  env = await cliEnv(stack);
  full = await makeBatch(api, "dataset", FILES, DIRS);
  open = await makeBatch(api, "half sent", [
    { path: "done.txt", data: Buffer.from("sent") },
    { path: "waiting/one.bin", data: randomBytes(2000), unsent: true },
    { path: "waiting/two.bin", data: randomBytes(3000), unsent: true },
  ]);
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("sfts list with batches", () => {
  it("shows a Batches table (id, name, files, size, progress, status, created) above the transfers", async () => {
    const r = await sfts("list");
    expect(r.code).toBe(0);
    const [title, head, ...rest] = r.stdout.split("\n");
    expect(title).toBe("Batches");
    expect(head).toMatch(/^ID\s+NAME\s+FILES\s+SIZE\s+PROGRESS\s+STATUS\s+CREATED \(UTC\)$/);
    const fullRow = rest.find((l) => l.startsWith(full.id)) ?? "";
    expect(fullRow).toMatch(/\s+dataset\s+4\/4\s+.*100\.0%\s+complete\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const openRow = rest.find((l) => l.startsWith(open.id)) ?? "";
    expect(openRow).toMatch(/\s+half sent\s+1\/3\s+.*\s+open\s/);
    // Then the transfers, as before: every file of both batches.
    const t = rest.indexOf("Transfers");
    expect(t).toBeGreaterThan(0);
    expect(rest[t + 1]).toMatch(
      /^ID\s+NAME\s+SIZE\s+STATUS\s+PRIORITY\s+PROGRESS\s+CREATED \(UTC\)\s+SHA-256$/,
    );
    expect(rest.slice(t + 2).filter((l) => /^tr_/.test(l))).toHaveLength(7);
  });

  it("--json stays the transfers array; --batches --json is the batches", async () => {
    const files = JSON.parse((await sfts("list", "--json")).stdout) as FileSummary[];
    expect(files).toHaveLength(7);
    expect(files.every((f) => f.id.startsWith("tr_"))).toBe(true);
    const batches = JSON.parse((await sfts("list", "--batches", "--json")).stdout) as BatchSummary[];
    expect(batches.map((b) => b.id).sort()).toEqual([full.id, open.id].sort());
    expect(batches.find((b) => b.id === full.id)).toMatchObject({
      name: "dataset",
      fileCount: 4,
      filesComplete: 4,
      totalBytes: FILES.reduce((n, f) => n + f.data.length, 0),
    });
    const table = await sfts("list", "--batches");
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+FILES/);
    expect(table.stdout).not.toContain("tr_");
  });

  it("list bt_… lists the batch's files by path with size, status, progress, id and SHA-256, paged", async () => {
    const r = await sfts("list", full.id, "--page-size", "1");
    expect(r.code).toBe(0);
    const [head, ...rows] = r.stdout.trimEnd().split("\n");
    expect(head).toMatch(/^PATH\s+SIZE\s+STATUS\s+PROGRESS\s+ID\s+SHA-256$/);
    expect(rows).toHaveLength(FILES.length);
    for (const f of FILES) {
      const row = rows.find((l) => l.startsWith(`${f.path}  `)) ?? "";
      expect(row, f.path).toContain(full.ids.get(f.path) as string);
      expect(row).toMatch(/\scomplete\s+100\.0%\s/);
      expect(row.endsWith(sha256(f.data))).toBe(true);
    }
    const json = JSON.parse(
      (await sfts("list", full.id, "--json", "--page-size", "2")).stdout,
    ) as FileSummary[];
    expect(json.map((f) => f.path).sort()).toEqual(FILES.map((f) => f.path).sort());
  });

  it("refuses --status with a batch, and an id that is not a batch's (exit 2); an unknown batch is exit 10", async () => {
    expect((await sfts("list", full.id, "--status", "complete")).code).toBe(2);
    expect((await sfts("list", "tr_01kb4x5q2m3n4p5r6s7t8v9w0x")).code).toBe(2);
    const unknown = await sfts("list", "bt_00000000000000000000000000");
    expect(unknown.code).toBe(10);
    expect(unknown.stderr).toMatch(/^sfts: /);
  });
});

describe("sfts status / cancel bt_…", () => {
  it("status shows the summary and names the files not complete", async () => {
    const r = await sfts("status", open.id);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${open.id}  half sent`);
    expect(r.stdout).toMatch(/files\s+1 of 3 complete/);
    expect(r.stdout).toContain("Not complete (2):");
    expect(r.stdout).toMatch(/^waiting\/one\.bin\s+.*uploading/m);
    expect(r.stdout).toMatch(/^waiting\/two\.bin\s+.*uploading/m);
    expect(r.stdout).not.toMatch(/^done\.txt/m);
    const json = JSON.parse((await sfts("status", open.id, "--json")).stdout);
    expect(json.incomplete.map((f: FileSummary) => f.path).sort()).toEqual([
      "waiting/one.bin",
      "waiting/two.bin",
    ]);
    const whole = await sfts("status", full.id);
    expect(whole.stdout).toContain("every file is complete");
  });

  it("cancel aborts every unfinished file and keeps the complete one", async () => {
    const made = await makeBatch(api, "to cancel", [
      { path: "kept.txt", data: Buffer.from("kept") },
      { path: "gone/x.bin", data: randomBytes(1000), unsent: true },
      { path: "gone/y.bin", data: randomBytes(1000), unsent: true },
    ]);
    const r = await sfts("cancel", made.id);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^Cancelled ${made.id}: 2 unfinished files aborted, 1 complete kept`),
    );
    const files = JSON.parse((await sfts("list", made.id, "--json")).stdout) as FileSummary[];
    expect(Object.fromEntries(files.map((f) => [f.path, f.status]))).toEqual({
      "kept.txt": "complete",
      "gone/x.bin": "aborted",
      "gone/y.bin": "aborted",
    });
  });
});

describe("sfts verify DIR --id bt_…", () => {
  let tree: string;
  beforeAll(async () => {
    tree = join(dir, "tree");
    for (const f of FILES) {
      await mkdir(dirname(join(tree, f.path)), { recursive: true });
      await writeFile(join(tree, f.path), f.data);
    }
    for (const d of DIRS) await mkdir(join(tree, d), { recursive: true });
  });

  it("exit 0 when the folder is the batch", async () => {
    const r = await sfts("verify", tree, "--id", full.id);
    expect(r.stdout).toBe(`OK  ${tree}  4 files and 1 empty folder match ${full.id}\n`);
    expect(r.code).toBe(0);
  });

  it("one flipped byte, one missing file, one extra file and folder: exit 9 naming each", async () => {
    const bad = join(dir, "tree-bad");
    for (const f of FILES) {
      await mkdir(dirname(join(bad, f.path)), { recursive: true });
      await writeFile(join(bad, f.path), f.data);
    }
    await mkdir(join(bad, "nothing here"));
    const b = Buffer.from(FILES[1]?.data as Buffer);
    b[500] = (b[500] ?? 0) ^ 0x01;
    await writeFile(join(bad, "sub/b.bin"), b);
    await unlink(join(bad, "sub/deeper/c d.bin"));
    await writeFile(join(bad, "stray.txt"), "not in the batch");
    await mkdir(join(bad, "new folder"));
    const r = await sfts("verify", bad, "--id", full.id);
    expect(r.code).toBe(9);
    expect(r.stdout).toContain(
      `MISMATCH  sub/b.bin  expected ${sha256(FILES[1]?.data as Buffer)} got ${sha256(b)}`,
    );
    expect(r.stdout).toMatch(/^MISSING\s+sub\/deeper\/c d\.bin$/m);
    expect(r.stdout).toMatch(/^EXTRA\s+stray\.txt$/m);
    expect(r.stdout).toMatch(/^EXTRA\s+new folder$/m);
    expect(r.stdout).toContain(`differs from ${full.id}: 1 differ, 1 missing, 2 extra`);
    const json = JSON.parse((await sfts("verify", bad, "--id", full.id, "--json")).stdout);
    expect(json).toMatchObject({
      match: false,
      missing: ["sub/deeper/c d.bin"],
      extra: ["new folder", "stray.txt"],
    });
    expect(json.differ.map((d: { path: string }) => d.path)).toEqual(["sub/b.bin"]);
    // A missing empty folder counts too.
    await rm(join(bad, "nothing here"), { recursive: true });
    const again = await sfts("verify", bad, "--id", full.id, "--json");
    expect(JSON.parse(again.stdout).missing).toEqual(["nothing here", "sub/deeper/c d.bin"]);
  });
});

describe("sfts share bt_…", () => {
  const link = (r: CliResult) => {
    expect(r.code).toBe(0);
    const url = r.stdout.split("\n")[0] ?? "";
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/s\/[A-Za-z0-9_-]+$/);
    return url;
  };

  it("one link lists the batch's files; each is downloaded by curl byte-identical; max downloads counts files", async () => {
    const url = link(await sfts("share", full.id, "--max-downloads", "2"));
    const listed = await get(url);
    expect(listed.status).toBe(200);
    const listing = JSON.parse(listed.body.toString()) as SharedBatchListing;
    expect(listing).toMatchObject({ batchId: full.id, name: "dataset", fileCount: 4, dirs: DIRS });
    expect(listing.files.map((f) => f.path).sort()).toEqual(FILES.map((f) => f.path).sort());
    for (const f of listing.files) expect(f.url).toBe(`${url}/${full.ids.get(f.path)}`);
    const b = listing.files.find((f) => f.path === "sub/b.bin");
    const got = await get(b?.url as string);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(b?.sha256);
    expect(sha256(got.body)).toBe(sha256(FILES[1]?.data as Buffer));
    const a = listing.files.find((f) => f.path === "a.txt");
    expect((await get(a?.url as string)).body.toString()).toBe("alpha\n");
    expect((await get(a?.url as string)).status).toBe(410); // the third download
    const shares = JSON.parse((await sfts("share", "--list", full.id, "--json")).stdout) as ShareInfo[];
    expect(shares).toHaveLength(1);
    expect(shares[0]).toMatchObject({ fileId: full.id, downloads: 2, maxDownloads: 2, state: "used-up" });
  });

  it("--expires 1s: the listing and the files stop working; --revoke works on a batch's link", async () => {
    const short = link(await sfts("share", full.id, "--expires", "1s"));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await get(short)).status).toBe(410);
    expect((await get(`${short}/${full.ids.get("a.txt")}`)).status).toBe(410);

    const url = link(await sfts("share", full.id));
    expect((await get(url)).status).toBe(200);
    const revoked = await sfts("share", "--revoke", url);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`(a link to ${full.id})`);
    expect((await get(url)).status).toBe(410);
    expect((await get(`${url}/${full.ids.get("a.txt")}`)).status).toBe(410);
    const list = await sfts("share", "--list", full.id);
    expect(list.stdout).toMatch(/\s+revoked$/m);
    expect(list.stdout).toMatch(/\s+expired$/m);
  });
});
