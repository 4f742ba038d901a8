/**
 * The browser uploader's adapters, as far as they run in Node: what a storage PUT's outcome becomes
 * (put-outcome.ts, the XHR adapter's pure half), the walk of a drop over fake FileSystemEntry objects
 * and the selection of a pick (file-source.ts), the batch digest a selection gives against the CLI's
 * walk of the same files, and the coordinator adapter over a fake fetch (routes, bodies, retries,
 * classification), and the part digests (WebCrypto and hash-wasm run in Node too). The XHR, worker and IndexedDB paths run in Chromium (test/e2e/upload.test.ts).
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetworkError } from "../../cli/engine/classify.js";
import { CliError } from "../../cli/engine/errors.js";
import { walk } from "../../cli/engine/send/manifest.js";
import { manifestText } from "../../functions/contract/manifest.js";
import { httpCoordinator } from "../../web/src/upload/coordinator-http.js";
import {
  type EntryLike,
  type FileLike,
  type ItemLike,
  selectionFromDrop,
  selectionFromInput,
} from "../../web/src/upload/file-source.js";
import { browserDigests } from "../../web/src/upload/part-digest.js";
import { putLabel, putResult, settableHeader } from "../../web/src/upload/put-outcome.js";
import type { Selection } from "../../web/src/upload/types.js";

const PART_URL = "https://bucket.s3.example:9000/objects/tr_x?partNumber=3&uploadId=u1&X-Amz-Signature=s";
const FILE_URL = "https://bucket.s3.example:9000/objects/tr_x?X-Amz-Signature=s";
const ORIGIN = "https://bucket.s3.example:9000";

const errorOf = (r: ReturnType<typeof putResult>): CliError => {
  if (!("error" in r)) throw new Error(`expected an error, got ETag ${r.etag}`);
  return r.error;
};
const answer = (status: number, body = "", etag: string | null = null, retryAfter: string | null = null) =>
  ({ kind: "answer", status, etag, body, retryAfter }) as const;
const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

describe("a storage PUT's outcome", () => {
  it("names the part from the URL, or the file for a single PUT", () => {
    expect(putLabel(PART_URL)).toBe("part 3");
    expect(putLabel(FILE_URL)).toBe("the file");
  });

  it("is the ETag of a 2xx answer", () => {
    expect(putResult(PART_URL, answer(200, "", '"abc"'))).toEqual({ etag: '"abc"' });
  });

  it("is a clear non-retryable error when a 2xx answer's ETag is hidden from the page (CORS)", () => {
    const err = errorOf(putResult(PART_URL, answer(200)));
    expect(err.code).toBe("NO_ETAG");
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/part 3/);
    expect(err.message).toMatch(/CORS/);
    expect(err.message).toMatch(/ExposeHeaders: ETag/);
  });

  it("retries damaged bytes (BadDigest) on the same URL", () => {
    const err = errorOf(
      putResult(PART_URL, answer(400, s3Error("BadDigest", "The Content-MD5 you specified did not match"))),
    );
    expect(err.code).toBe("BadDigest");
    expect(err.retryable).toBe(true);
    expect(err).not.toBeInstanceOf(NetworkError);
    expect(err.message).toMatch(/Storage refused part 3: BadDigest/);
    expect(err.message).toMatch(/damaged/);
  });

  it("renews an expired URL (403 Request has expired)", () => {
    const err = errorOf(putResult(FILE_URL, answer(403, s3Error("AccessDenied", "Request has expired"))));
    expect(err.code).toBe("URL_EXPIRED");
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/the file/);
  });

  it("refuses another 403 without retrying", () => {
    const err = errorOf(putResult(PART_URL, answer(403, s3Error("SignatureDoesNotMatch", "bad signature"))));
    expect(err.code).toBe("SignatureDoesNotMatch");
    expect(err.retryable).toBe(false);
  });

  it("retries a 503 after its Retry-After", () => {
    const err = errorOf(
      putResult(PART_URL, answer(503, s3Error("SlowDown", "Please reduce your request rate"), null, "7")),
    );
    expect(err.code).toBe("SlowDown");
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(7000);
    expect(err).not.toBeInstanceOf(NetworkError);
  });

  it("reads an HTTP-date Retry-After against the clock", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    const r = putResult(PART_URL, answer(503, "", null, "Tue, 01 Dec 2026 12:00:05 GMT"), now);
    expect(errorOf(r).retryAfterMs).toBe(5000);
  });

  it("is a NetworkError on the storage origin when no answer came", () => {
    const err = errorOf(putResult(PART_URL, { kind: "network", reached: true }));
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.retryable).toBe(true);
    expect((err as NetworkError).endpoint).toBe(ORIGIN);
    expect((err as NetworkError).reached).toBe(true);
    expect(err.message).toMatch(/Sending part 3 failed/);
    const never = errorOf(putResult(PART_URL, { kind: "network", reached: false })) as NetworkError;
    expect(never.reached).toBe(false);
  });

  it("is a STALL NetworkError when nothing moved for the stall time", () => {
    const err = errorOf(putResult(PART_URL, { kind: "stall", stallMs: 30_000 }));
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.code).toBe("STALL");
    expect(err.retryable).toBe(true);
    expect((err as NetworkError).endpoint).toBe(ORIGIN);
    expect(err.message).toMatch(/30s/);
  });

  it("is a TIMEOUT NetworkError on XHR's timeout", () => {
    const err = errorOf(putResult(FILE_URL, { kind: "timeout", timeoutMs: 60_000, reached: true }));
    expect(err.code).toBe("TIMEOUT");
    expect((err as NetworkError).endpoint).toBe(ORIGIN);
  });

  it("leaves the headers the browser forbids to the browser, and sets the signed ones", () => {
    expect(settableHeader("host")).toBe(false);
    expect(settableHeader("Content-Length")).toBe(false);
    expect(settableHeader("x-amz-checksum-sha256")).toBe(true);
    expect(settableHeader("content-md5")).toBe(true);
    expect(settableHeader("content-type")).toBe(true);
  });
});

// ---- fake entries and files

function fakeFile(name: string, content: string | Uint8Array, webkitRelativePath = ""): FileLike {
  const blob = new Blob([content]);
  return Object.assign(blob, { name, lastModified: 1_700_000_000_000, webkitRelativePath });
}

type FakeTree = { [name: string]: string | FakeTree | Error | "unreadable-dir" };

interface Counters {
  readEntriesCalls: number;
}

/** A FileSystemEntry tree; a folder's reader answers at most `perRound` entries a call, like Chromium. */
function fakeEntry(name: string, node: FakeTree[string], counters: Counters, perRound = 100): EntryLike {
  if (node instanceof Error)
    return {
      name,
      isFile: true,
      isDirectory: false,
      file: (_ok: unknown, fail: (e: unknown) => void) => setTimeout(() => fail(node), 0),
    } as EntryLike;
  if (node === "unreadable-dir")
    return {
      name,
      isFile: false,
      isDirectory: true,
      createReader: () => ({
        readEntries: (_ok: unknown, fail: (e: unknown) => void) => {
          counters.readEntriesCalls++;
          setTimeout(
            () =>
              fail(
                Object.assign(new Error("A requested file or directory could not be found"), {
                  name: "NotFoundError",
                }),
              ),
            0,
          );
        },
      }),
    } as EntryLike;
  if (typeof node === "string")
    return {
      name,
      isFile: true,
      isDirectory: false,
      file: (ok: (f: FileLike) => void) => setTimeout(() => ok(fakeFile(name, node)), 0),
    } as EntryLike;
  const children = Object.entries(node).map(([n, v]) => fakeEntry(n, v, counters, perRound));
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      let at = 0;
      return {
        readEntries: (ok: (es: EntryLike[]) => void) => {
          counters.readEntriesCalls++;
          const round = children.slice(at, at + perRound);
          at += round.length;
          setTimeout(() => ok(round), 0);
        },
      };
    },
  } as EntryLike;
}

