import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatBytes } from "../../cli/engine/units.js";
import type { FileSummary, ShareInfo } from "../../functions/contract/schemas.js";
import { apiClient, MiB, sha256 } from "../helpers/api.js";
import { type CliResult, cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let dir: string;
let env: Record<string, string>;

interface Sent {
  path: string;
  data: Buffer;
  id: string;
  sha: string;
}
/** Files sent in beforeAll, by name. */
const sent = new Map<string, Sent>();
/** A transfer left unfinished (init only), to filter on status. */
let unfinishedId: string;
const ID = /tr_[0-9a-z]{26}/;
const STACK_TRACE = /\n\s+at /;

const file = (name: string): Sent => {
  const f = sent.get(name);
  if (!f) throw new Error(`no file ${name} was sent`);
  return f;
};

/** Runs sfts to its end; no output of any run may carry a stack trace. */
async function sfts(...args: string[]): Promise<CliResult> {
  const r = await runCli(args, env).done;
  expect(r.stdout).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  return r;
}

/** Real curl as a child process. */
function curl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("curl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** What a plain GET of a share link answers: the status and the JSON error body. */
async function refused(url: string): Promise<{ status: number; code: string; message: string }> {
  const r = await curl("-sS", "-L", "-w", "\n%{http_code}", url);
  expect(r.code).toBe(0);
  const lines = r.stdout.split("\n");
  const status = Number(lines.pop());
  const body = JSON.parse(lines.join("\n")) as { error: { code: string; message: string } };
  return { status, ...body.error };
}

const rowsOf = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter((l) => ID.test(l));

const linkOf = (stdout: string) => {
  const url = stdout.split("\n")[0] ?? "";
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/s\/[A-Za-z0-9_-]+$/);
  return url;
};

async function share(...args: string[]): Promise<string> {
  const r = await sfts("share", ...args);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return linkOf(r.stdout);
}

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "sfts-cli-read-"));
  env = await cliEnv(stack);
  const make = async (name: string, size: number) => {
    const data = randomBytes(size);
    const path = join(dir, name);
    await writeFile(path, data);
    return { path, data };
  };
  const files = {
    "one.bin": await make("one.bin", 300 * 1024),
    "two-with-a-rather-long-name-for-the-table.bin": await make(
      "two-with-a-rather-long-name-for-the-table.bin",
      200 * 1024,
    ),
    "tiny-1.bin": await make("tiny-1.bin", 1000),
    "tiny-2.bin": await make("tiny-2.bin", 2000),
    "tiny-3.bin": await make("tiny-3.bin", 3000),
    "big.bin": await make("big.bin", 16 * MiB),
  };
  const { "two-with-a-rather-long-name-for-the-table.bin": high, ...normal } = files;
  const r = await runCli(
    ["send", ...Object.values(normal).map((f) => f.path), "--high", high.path, "--json"],
    env,
  ).done;
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  for (const done of ofType(r.events, "done")) {
    const name = basename(done.file);
    const f = files[name as keyof typeof files];
    sent.set(name, { ...f, id: done.transferId, sha: done.sha256 });
    expect(done.sha256).toBe(sha256(f.data));
  }
  expect(sent.size).toBe(6);
  const init = await apiClient(stack).post("/upload/init", {
    name: "unfinished.bin",
    size: 6 * MiB,
    sha256: randomBytes(32).toString("hex"),
  });
  expect(init.status).toBe(200);
  unfinishedId = init.body.transferId;
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("sfts list", () => {
  it("shows every transfer in a table: id, name, size, status, priority, progress, created, SHA-256 prefix", async () => {
    const r = await sfts("list");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    // The transfers' table (a Batches table may come first: each send is a batch).
    const lines = r.stdout.trimEnd().split("\n");
    const [head, ...rows] = lines.slice(lines.findIndex((l) => /^ID\s+NAME\s+SIZE\s/.test(l)));
    expect(head).toMatch(/^ID\s+NAME\s+SIZE\s+STATUS\s+PRIORITY\s+PROGRESS\s+CREATED \(UTC\)\s+SHA-256$/);
    expect(rows).toHaveLength(7);
    for (const [name, f] of sent) {
      const row = rows.find((l) => l.startsWith(f.id)) ?? "";
      const shown = name.length > 30 ? `${name.slice(0, 27)}...` : name;
      expect(row).toContain(`  ${shown}  `);
      expect(row).toContain(formatBytes(f.data.length));
      expect(row).toMatch(/\scomplete\s/);
      expect(row).toContain("100.0%");
      expect(row).toMatch(/\s\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s/);
      expect(row.endsWith(`  ${f.sha.slice(0, 12)}`)).toBe(true);
      expect(row).not.toContain(f.sha.slice(0, 13));
    }
    expect(rows.find((l) => l.includes("two-with-a-rather-long-name...")) ?? "").toMatch(/\shigh\s/);
    const unfinished = rows.find((l) => l.startsWith(unfinishedId)) ?? "";
    expect(unfinished).toMatch(/\suploading\s+normal\s+0\.0%\s/);
  });

  it("filters by --status and --priority", async () => {
    const complete = await sfts("list", "--status", "complete");
    expect(complete.code).toBe(0);
    expect(rowsOf(complete.stdout)).toHaveLength(6);
    expect(complete.stdout).not.toContain(unfinishedId);

    const uploading = await sfts("list", "--status", "uploading");
    expect(rowsOf(uploading.stdout).map((l) => l.split(" ")[0])).toEqual([unfinishedId]);

    const high = await sfts("list", "--priority", "high");
    expect(rowsOf(high.stdout).map((l) => l.split(" ")[0])).toEqual([
      file("two-with-a-rather-long-name-for-the-table.bin").id,
    ]);

    const both = await sfts("list", "--status", "uploading", "--priority", "high");
    expect(both.code).toBe(0);
    expect(both.stdout).toBe("No transfers.\n");

    const none = await sfts("list", "--status", "failed");
    expect(none.stdout).toBe("No transfers.\n");
  });

  it("--limit caps the rows (and says there may be more); --all lists everything", async () => {
    const one = await sfts("list", "--limit", "1");
    expect(one.code).toBe(0);
    expect(rowsOf(one.stdout)).toHaveLength(1);
    // Newest first: the unfinished transfer was created last.
    expect(rowsOf(one.stdout)[0]).toMatch(new RegExp(`^${unfinishedId}\\s`));
    expect(one.stderr).toMatch(/there may be more/);

    const two = await sfts("list", "--limit", "2");
    expect(rowsOf(two.stdout)).toHaveLength(2);
    const all = await sfts("list", "--all");
    expect(rowsOf(all.stdout)).toHaveLength(7);
    expect(all.stderr).toBe("");
    const ids = (stdout: string) => rowsOf(stdout).map((l) => l.split(" ")[0]);
    expect(ids(all.stdout).slice(0, 2)).toEqual(ids(two.stdout));
  });

  it("--json prints the FileSummary array as one document", async () => {
    const r = await sfts("list", "--json");
    expect(r.code).toBe(0);
    const items = JSON.parse(r.stdout) as FileSummary[];
    expect(items).toHaveLength(7);
    expect(new Set(items.map((i) => i.id))).toEqual(
      new Set([unfinishedId, ...[...sent.values()].map((f) => f.id)]),
    );
    const one = items.find((i) => i.id === file("one.bin").id);
    expect(one).toMatchObject({
      name: "one.bin",
      size: 300 * 1024,
      sha256: file("one.bin").sha,
      status: "complete",
    });
  });

  it("pages through the API: small pages add up to the same list", async () => {
    const whole = JSON.parse((await sfts("list", "--all", "--json")).stdout) as FileSummary[];
    const paged = await sfts("list", "--all", "--page-size", "2", "--json");
    expect(paged.code).toBe(0);
    expect((JSON.parse(paged.stdout) as FileSummary[]).map((i) => i.id)).toEqual(whole.map((i) => i.id));

    const three = await sfts("list", "--limit", "3", "--page-size", "2", "--json");
    expect((JSON.parse(three.stdout) as FileSummary[]).map((i) => i.id)).toEqual(
      whole.slice(0, 3).map((i) => i.id),
    );
    const filtered = await sfts("list", "--status", "complete", "--all", "--page-size", "1", "--json");
    expect((JSON.parse(filtered.stdout) as FileSummary[]).map((i) => i.id)).toEqual(
      whole.filter((i) => i.status === "complete").map((i) => i.id),
    );
  });

  it("refuses a bad --status, --priority or --limit, and --limit with --all (exit 2)", async () => {
    for (const args of [
      ["--status", "done"],
      ["--priority", "urgent"],
      ["--limit", "0"],
      ["--limit", "2", "--all"],
    ]) {
      const r = await sfts("list", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^sfts: /);
      expect(r.stdout).toBe("");
    }
  });
});