/** A DataTransferItemList whose entries can be taken only while the "event" lasts (synchronously). */
function fakeItems(tops: EntryLike[], extra: ItemLike[] = []) {
  let live = true;
  const items: ItemLike[] = [
    ...tops.map((entry) => ({
      kind: "file",
      webkitGetAsEntry: () => (live ? entry : null),
      getAsFile: () => null,
    })),
    ...extra,
  ];
  const list = Object.assign([...items], { length: items.length });
  return {
    list,
    endEvent: () => {
      live = false;
    },
  };
}

async function drop(tree: FakeTree, perRound = 100): Promise<{ selection: Selection; counters: Counters }> {
  const counters = { readEntriesCalls: 0 };
  const { list, endEvent } = fakeItems(
    Object.entries(tree).map(([n, v]) => fakeEntry(n, v, counters, perRound)),
  );
  const pending = selectionFromDrop({ items: list });
  endEvent(); // the browser empties the list once the drop handler returns
  return { selection: await pending, counters };
}

const paths = (s: Selection) => s.files.map((f) => f.path);
const digestOf = (s: Selection) => createHash("sha256").update(manifestText(s.files, s.dirs)).digest("hex");

describe("a drop's walk", () => {
  it("puts a folder's files under the folder's name, nested folders included, and names the batch after it", async () => {
    const { selection } = await drop({
      photos: { "a.jpg": "aa", "2026": { "b.jpg": "bbb", deep: { "c.txt": "c" } } },
    });
    expect(selection.name).toBe("photos");
    expect(paths(selection).sort()).toEqual(["photos/2026/b.jpg", "photos/2026/deep/c.txt", "photos/a.jpg"]);
    expect(selection.files.find((f) => f.path === "photos/2026/b.jpg")?.size).toBe(3);
    expect(selection.dirs).toEqual([]);
    expect(selection.problems).toEqual([]);
  });

  it("reads a folder of more than 100 entries in several readEntries rounds", async () => {
    const many: FakeTree = {};
    for (let i = 0; i < 250; i++) many[`f${String(i).padStart(3, "0")}.txt`] = `${i}`;
    const { selection, counters } = await drop({ big: many });
    expect(selection.files).toHaveLength(250);
    expect(new Set(paths(selection)).size).toBe(250);
    // 100 + 100 + 50, then the empty answer that ends the listing.
    expect(counters.readEntriesCalls).toBe(4);
  });

  it("keeps empty folders as the batch's dirs", async () => {
    const { selection } = await drop({ top: { empty: {}, sub: { inner: {} }, "x.txt": "x" } });
    expect(paths(selection)).toEqual(["top/x.txt"]);
    expect(selection.dirs.sort()).toEqual(["top/empty", "top/sub/inner"]);
    const { selection: alone } = await drop({ nothing: {} });
    expect(alone.dirs).toEqual(["nothing"]);
    expect(alone.name).toBe("nothing");
  });

  it("reports a folder the browser cannot list, in words, and keeps the rest", async () => {
    const { selection } = await drop({ top: { locked: "unreadable-dir", "ok.txt": "ok" } });
    expect(paths(selection)).toEqual(["top/ok.txt"]);
    expect(selection.problems).toHaveLength(1);
    expect(selection.problems[0]?.path).toBe("top/locked");
    expect(selection.problems[0]?.reason).toBe("the browser could not read this folder");
    // A folder that could not be listed is not an empty folder.
    expect(selection.dirs).toEqual([]);
  });

  it("reports a file that vanished, in words, and keeps the rest", async () => {
    const gone = Object.assign(new Error("A requested file or directory could not be found"), {
      name: "NotFoundError",
    });
    const { selection } = await drop({ top: { "gone.bin": gone, "here.bin": "here" } });
    expect(paths(selection)).toEqual(["top/here.bin"]);
    expect(selection.problems).toEqual([
      { path: "top/gone.bin", reason: "this file vanished or cannot be read" },
    ]);
  });

  it("takes every entry synchronously: a list emptied after the event still gives everything", async () => {
    const { selection } = await drop({ "a.txt": "a", "b.txt": "b", c: { "d.txt": "d" } });
    expect(paths(selection).sort()).toEqual(["a.txt", "b.txt", "c/d.txt"]);
    expect(selection.name).toBe("a.txt");
  });

  it("refuses unsafe and duplicate paths as problems, never throwing", async () => {
    const { selection } = await drop({ top: { "back\\slash.txt": "x", "fine.txt": "y" } });
    expect(paths(selection)).toEqual(["top/fine.txt"]);
    expect(selection.problems).toEqual([
      { path: "top/back\\slash.txt", reason: expect.stringMatching(/backslash.*which a batch cannot hold/) },
    ]);
    const counters = { readEntriesCalls: 0 };
    const { list } = fakeItems([
      fakeEntry("same", { "a.txt": "1" }, counters),
      fakeEntry("same", { "a.txt": "2" }, counters),
    ]);
    const twice = await selectionFromDrop(list);
    expect(paths(twice)).toEqual(["same/a.txt"]);
    expect(twice.problems).toEqual([{ path: "same", reason: expect.stringMatching(/same path/) }]);
  });

  it("falls back to the item's File when it gives no entry, and skips items that are not files", async () => {
    const file = fakeFile("plain.txt", "p");
    const items: ItemLike[] = [
      { kind: "string", webkitGetAsEntry: () => null, getAsFile: () => null },
      { kind: "file", webkitGetAsEntry: () => null, getAsFile: () => file },
      { kind: "file", webkitGetAsEntry: () => null, getAsFile: () => null },
    ];
    const s = await selectionFromDrop(Object.assign([...items], { length: items.length }));
    expect(paths(s)).toEqual(["plain.txt"]);
    expect(s.name).toBe("plain.txt");
    expect(s.problems).toEqual([{ path: "item 3", reason: expect.stringMatching(/no file/) }]);
  });

  it("never rejects, even when an entry throws", async () => {
    const bad = {
      name: "weird",
      isFile: true,
      isDirectory: false,
      file: () => {
        throw new Error("boom");
      },
    } as EntryLike;
    const { list } = fakeItems([bad]);
    const s = await selectionFromDrop(list);
    expect(s.files).toEqual([]);
    expect(s.problems).toEqual([{ path: "weird", reason: "this file vanished or cannot be read (boom)" }]);
  });
});

describe("a pick's selection", () => {
  it("uses a folder input's webkitRelativePath as the batch path and names the batch after the folder", () => {
    const s = selectionFromInput(
      [fakeFile("a.jpg", "aa", "photos/a.jpg"), fakeFile("b.jpg", "b", "photos/2026/b.jpg")],
      "folder",
    );
    expect(s.name).toBe("photos");
    expect(paths(s)).toEqual(["photos/a.jpg", "photos/2026/b.jpg"]);
    expect(s.files.map((f) => f.size)).toEqual([2, 1]);
    expect(s.files[0]?.lastModified).toBe(1_700_000_000_000);
    expect(s.dirs).toEqual([]);
    expect(s.problems).toEqual([]);
  });

  it("puts plain files under their names, the batch named after the first", () => {
    const s = selectionFromInput([fakeFile("report.pdf", "r"), fakeFile("notes.txt", "n")], "files");
    expect(s.name).toBe("report.pdf");
    expect(paths(s)).toEqual(["report.pdf", "notes.txt"]);
  });

  it("refuses duplicate and unsafe paths as problems", () => {
    const s = selectionFromInput(
      [fakeFile("a.txt", "1"), fakeFile("a.txt", "2"), fakeFile("..", "3"), fakeFile("ok", "4")],
      "files",
    );
    expect(paths(s)).toEqual(["a.txt", "ok"]);
    expect(s.problems).toEqual([
      { path: "a.txt", reason: expect.stringMatching(/same path/) },
      { path: "..", reason: expect.stringMatching(/\. or \.\. segment/) },
    ]);
  });
});