describe("sfts verify", () => {
  let tampered: string;
  let truncated: string;
  beforeAll(async () => {
    const data = Buffer.from(file("one.bin").data);
    data[1000] = (data[1000] ?? 0) ^ 0x01;
    tampered = join(dir, "one-tampered.bin");
    await writeFile(tampered, data);
    truncated = join(dir, "one-truncated.bin");
    await writeFile(truncated, data.subarray(0, data.length - 1));
  });

  it("says OK for an intact file, against the transfer's record or a given checksum", async () => {
    const { path, id, sha } = file("one.bin");
    const byId = await sfts("verify", path, "--id", id);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toBe(`OK  ${path}  sha256 ${sha}\n`);
    expect(byId.stderr).toBe("");
    const bySum = await sfts("verify", path, "--checksum", sha.toUpperCase());
    expect(bySum.code).toBe(0);
    expect(bySum.stdout).toBe(`OK  ${path}  sha256 ${sha}\n`);
    const big = file("big.bin");
    expect((await sfts("verify", big.path, "--id", big.id)).code).toBe(0);
  });

  it("says MISMATCH and exits 9 for a copy with one byte flipped, or one byte short", async () => {
    const { id, sha } = file("one.bin");
    const got = sha256(await readFile(tampered));
    const byId = await sfts("verify", tampered, "--id", id);
    expect(byId.code).toBe(9);
    expect(byId.stdout).toBe(`MISMATCH  ${tampered}  expected ${sha} got ${got}\n`);
    const bySum = await sfts("verify", tampered, "--checksum", sha);
    expect(bySum.code).toBe(9);
    expect(bySum.stdout).toBe(`MISMATCH  ${tampered}  expected ${sha} got ${got}\n`);
    const short = await sfts("verify", truncated, "--id", id);
    expect(short.code).toBe(9);
    expect(short.stdout).toMatch(
      /^MISMATCH {2}.*one-truncated\.bin {2}expected .*\(307200 bytes\) got .*\(307199 bytes\)\n$/,
    );
  });

  it("--json prints {path, expected, actual, match}", async () => {
    const { path, id, sha } = file("one.bin");
    const ok = await sfts("verify", path, "--id", id, "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ path, expected: sha, actual: sha, match: true });
    const bad = await sfts("verify", tampered, "--checksum", sha, "--json");
    expect(bad.code).toBe(9);
    expect(JSON.parse(bad.stdout)).toEqual({
      path: tampered,
      expected: sha,
      actual: sha256(await readFile(tampered)),
      match: false,
    });
  });

  it("exits 3 for a missing file or a directory, 10 for an unknown transfer, 2 for bad usage", async () => {
    const { id, sha, path } = file("one.bin");
    const missing = join(dir, "nope.bin");
    for (const args of [
      [missing, "--id", id],
      [missing, "--checksum", sha],
    ]) {
      const r = await sfts("verify", ...args);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(`sfts: No such file: ${missing}\n`);
    }
    const sub = join(dir, "a-directory");
    await mkdir(sub, { recursive: true });
    expect((await sfts("verify", sub, "--checksum", sha)).code).toBe(3);
    const unknown = await sfts("verify", path, "--id", "tr_0000000000000000000000zzzz");
    expect(unknown.code).toBe(10);
    for (const args of [[path], [path, "--id", id, "--checksum", sha], [path, "--checksum", "abc123"], []]) {
      const r = await sfts("verify", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^sfts: /);
    }
  });
});

describe("sfts share", () => {
  it("makes a link curl downloads byte-identical, twice with --max-downloads 2, then 410", async () => {
    const { id, data } = file("one.bin");
    const r = await sfts("share", id, "--max-downloads", "2");
    expect(r.code).toBe(0);
    const url = linkOf(r.stdout);
    expect(r.stdout).toContain("at most 2");
    expect(r.stdout).toMatch(/expires +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    for (const out of ["first.bin", "second.bin"]) {
      const c = await curl("-sS", "-L", "-o", out, url);
      expect(c.code).toBe(0);
      expect(c.stderr).toBe("");
      expect((await readFile(join(dir, out))).equals(data)).toBe(true);
    }
    const third = await refused(url);
    expect(third).toMatchObject({ status: 410, code: "SHARE_USED_UP" });
    expect(third.message).toMatch(/2 download/);

    const list = await sfts("share", "--list", id);
    expect(list.code).toBe(0);
    expect(list.stdout.split("\n")[0]).toMatch(/^SHARE ID\s+CREATED\s+EXPIRES\s+DOWNLOADS\s+STATE$/);
    expect(list.stdout).toMatch(/^sh_[0-9a-f]{20}\s.*\s2\/2\s+used-up$/m);
    const json = JSON.parse((await sfts("share", "--list", id, "--json")).stdout) as ShareInfo[];
    expect(json).toEqual([
      expect.objectContaining({ fileId: id, downloads: 2, maxDownloads: 2, state: "used-up" }),
    ]);
  });

  it("a link with --expires 1s stops working after a second", async () => {
    const { id } = file("tiny-1.bin");
    const url = await share(id, "--expires", "1s");
    await new Promise((r) => setTimeout(r, 1500));
    expect(await refused(url)).toMatchObject({ status: 410, code: "SHARE_EXPIRED" });
    const list = await sfts("share", "--list", id);
    expect(list.stdout).toMatch(/\s0\/unlimited\s+expired$/m);
  });

  it("--revoke takes the link or the bare token; a revoked link gets 410", async () => {
    const { id, data } = file("tiny-2.bin");
    const url = await share(id);
    expect((await curl("-sS", "-L", "-o", "tiny.out", url)).code).toBe(0);
    expect((await readFile(join(dir, "tiny.out"))).equals(data)).toBe(true);
    const r = await sfts("share", "--revoke", url);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Revoked sh_[0-9a-f]{20}/);
    expect(await refused(url)).toMatchObject({ status: 410, code: "SHARE_REVOKED" });

    const other = await share(id, "--expires", "7d");
    const token = other.split("/s/")[1] ?? "";
    const byToken = await sfts("share", "--revoke", token, "--json");
    expect(byToken.code).toBe(0);
    expect(JSON.parse(byToken.stdout)).toMatchObject({ fileId: id, state: "revoked" });
    expect((await refused(other)).status).toBe(410);

    const unknown = await sfts("share", "--revoke", "A".repeat(32));
    expect(unknown.code).toBe(10);
    expect(unknown.stderr).toMatch(/^sfts: .*share link/);
  });

  it("a download cut short resumes with curl -C - (without using up the link's one download)", async () => {
    const { id, data, sha } = file("big.bin");
    const url = await share(id, "--max-downloads", "1");
    const cut = await curl("-sS", "-L", "--limit-rate", "4M", "-m", "1", "-o", "part.bin", url);
    expect(cut.code).toBe(28); // curl: operation timed out
    const partial = (await stat(join(dir, "part.bin"))).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(data.length);
    const rest = await curl("-sS", "-L", "-C", "-", "-o", "part.bin", url);
    expect(rest.code).toBe(0);
    expect(sha256(await readFile(join(dir, "part.bin")))).toBe(sha);
    // A new download from the start is one more download: refused.
    expect((await refused(url)).status).toBe(410);
  });

  it("refuses a bad --expires (exit 2), more than 30 days (exit 6, the server's message), an unfinished file (exit 6)", async () => {
    const { id } = file("tiny-3.bin");
    const bad = await sfts("share", id, "--expires", "3x");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('sfts: --expires: "3x" is not a duration (examples: 90s, 30m, 24h, 7d, 3600)\n');
    const long = await sfts("share", id, "--expires", "31d");
    expect(long.code).toBe(6);
    expect(long.stderr).toMatch(/^sfts: .*30 days/);
    const unfinished = await sfts("share", unfinishedId);
    expect(unfinished.code).toBe(6);
    expect(unfinished.stderr).toMatch(/^sfts: .*only complete files can be shared/);
    for (const args of [
      [],
      ["--list"],
      ["--revoke", "not a token!"],
      [id, "--revoke", "abc"],
      [id, "--list", "--expires", "1h"],
    ]) {
      const r = await sfts("share", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^sfts: /);
    }
    // Nothing was created by the refused commands.
    expect((await sfts("share", "--list", id)).stdout).toBe(`No share links for ${id}.\n`);
  });
});