describe("the batch digest of a selection", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "sfts-web-digest-"));
    const d = join(root, "album");
    await mkdir(join(d, "2026", "summer"), { recursive: true });
    await mkdir(join(d, "empty"), { recursive: true });
    await writeFile(join(d, "cover.jpg"), "cover bytes");
    await writeFile(join(d, "2026", "a b.jpg"), "a".repeat(1000));
    await writeFile(join(d, "2026", "summer", "é.txt"), "unicode name");
    await writeFile(join(d, "2026", "Z.txt"), "");
    await writeFile(join(root, "single.bin"), "single");
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** The folder on disk as fake entries (what a drop of it gives). */
  async function entriesOf(dir: string, counters: Counters): Promise<EntryLike> {
    const tree = async (p: string): Promise<FakeTree> => {
      const out: FakeTree = {};
      for (const name of await readdir(p)) {
        const full = join(p, name);
        out[name] = (await stat(full)).isDirectory() ? await tree(full) : await readFile(full, "latin1");
      }
      return out;
    };
    const name = dir.slice(dir.lastIndexOf("/") + 1);
    return fakeEntry(name, await tree(dir), counters, 2);
  }

  it("is the CLI's for a dropped folder (empty folders included)", async () => {
    const cli = await walk([{ path: join(root, "album"), priority: "normal" }]);
    const { list } = fakeItems([await entriesOf(join(root, "album"), { readEntriesCalls: 0 })]);
    const s = await selectionFromDrop(list);
    expect(s.name).toBe(cli.name);
    expect(s.dirs).toEqual(cli.dirs);
    expect(digestOf(s)).toBe(cli.digest);
  });

  it("is the CLI's for a picked folder without empty folders, and for a single file", async () => {
    await rm(join(root, "album", "empty"), { recursive: true });
    const cli = await walk([{ path: join(root, "album"), priority: "normal" }]);
    const picked = selectionFromInput(
      await Promise.all(
        cli.files.map(async (f) =>
          fakeFile(f.path.slice(f.path.lastIndexOf("/") + 1), await readFile(f.local), f.path),
        ),
      ),
      "folder",
    );
    expect(picked.name).toBe("album");
    expect(digestOf(picked)).toBe(cli.digest);
    const one = await walk([{ path: join(root, "single.bin"), priority: "normal" }]);
    const s = selectionFromInput([fakeFile("single.bin", await readFile(join(root, "single.bin")))], "files");
    expect(digestOf(s)).toBe(one.digest);
  });
});

// ---- the coordinator over a fake fetch

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

function fakeApi(answers: ((req: Seen) => Response | Promise<Response>)[]) {
  const seen: Seen[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const req: Seen = {
      method: init?.method ?? "GET",
      url: String(input),
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
    };
    seen.push(req);
    const next = answers.shift();
    if (!next) throw new Error(`unexpected call ${req.method} ${req.url}`);
    return next(req);
  }) as typeof fetch;
  return { seen, fetchFn };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
const apiError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json(status, { error: { code, message } }, headers);

const BASE = "http://api.test:8080";
const FAST = { maxRetries: 3, baseMs: 1, capMs: 2 };
const TR = "tr_0123456789abcdefghijklmnop";
const BT = "bt_0123456789abcdefghijklmnop";

describe("the coordinator over fetch", () => {
  it("calls the CLI's routes with its bodies and the page's bearer token", async () => {
    let token: string | null = "tok-1";
    const { seen, fetchFn } = fakeApi([
      json(200, { files: [{ transferId: TR }] }),
      json(200, { files: [{ transferId: TR, status: "complete" }], batch: {} }),
      json(200, { parts: [] }),
      json(200, { parts: [] }),
      json(200, { missing: [] }),
      json(200, { id: TR }),
      json(200, { id: TR }),
      json(200, { batch: {}, aborted: 1 }),
      json(200, { rules: {} }),
    ]);
    const c = httpCoordinator({ base: BASE, getToken: () => token, retry: FAST, fetch: fetchFn });
    expect(await c.addFiles(BT, [{ path: "a", size: 1 }])).toEqual([{ transferId: TR }]);
    expect(await c.completeFiles(BT, [TR])).toEqual([{ transferId: TR, status: "complete" }]);
    token = "tok-2";
    const done = [{ partNumber: 1, offset: 0, size: 5, sha256: "ab".repeat(32), etag: '"e"' }];
    await c.presign(TR, [{ partNumber: 2, offset: 5, size: 5, sha256: "cd".repeat(32) }], done);
    await c.presign(TR, [{ partNumber: 2, offset: 5, size: 5, sha256: "cd".repeat(32) }], []);
    await c.missing(TR);
    await c.assemble(TR, done);
    await c.assemble(TR, []);
    await c.cancelBatch(BT);
    await c.storage();
    expect(seen.map((s) => `${s.method} ${s.url.slice(BASE.length)}`)).toEqual([
      `POST /batch/${BT}/files`,
      `POST /batch/${BT}/complete`,
      `POST /upload/${TR}/parts`,
      `POST /upload/${TR}/parts`,
      `GET /upload/missing/${TR}`,
      `POST /assemble/${TR}`,
      `POST /assemble/${TR}`,
      `DELETE /batch/${BT}`,
      "GET /api/storage",
    ]);
    expect(seen[0]?.body).toEqual({ files: [{ path: "a", size: 1 }] });
    expect(seen[0]?.headers.authorization).toBe("Bearer tok-1");
    expect(seen[0]?.headers["content-type"]).toBe("application/json");
    expect(seen[1]?.body).toEqual({ files: [{ transferId: TR }] });
    expect(seen[2]?.headers.authorization).toBe("Bearer tok-2");
    expect(seen[2]?.body).toEqual({
      parts: [{ partNumber: 2, offset: 5, size: 5, sha256: "cd".repeat(32) }],
      done,
    });
    expect(seen[3]?.body).toEqual({
      parts: [{ partNumber: 2, offset: 5, size: 5, sha256: "cd".repeat(32) }],
    });
    expect(seen[5]?.body).toEqual({ parts: done });
    expect(seen[6]?.body).toBeUndefined();
    expect(seen[7]?.body).toBeUndefined();
  });

  it("retries a 503 and a rate limit, then answers", async () => {
    const { seen, fetchFn } = fakeApi([
      apiError(503, "STORAGE_UNAVAILABLE", "storage is down"),
      apiError(429, "RATE_LIMITED", "slow down", { "retry-after": "0" }),
      json(200, { batch: { id: BT }, files: [] }),
    ]);
    const retries: string[] = [];
    const c = httpCoordinator({
      base: BASE,
      getToken: () => null,
      retry: FAST,
      fetch: fetchFn,
      onRetry: (op, info) => retries.push(`${op} ${info.error.code}`),
    });
    expect(
      await c.createBatch({ name: "b", digest: "ab".repeat(32), fileCount: 0, totalBytes: 0 } as never),
    ).toEqual({
      batch: { id: BT },
      files: [],
    });
    expect(seen).toHaveLength(3);
    expect(seen[0]?.headers.authorization).toBeUndefined();
    expect(retries).toEqual(["POST /batch STORAGE_UNAVAILABLE", "POST /batch RATE_LIMITED"]);
  });

  it("does not retry a refusal: 401 asks for a valid token, other codes keep the API's message", async () => {
    const { seen, fetchFn } = fakeApi([
      apiError(401, "UNAUTHORIZED", "invalid key"),
      apiError(400, "VALIDATION_FAILED", "size must be a number"),
    ]);
    const c = httpCoordinator({ base: BASE, getToken: () => "bad", retry: FAST, fetch: fetchFn });
    const unauthorized = await c.missing(TR).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(CliError);
    expect((unauthorized as CliError).code).toBe("UNAUTHORIZED");
    expect((unauthorized as CliError).message).toMatch(/invalid key.*enter a valid token/);
    expect((unauthorized as CliError).message).not.toMatch(/SFTS_TOKEN/);
    const invalid = (await c.missing(TR).catch((e: unknown) => e)) as CliError;
    expect(invalid.code).toBe("VALIDATION_FAILED");
    expect(invalid.message).toBe("size must be a number");
    expect(seen).toHaveLength(2);
  });

  it("turns a failed fetch into a NetworkError on the API's origin, retried until it answers", async () => {
    const { fetchFn } = fakeApi([
      json(200, { missing: [] }),
      () => Promise.reject(new TypeError("Failed to fetch")),
      json(200, { missing: [1] }),
      () => Promise.reject(new TypeError("Failed to fetch")),
      () => Promise.reject(new TypeError("Failed to fetch")),
    ]);
    const errors: unknown[] = [];
    const c = httpCoordinator({
      base: `${BASE}/`.slice(0, -1),
      getToken: () => null,
      retry: { ...FAST, maxRetries: 1 },
      fetch: fetchFn,
      onRetry: (_op, info) => errors.push(info.error),
    });
    await c.missing(TR);
    expect(await c.missing(TR)).toEqual({ missing: [1] });
    expect(errors[0]).toBeInstanceOf(NetworkError);
    expect((errors[0] as NetworkError).endpoint).toBe(BASE);
    expect((errors[0] as NetworkError).reached).toBe(true);
    const last = (await c.missing(TR).catch((e: unknown) => e)) as CliError;
    expect(last.code).toBe("NETWORK");
    expect(last.message).toMatch(
      /Cannot reach the SFTS server at http:\/\/api.test:8080 \(Failed to fetch\).*gave up after 2 tries/,
    );
  });

  it("gives up on a call not answered within its timeout (TIMEOUT, a NetworkError on the API's origin)", async () => {
    const hang = (req: Seen & { signal?: AbortSignal }) =>
      new Promise<Response>((_ok, fail) =>
        req.signal?.addEventListener("abort", () => fail(req.signal?.reason)),
      );
    const calls: AbortSignal[] = [];
    const fetchFn = ((_input: string, init?: RequestInit) => {
      if (init?.signal) calls.push(init.signal);
      return hang({
        method: "GET",
        url: "",
        headers: {},
        body: undefined,
        ...(init?.signal && { signal: init.signal }),
      });
    }) as unknown as typeof fetch;
    const errors: unknown[] = [];
    const c = httpCoordinator({
      base: BASE,
      getToken: () => null,
      retry: { ...FAST, maxRetries: 1 },
      timeoutMs: 20,
      fetch: fetchFn,
      onRetry: (_op, info) => errors.push(info.error),
    });
    const err = (await c.missing(TR).catch((e: unknown) => e)) as CliError;
    expect(calls).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(NetworkError);
    expect((errors[0] as NetworkError).code).toBe("SERVER_UNREACHABLE");
    expect((errors[0] as NetworkError).endpoint).toBe(BASE);
    expect(err.message).toMatch(/no answer within 0.02s/);
  });

  it("cancels a batch that is gone or complete as done, and fails quietly", async () => {
    const { seen, fetchFn } = fakeApi([
      apiError(404, "NOT_FOUND", "no such batch"),
      apiError(409, "INVALID_STATE", "Batch is complete; there is nothing to cancel."),
      apiError(500, "INTERNAL", "oops"),
      apiError(500, "INTERNAL", "oops"),
    ]);
    const c = httpCoordinator({ base: BASE, getToken: () => null, retry: FAST, fetch: fetchFn });
    await expect(c.cancelBatch(BT)).resolves.toBeUndefined();
    await expect(c.cancelBatch(BT)).resolves.toBeUndefined();
    await expect(c.fail(TR, "x".repeat(600))).resolves.toBeUndefined();
    expect(seen.slice(2).map((s) => `${s.method} ${s.url.slice(BASE.length)}`)).toEqual([
      `POST /upload/${TR}/fail`,
      `POST /upload/${TR}/fail`,
    ]);
    expect(seen[2]?.body).toEqual({ reason: "x".repeat(500), abort: false });
  });
});

describe("the part digests", () => {
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);

  it("are the SHA-256 in lower-case hex and the MD5 in base64, as storage checks them", async () => {
    const d = browserDigests();
    for (const b of [new Uint8Array(0), bytes(1, 1), bytes(70_000, 2)]) {
      expect(await d.sha256(b)).toBe(createHash("sha256").update(b).digest("hex"));
      expect(await d.md5(b)).toBe(createHash("md5").update(b).digest("base64"));
    }
  });

  it("keeps concurrent MD5s apart (one stateful hasher, one digest at a time)", async () => {
    const d = browserDigests();
    const parts = [bytes(100_000, 3), bytes(5, 4), bytes(300_000, 5), bytes(0, 6)];
    const got = await Promise.all(parts.map((p) => d.md5(p)));
    expect(got).toEqual(parts.map((p) => createHash("md5").update(p).digest("base64")));
  });

  it("hashes a view of a larger buffer by its own bytes only", async () => {
    const whole = bytes(1000, 7);
    const view = whole.subarray(100, 300);
    const d = browserDigests();
    expect(await d.sha256(view)).toBe(createHash("sha256").update(view).digest("hex"));
    expect(await d.md5(view)).toBe(createHash("md5").update(view).digest("base64"));
  });
});
