/**
 * The dashboard's Upload view in Debian's Chromium against a real local stack (versitygw + DynamoDB Local
 * + the API serving the built page at /), storage behind the fault proxy (harness/fault-proxy.ts: the
 * presigned URLs name it) so a test can cap the link's rate. Each test is a real upload: a 64 MiB file
 * stored intact and listed complete; a reload mid-upload listed as unfinished and resumed by picking the
 * file again, sending only what storage lacks; 10 s offline, then finishing by itself; a damaged part
 * refused by storage (BadDigest) and sent again; a nested folder received back identical by `sfts
 * receive`; a drop of files; a file that vanishes mid-upload, said in words; 1 GiB with the page's memory
 * sampled over CDP; the uploader's added bundle size; screenshots (desktop and phone, light and dark) and
 * the measured figures in test-results/screenshots/.
 */
import { createHash, randomFillSync } from "node:crypto";
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../../harness/fault-proxy.js";
import { getFreePort } from "../../local/ports.js";
import { type Api, apiClient, MiB } from "../helpers/api.js";
import { launchChromium, openPage, type PageProblems } from "../helpers/browser.js";
import { buildWebForProduction, repoRoot } from "../helpers/build.js";
import { cliEnv, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const SHOTS = join(repoRoot, "test-results", "screenshots");
const DIST = join(repoRoot, "web", "dist");
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
/**
 * The main entry's size before this issue, gzipped as below (level 9): the build of 9060d19, whose entry
 * Vite reported as 24.41 kB gzipped.
 */
const MAIN_BEFORE_GZ = 24_183;
/** The uploader's lazy chunks plus the hash worker, gzipped, at most (measured ≈ see metrics). */
const UPLOAD_BUDGET_GZ = 40 * 1000;
/** The main entry may grow by the route, the header link and the lazy loader only. */
const MAIN_GROWTH_GZ = 1.5 * 1000;
/**
 * Peak memory of the page during a 1 GiB upload, at most: JS heap plus array-buffer backing store, as
 * sampled (garbage not yet collected included), and what is live after a forced collection. The parts'
 * memory budget is 96 MiB; a file read whole would be 1 GiB.
 */
const HEAP_BOUND = 384 * MiB;
const LIVE_BOUND = 192 * MiB;
/** Parts in flight at most (browsers open 6 connections per origin): what a reload may lose. */
const INFLIGHT_SLACK_PARTS = 6;

let stack: TestStack;
let browser: Browser;
let api: Api;
let proxy: FaultProxy;
let storageOrigin: string;
let dir: string;
const metrics: Record<string, unknown> = {};
const durations: Record<string, number> = {};

beforeAll(async () => {
  buildWebForProduction();
  await mkdir(SHOTS, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "sfts-upload-"));
  const proxyPort = await getFreePort();
  storageOrigin = `http://127.0.0.1:${proxyPort}`;
  [stack, browser] = await Promise.all([
    startTestStack({ s3PublicEndpoint: storageOrigin }),
    launchChromium(),
  ]);
  proxy = await startFaultProxy({ target: stack.s3Endpoint, port: proxyPort });
  api = apiClient(stack);
});

afterAll(async () => {
  metrics.testSeconds = durations;
  await writeFile(join(SHOTS, "upload-metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`).catch(
    () => {},
  );
  console.log(`[upload] metrics: ${JSON.stringify(metrics, null, 2)}`);
  await browser?.close();
  await proxy?.close();
  await stack?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** expect.poll with room for an upload's few seconds. */
const eventually = <T>(fn: () => Promise<T> | T, options: { timeout?: number; interval?: number } = {}) =>
  expect.poll(fn, { timeout: 30_000, interval: 100, ...options });

/** Random bytes to `path`, written in 16 MiB rounds (never whole in memory); returns their SHA-256. */
async function randomFile(path: string, size: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash("sha256");
  const fh = await open(path, "w");
  const chunk = Buffer.alloc(Math.min(size, 16 * MiB));
  try {
    for (let off = 0; off < size; off += chunk.length) {
      const b = chunk.subarray(0, Math.min(chunk.length, size - off));
      randomFillSync(b);
      hash.update(b);
      await fh.write(b);
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}

/** The SHA-256 of what storage holds for a transfer: downloaded through the API's link, streamed. */
async function storedSha256(transferId: string): Promise<string> {
  const d = await api.get(`/download/${transferId}?redirect=false`);
  expect(d.status, JSON.stringify(d.body)).toBe(200);
  const res = await fetch(d.body.url);
  expect(res.status).toBe(200);
  const hash = createHash("sha256");
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(c);
  return hash.digest("hex");
}

/** Storage PUTs the page saw finish (any status): when, and storage's answer. */
interface PutLog {
  puts: { at: number; status: number; url: string }[];
  failed: number;
}

function logPuts(page: Page): PutLog {
  const log: PutLog = { puts: [], failed: 0 };
  page.on("requestfinished", (req) => {
    if (req.method() !== "PUT" || !req.url().startsWith(storageOrigin)) return;
    const at = Date.now();
    void req.response().then(
      (res) => log.puts.push({ at, status: res?.status() ?? 0, url: req.url() }),
      () => {},
    );
  });
  page.on("requestfailed", (req) => {
    if (req.method() === "PUT" && req.url().startsWith(storageOrigin)) log.failed++;
  });
  return log;
}

/**
 * Request-body bytes of the PUTs that reached storage, counted by the proxy in front of it as they pass
 * (so a PUT cut short counts what it carried), for the PUTs that arrived in [from, to). The page's own
 * count (request.sizes()) is 0 for the uploader's Blob bodies, which DevTools does not copy.
 */
const storageBytes = (from: number, to = Number.POSITIVE_INFINITY) =>
  proxy
    .stats()
    .log.filter((e) => e.method === "PUT" && e.at >= from && e.at < to)
    .reduce((n, e) => n + e.bytesUp, 0);

/** The largest PUT body storage received since `from`: a part (or a small file). */
const largestPut = (from: number) =>
  Math.max(
    0,
    ...proxy
      .stats()
      .log.filter((e) => e.method === "PUT" && e.at >= from)
      .map((e) => e.bytesUp),
  );

async function uploadPage(
  viewport = DESKTOP,
  colorScheme: "light" | "dark" = "light",
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems; puts: PutLog }> {
  const { context, page, problems } = await openPage(browser, { token: stack.token, viewport, colorScheme });
  const puts = logPuts(page);
  await page.goto(`${stack.apiUrl}/#/upload`);
  await page.getByTestId("pick-files").waitFor({ state: "attached" });
  return { context, page, problems, puts };
}

const card = (page: Page) => page.getByTestId("upload-batch").first();

/**
 * Waits for the first batch to end and expects it complete; a batch that failed instead fails the
 * test at once with what its card says (the batch's and the files' sentences).
 */
async function completes(page: Page, timeout = 60_000): Promise<void> {
  await eventually(() => card(page).getAttribute("data-phase"), { timeout }).toMatch(
    /^(complete|failed|cancelled)$/,
  );
  const phase = await card(page).getAttribute("data-phase");
  const said = phase === "complete" ? "" : ((await card(page).textContent()) ?? "");
  expect({ phase, said }).toEqual({ phase: "complete", said: "" });
}

/** The transfer id of a completed file row (its link to the detail view). */
async function transferIdOf(page: Page, path: string): Promise<string> {
  const link = page.locator(`[data-testid="upload-file"][data-path="${path}"] a`);
  const href = (await link.getAttribute("href")) ?? "";
  const id = decodeURIComponent(href.replace(/^#\/transfers\//, ""));
  expect(id).toMatch(/^tr_/);
  return id;
}

/** Console errors other than the browser's own lines about requests that failed or were refused. */
const unexpectedErrors = (problems: PageProblems, allowed: RegExp) =>
  problems.consoleErrors.filter((e) => !allowed.test(e));

function timed(name: string) {
  const started = Date.now();
  return () => {
    durations[name] = (Date.now() - started) / 1000;
  };
}

describe("the upload view", () => {
  it("uploads a 64 MiB file picked with the file picker; storage holds its exact bytes; the transfers view lists it complete", async () => {
    const done = timed("file64MiB");
    const path = join(dir, "one", "survey-64.bin");
    const sum = await randomFile(path, 64 * MiB);
    const { context, page, problems } = await uploadPage();
    try {
      expect(await page.title()).toBe("SFTS — Upload");
      expect(await page.getByTestId("upload-priority").inputValue()).toBe("normal");
      await page.getByTestId("upload-priority").selectOption("high");
      await page.getByTestId("pick-files").setInputFiles(path);
      await completes(page);
      const batchId = (await card(page).getAttribute("data-batch-id")) ?? "";
      expect(batchId).toMatch(/^bt_/);
      expect(await card(page).locator("h3 a").getAttribute("href")).toBe(`#/batches/${batchId}`);
      expect(await card(page).getByRole("progressbar").first().getAttribute("aria-valuenow")).toBe("100");
      const row = page.locator('[data-testid="upload-file"][data-path="survey-64.bin"]');
      expect(await row.getAttribute("data-phase")).toBe("complete");
      const id = await transferIdOf(page, "survey-64.bin");
      expect(await storedSha256(id)).toBe(sum);
      const record = await api.get(`/api/files/${id}`);
      expect(record.body).toMatchObject({
        status: "complete",
        sha256: sum,
        size: 64 * MiB,
        priority: "high",
      });

      await page.getByRole("link", { name: "Transfers", exact: true }).click();
      const listed = page.locator(`tr[data-id="${id}"]`);
      await eventually(() => listed.getAttribute("data-status")).toBe("complete");
      // Back on the upload view, the queue is as it was (the engine outlives the view).
      await page.getByRole("link", { name: "Upload", exact: true }).click();
      await completes(page);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
      done();
    }
  });

  it("after a reload mid-upload, lists it as unfinished; picking the file again resumes it and sends only what storage lacks", async () => {
    const done = timed("reloadResume");
    const size = 96 * MiB;
    const path = join(dir, "two", "reload-96.bin");
    const sum = await randomFile(path, size);
    const { context, page, problems } = await uploadPage();
    proxy.setRate(24 * MiB);
    const startedAt = Date.now();
    try {
      await page.getByTestId("pick-files").setInputFiles(path);
      await eventually(() => storageBytes(startedAt), {
        timeout: 60_000,
        interval: 50,
      }).toBeGreaterThanOrEqual(size / 2);
      const batchId = (await card(page).getAttribute("data-batch-id")) ?? "";
      expect(batchId).toMatch(/^bt_/);
      const reloadAt = Date.now();
      const beforeReload = storageBytes(startedAt, reloadAt);
      await page.reload();
      // What the server had recorded when the page went (read after: it can only have grown since).
      const files = await api.get(`/api/batches/${batchId}/files`);
      const file = files.body.items[0] as { id: string; bytesDone: number; status: string };
      expect(file.status).toBe("uploading");
      const missingAtReload = size - file.bytesDone;
      // What storage held: recorded parts, and parts stored but not yet recorded (the page records
      // them in rounds; picked again, it hashes them locally and records them instead of sending them).
      const held = await api.get(`/upload/missing/${file.id}`);
      const unrecorded = (held.body.unrecorded as { size: number }[]).reduce((n, p) => n + p.size, 0);
      const heldAtReload = held.body.bytesDone + unrecorded;

      const entry = page.getByTestId("unfinished-upload");
      await eventually(() => entry.count()).toBe(1);
      expect(await page.getByTestId("unfinished").textContent()).toContain("reload-96.bin");
      expect(await page.getByTestId("upload-batch").count()).toBe(0);
      proxy.setRate(null);
      const [chooser] = await Promise.all([
        page.waitForEvent("filechooser"),
        entry.getByTestId("unfinished-resume").click(),
      ]);
      expect(chooser.isMultiple()).toBe(true);
      await chooser.setFiles(path);
      await completes(page);
      expect(await card(page).getAttribute("data-batch-id")).toBe(batchId);
      expect(await transferIdOf(page, "reload-96.bin")).toBe(file.id);
      expect(await storedSha256(file.id)).toBe(sum);
      await eventually(() => entry.count()).toBe(0);

      const after = storageBytes(reloadAt);
      const largestPart = largestPut(startedAt);
      metrics.reload = {
        fileBytes: size,
        putBeforeReload: beforeReload,
        recordedAtReload: file.bytesDone,
        missingAtReload,
        storedUnrecordedAtReload: unrecorded,
        heldAtReload,
        putAfterReload: after,
        largestPart,
      };
      expect(after).toBeLessThanOrEqual(missingAtReload + INFLIGHT_SLACK_PARTS * largestPart);
      // Beyond what storage lacked, only parts that were in flight at the reload: a part storage holds
      // after one the reload cut has no known place (the coordinator does not list it) and goes again,
      // and the page being unloaded may start a PUT it then cuts.
      expect(after).toBeLessThanOrEqual(size - heldAtReload + INFLIGHT_SLACK_PARTS * largestPart);
      // How much was held depends on how many PUTs the reload cut in flight; something always was.
      expect(heldAtReload).toBeGreaterThan(0);
      expect(after).toBeLessThan(size);
      expect(problems.pageErrors).toEqual([]);
      // The PUTs cut by the reload are the only lines the browser may log.
      expect(unexpectedErrors(problems, /Failed to load resource|net::ERR_/)).toEqual([]);
    } finally {
      proxy.setRate(null);
      await context.close();
      done();
    }
  });

  it("on another machine (a fresh browser profile, nothing remembered), picking the same file goes on with the upload the closed browser left", async () => {
    const done = timed("otherMachine");
    const size = 80 * MiB;
    const path = join(dir, "other", "elsewhere-80.bin");
    const sum = await randomFile(path, size);
    const first = await uploadPage();
    proxy.setRate(24 * MiB);
    const startedAt = Date.now();
    let batchId = "";
    try {
      await first.page.getByTestId("pick-files").setInputFiles(path);
      await eventually(() => storageBytes(startedAt), {
        timeout: 60_000,
        interval: 50,
      }).toBeGreaterThanOrEqual(size / 2);
      batchId = (await card(first.page).getAttribute("data-batch-id")) ?? "";
      expect(batchId).toMatch(/^bt_/);
      // Parts in flight finish together on a shared link: wait until storage holds one, recorded.
      const recorded = async () =>
        (await api.get(`/api/batches/${batchId}/files`)).body.items[0]?.bytesDone ?? 0;
      await eventually(recorded, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    } finally {
      // The browser is gone (closed, crashed): its profile, IndexedDB included, goes with it.
      await first.context.close();
      proxy.setRate(null);
    }
    const closedAt = Date.now();
    const files = await api.get(`/api/batches/${batchId}/files`);
    const file = files.body.items[0] as { id: string; status: string };
    expect(file.status).toBe("uploading");
    const held = await api.get(`/upload/missing/${file.id}`);
    const unrecorded = (held.body.unrecorded as { size: number }[]).reduce((n, p) => n + p.size, 0);
    const heldAtClose = held.body.bytesDone + unrecorded;
    expect(heldAtClose).toBeGreaterThan(0);

    const second = await uploadPage();
    try {
      expect(await second.page.getByTestId("unfinished-upload").count()).toBe(0);
      await second.page.getByTestId("pick-files").setInputFiles(path);
      await eventually(() => card(second.page).getAttribute("data-phase"), { timeout: 60_000 }).toBe(
        "complete",
      );
      expect(await card(second.page).getAttribute("data-batch-id")).toBe(batchId);
      expect(await transferIdOf(second.page, "elsewhere-80.bin")).toBe(file.id);
      expect(await storedSha256(file.id)).toBe(sum);
      const after = storageBytes(closedAt);
      metrics.otherMachine = {
        fileBytes: size,
        heldAtClose,
        putAfter: after,
        largestPart: largestPut(startedAt),
      };
      expect(after).toBeLessThanOrEqual(size - heldAtClose + largestPut(startedAt));
      expect(second.problems.pageErrors).toEqual([]);
    } finally {
      await second.context.close();
      done();
    }
  });

  it("offline for 10 s mid-upload: says so, moves no bytes, and finishes by itself when the connection is back", async () => {
    const done = timed("offline");
    const size = 96 * MiB;
    const path = join(dir, "three", "offline-96.bin");
    const sum = await randomFile(path, size);
    const { context, page, problems, puts } = await uploadPage();
    proxy.setRate(16 * MiB);
    const startedAt = Date.now();
    try {
      await page.getByTestId("pick-files").setInputFiles(path);
      await eventually(() => puts.puts.length, { timeout: 60_000, interval: 50 }).toBeGreaterThan(0);
      const offlineAt = Date.now();
      await context.setOffline(true);
      await eventually(() => page.getByTestId("upload-offline").isVisible(), { timeout: 5_000 }).toBe(true);
      await eventually(() => card(page).getAttribute("data-phase"), { timeout: 5_000 }).toBe("offline");
      expect(await page.getByTestId("upload-offline").textContent()).toContain(
        "the upload resumes by itself when the connection is back",
      );
      // Settled: what was in flight has failed; from here nothing may reach storage.
      await page.waitForTimeout(1000);
      const settledAt = Date.now();
      const finishedAtSettle = puts.puts.length;
      await page.waitForTimeout(10_000 - (Date.now() - offlineAt));
      const backAt = Date.now();
      const duringPage = puts.puts.length - finishedAtSettle;
      const duringProxy = proxy
        .stats()
        .log.filter((e) => e.method === "PUT" && e.at >= settledAt && e.at < backAt);
      await context.setOffline(false);
      await completes(page);
      const id = await transferIdOf(page, "offline-96.bin");
      expect(await storedSha256(id)).toBe(sum);
      const firstAfter = puts.puts.filter((p) => p.at >= backAt).map((p) => p.at)[0];
      metrics.offline = {
        offlineSeconds: (backAt - offlineAt) / 1000,
        bytesBeforeOffline: storageBytes(startedAt, offlineAt),
        putsFinishedDuringOffline: duringPage,
        storageRequestsDuringOffline: duringProxy.length,
        storageBytesDuringOffline: storageBytes(settledAt, backAt),
        firstPutFinishedAfterBackMs: firstAfter === undefined ? null : firstAfter - backAt,
      };
      expect(duringPage).toBe(0);
      expect(duringProxy).toEqual([]);
      expect(await page.getByTestId("upload-offline").count()).toBe(0);
      expect(problems.pageErrors).toEqual([]);
      expect(unexpectedErrors(problems, /Failed to load resource|net::ERR_/)).toEqual([]);
    } finally {
      proxy.setRate(null);
      await context.setOffline(false).catch(() => {});
      await context.close();
      done();
    }
  });

  it("a part damaged on its way is refused by storage (BadDigest), sent again, and the file ends intact", async () => {
    const done = timed("damagedPart");
    const size = 70 * MiB;
    const path = join(dir, "four", "damaged-70.bin");
    const sum = await randomFile(path, size);
    const { context, page, problems, puts } = await uploadPage();
    const refusals: { status: number; body: string }[] = [];
    page.on("response", (res) => {
      const req = res.request();
      if (req.method() === "PUT" && req.url().startsWith(storageOrigin) && res.status() >= 400)
        void res.text().then(
          (body) => refusals.push({ status: res.status(), body }),
          () => refusals.push({ status: res.status(), body: "" }),
        );
    });
    let flipped = 0;
    const firstPart = (url: URL) =>
      url.origin === storageOrigin && url.searchParams.get("partNumber") === "1";
    await page.route(firstPart, async (route) => {
      const body = route.request().postDataBuffer();
      if (route.request().method() !== "PUT" || flipped > 0 || !body || body.length === 0)
        return route.continue();
      flipped++;
      const damaged = Buffer.from(body);
      const at = Math.floor(damaged.length / 2);
      damaged[at] = (damaged[at] ?? 0) ^ 0xff;
      return route.continue({ postData: damaged });
    });
    try {
      await page.getByTestId("pick-files").setInputFiles(path);
      await completes(page);
      expect(flipped).toBe(1);
      await eventually(() => refusals.length).toBeGreaterThanOrEqual(1);
      expect(refusals[0]?.status).toBe(400);
      expect(refusals[0]?.body).toContain("BadDigest");
      const part1 = puts.puts.filter((p) => new URL(p.url).searchParams.get("partNumber") === "1");
      expect(part1.map((p) => p.status)).toEqual([400, 200]);
      const id = await transferIdOf(page, "damaged-70.bin");
      expect(await storedSha256(id)).toBe(sum);
      const retries = Number(
        (await card(page).locator(".fact", { hasText: "Retries" }).locator("dd").textContent()) ?? "0",
      );
      expect(retries).toBeGreaterThanOrEqual(1);
      metrics.damagedPart = {
        refusals: refusals.map((r) => /<Code>(\w+)<\/Code>/.exec(r.body)?.[1] ?? r.status),
        part1Statuses: part1.map((p) => p.status),
        retries,
      };
      expect(problems.pageErrors).toEqual([]);
      expect(unexpectedErrors(problems, /status of 400/)).toEqual([]);
    } finally {
      await page.unrouteAll({ behavior: "ignoreErrors" });
      await context.close();
      done();
    }
  });

  it("a picked folder of nested files becomes one batch that `sfts receive` recreates identically", async () => {
    const done = timed("folder");
    const root = join(dir, "five", "field-trip");
    const made: string[] = [];
    for (let i = 0; i < 20; i++) {
      const level = ["", "day-1", "day-1/raw", "day-2/notes/drafts"][i % 4] as string;
      const rel = join(level, `item-${String(i).padStart(2, "0")}.dat`);
      await randomFile(join(root, rel), 1 + i * 3_001);
      made.push(rel);
    }
    await randomFile(join(root, "day-2", "video.mov"), 70 * MiB);
    made.push(join("day-2", "video.mov"));
    const { context, page, problems } = await uploadPage();
    try {
      await page.getByTestId("pick-folder").setInputFiles(root);
      await completes(page, 90_000);
      expect(await page.getByTestId("upload-file").count()).toBe(made.length);
      expect(await card(page).locator("h3").textContent()).toBe("field-trip");
      const batchId = (await card(page).getAttribute("data-batch-id")) ?? "";
      expect(batchId).toMatch(/^bt_/);
      const batch = await api.get(`/api/batches/${batchId}`);
      expect(batch.body).toMatchObject({ status: "complete", name: "field-trip", fileCount: made.length });

      const out = join(dir, "five", "received");
      const r = await runCli(["receive", batchId, "-o", out], await cliEnv(stack)).done;
      expect(r.code, r.stderr).toBe(0);
      expect(await readdir(out)).toEqual(["field-trip"]);
      const listing = async (base: string): Promise<string[]> =>
        (await readdir(base, { recursive: true, withFileTypes: true }))
          .filter((e) => e.isFile())
          .map((e) => relative(base, join(e.parentPath, e.name)))
          .sort();
      expect(await listing(join(out, "field-trip"))).toEqual([...made].sort());
      for (const rel of made) {
        const [a, b] = await Promise.all([readFile(join(root, rel)), readFile(join(out, "field-trip", rel))]);
        expect(b.equals(a), rel).toBe(true);
      }
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
      done();
    }
  });

  it("a folder cut off half way (the lid closed, the page gone) completes when the folder is picked again, every file's SHA-256 as stored", async () => {
    const done = timed("folderResume");
    const root = join(dir, "lid", "clinic-day");
    const sums = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      const rel = `clinic-day/${["", "scans/", "scans/raw/"][i % 3]}s-${i}.dat`;
      sums.set(rel, await randomFile(join(dir, "lid", rel), 10_000 + i * 50_000));
    }
    sums.set(
      "clinic-day/scans/ct-series.bin",
      await randomFile(join(root, "scans", "ct-series.bin"), 72 * MiB),
    );
    const { context, page, problems } = await uploadPage();
    proxy.setRate(24 * MiB);
    const startedAt = Date.now();
    try {
      await page.getByTestId("pick-folder").setInputFiles(root);
      await eventually(() => storageBytes(startedAt), {
        timeout: 60_000,
        interval: 50,
      }).toBeGreaterThanOrEqual(30 * MiB);
      const batchId = (await card(page).getAttribute("data-batch-id")) ?? "";
      expect(batchId).toMatch(/^bt_/);
      await page.reload();
      proxy.setRate(null);
      const entry = page.getByTestId("unfinished-upload");
      await eventually(() => entry.count()).toBe(1);
      const [chooser] = await Promise.all([
        page.waitForEvent("filechooser"),
        entry.getByTestId("unfinished-resume").click(),
      ]);
      await chooser.setFiles(root);
      await completes(page, 90_000);
      expect(await card(page).getAttribute("data-batch-id")).toBe(batchId);
      const listed = await api.get(`/api/batches/${batchId}/files`);
      const stored = new Map(
        (listed.body.items as { path: string; sha256: string; status: string }[]).map((f) => [f.path, f]),
      );
      expect([...stored.keys()].sort()).toEqual([...sums.keys()].sort());
      for (const [rel, sum] of sums)
        expect(stored.get(rel), rel).toMatchObject({ status: "complete", sha256: sum });
      const big = stored.get("clinic-day/scans/ct-series.bin") as unknown as { id: string };
      expect(await storedSha256(big.id)).toBe(sums.get("clinic-day/scans/ct-series.bin"));
      expect((await api.get(`/api/batches/${batchId}`)).body.status).toBe("complete");
      expect(problems.pageErrors).toEqual([]);
    } finally {
      proxy.setRate(null);
      await context.close();
      done();
    }
  });

  it("a drop of files becomes one batch named after the first; the zone lights up while dragged over; the controls are reachable by keyboard", async () => {
    const done = timed("drop");
    const { context, page, problems } = await uploadPage();
    try {
      // By keyboard from the Upload tab: both pickers and the priority, in that order.
      await page.getByRole("link", { name: "Upload", exact: true }).focus();
      const reached: string[] = [];
      for (let i = 0; i < 6; i++) {
        await page.keyboard.press("Tab");
        reached.push(
          await page.evaluate(() => (globalThis as any).document.activeElement?.dataset?.testid ?? ""),
        );
      }
      // (After the header's theme and token buttons.)
      const first = reached.indexOf("pick-files");
      expect(first).toBeGreaterThan(-1);
      expect(reached.slice(first, first + 3)).toEqual(["pick-files", "pick-folder", "upload-priority"]);
      // The focused picker's button shows the focus ring.
      await page.getByTestId("pick-files").focus();
      const ring = await page.evaluate(
        () =>
          (globalThis as any).getComputedStyle(
            (globalThis as any).document.querySelector(".pick:focus-within"),
          ).outlineStyle,
      );
      expect(ring).toBe("solid");

      const zone = page.getByTestId("dropzone");
      const data = await page.evaluateHandle(() => {
        const w = globalThis as any;
        const dt = new w.DataTransfer();
        dt.items.add(new w.File(["first file's bytes\n"], "notes-a.txt", { type: "text/plain" }));
        dt.items.add(new w.File([new Uint8Array(300_000).fill(7)], "scan-b.pdf"));
        dt.items.add("a dragged link, not a file", "text/plain");
        return dt;
      });
      await zone.dispatchEvent("dragenter", { dataTransfer: data });
      await zone.dispatchEvent("dragover", { dataTransfer: data });
      expect(await zone.getAttribute("class")).toContain("is-dragging");
      await zone.dispatchEvent("drop", { dataTransfer: data });
      await completes(page);
      expect(await zone.getAttribute("class")).not.toContain("is-dragging");
      expect(await card(page).locator("h3").textContent()).toBe("notes-a.txt");
      expect(
        await page
          .getByTestId("upload-file")
          .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-path"))),
      ).toEqual(["notes-a.txt", "scan-b.pdf"]);
      const id = await transferIdOf(page, "notes-a.txt");
      expect((await api.get(`/api/files/${id}`)).body).toMatchObject({ status: "complete", size: 19 });
      expect(await page.getByTestId("upload-problem").count()).toBe(0);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
      done();
    }
  });

  it("a file that vanishes mid-upload fails in words; the rest of the queue is untouched", async () => {
    const done = timed("vanished");
    const kept = join(dir, "vanish", "kept.txt");
    const gone = join(dir, "vanish", "gone-80.bin");
    await randomFile(kept, 5_000);
    await randomFile(gone, 80 * MiB);
    const { context, page, problems, puts } = await uploadPage();
    try {
      await page.getByTestId("pick-files").setInputFiles(kept);
      await completes(page);
      proxy.setRate(16 * MiB);
      const pickedAt = Date.now();
      await page.getByTestId("pick-files").setInputFiles(gone);
      const goneCard = page.locator('[data-testid="upload-batch"]', { hasText: "gone-80.bin" });
      await eventually(() => puts.puts.filter((p) => p.at >= pickedAt).length, {
        timeout: 60_000,
      }).toBeGreaterThan(0);
      await goneCard.getByTestId("upload-pause").click();
      await eventually(() => goneCard.getAttribute("data-phase")).toBe("paused");
      await rm(gone);
      proxy.setRate(null);
      await goneCard.getByTestId("upload-resume").click();
      await eventually(() => goneCard.getAttribute("data-phase")).toBe("failed");
      const said = (await goneCard.getByTestId("upload-problem").allTextContents()).join(" ");
      expect(said).toContain("gone-80.bin");
      expect(said).toMatch(/vanished|changed|cannot be read|could not read/);
      expect(await goneCard.getByTestId("upload-file").getAttribute("data-phase")).toBe("failed");
      // The other batch is as it was.
      const keptCard = page.locator('[data-testid="upload-batch"]', { hasText: "kept.txt" });
      expect(await keptCard.getAttribute("data-phase")).toBe("complete");
      metrics.vanished = { message: said };
      expect(problems.pageErrors).toEqual([]);
      expect(unexpectedErrors(problems, /Failed to load resource|net::ERR_/)).toEqual([]);
    } finally {
      proxy.setRate(null);
      await context.close();
      done();
    }
  });

  it("sends 1 GiB with the page's memory bounded (JS heap sampled over CDP every 250 ms)", {
    timeout: 240_000,
  }, async () => {
    const done = timed("gib");
    const size = 1024 * MiB;
    const path = join(dir, "six", "archive-1g.bin");
    const sum = await randomFile(path, size);
    const { context, page, problems } = await uploadPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const samples: { used: number; backing: number; jsHeap: number }[] = [];
    /** Every 2 s, after a forced collection: what the page really holds. */
    const live: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      for (let i = 1; sampling; i++) {
        if (i % 8 === 0) {
          const after = await cdp
            .send("HeapProfiler.collectGarbage")
            .then(() => cdp.send("Runtime.getHeapUsage"))
            .catch(() => undefined);
          if (after) live.push(after.usedSize + (after.backingStorageSize ?? 0));
        }
        const [heap, perf] = await Promise.all([
          cdp.send("Runtime.getHeapUsage"),
          cdp.send("Performance.getMetrics"),
        ]).catch(() => [undefined, undefined] as const);
        if (heap && perf)
          samples.push({
            used: heap.usedSize,
            backing: heap.backingStorageSize ?? 0,
            jsHeap: perf.metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0,
          });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      const started = Date.now();
      await page.getByTestId("pick-files").setInputFiles(path);
      await eventually(() => card(page).getAttribute("data-phase"), { timeout: 200_000, interval: 250 }).toBe(
        "complete",
      );
      const seconds = (Date.now() - started) / 1000;
      sampling = false;
      await sampler;
      const id = await transferIdOf(page, "archive-1g.bin");
      expect(await storedSha256(id)).toBe(sum);
      const peak = (k: "used" | "backing" | "jsHeap") => Math.max(...samples.map((s) => s[k]));
      const peakTotal = Math.max(...samples.map((s) => s.used + s.backing));
      metrics.gib = {
        fileBytes: size,
        uploadSeconds: seconds,
        mibPerSecond: Math.round((size / MiB / seconds) * 10) / 10,
        samples: samples.length,
        peakHeapUsedMiB: Math.round((peak("used") / MiB) * 10) / 10,
        peakArrayBufferBackingMiB: Math.round((peak("backing") / MiB) * 10) / 10,
        peakHeapPlusBackingMiB: Math.round((peakTotal / MiB) * 10) / 10,
        peakPerfJSHeapUsedMiB: Math.round((peak("jsHeap") / MiB) * 10) / 10,
        liveSamples: live.length,
        peakLiveAfterGcMiB: Math.round((Math.max(...live) / MiB) * 10) / 10,
        boundMiB: HEAP_BOUND / MiB,
        liveBoundMiB: LIVE_BOUND / MiB,
      };
      expect(samples.length).toBeGreaterThan(10);
      expect(peakTotal).toBeLessThan(HEAP_BOUND);
      expect(peak("jsHeap")).toBeLessThan(HEAP_BOUND);
      expect(live.length).toBeGreaterThan(2);
      expect(Math.max(...live)).toBeLessThan(LIVE_BOUND);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      sampling = false;
      await sampler;
      await cdp.detach().catch(() => {});
      await context.close();
      await rm(path, { force: true });
      done();
    }
  });

  it("keeps the uploader out of the main bundle: its lazy chunks and hash worker stay under budget, loaded only on #/upload", async () => {
    const html = await readFile(join(DIST, "index.html"), "utf8");
    const entry = /<script type="module"[^>]*src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(entry).toBeDefined();
    const assets = (await readdir(join(DIST, "assets"))).filter((f) => f.endsWith(".js"));
    const gz = async (f: string) => gzipSync(await readFile(join(DIST, f)), { level: 9 }).length;
    const mainGz = await gz(entry as string);
    const others = assets.map((f) => `assets/${f}`).filter((f) => f !== entry);
    const sizes = Object.fromEntries(
      await Promise.all(
        others.map(async (f) => [f, { raw: (await stat(join(DIST, f))).size, gzip: await gz(f) }] as const),
      ),
    );
    const uploadGz = Object.values(sizes).reduce((n, s) => n + s.gzip, 0);
    const main = await readFile(join(DIST, entry as string), "utf8");
    const worker = others.find((f) => /hash-worker/.test(f));
    metrics.bundle = {
      mainEntry: entry,
      mainGzipBytes: mainGz,
      mainGzipBeforeBytes: MAIN_BEFORE_GZ,
      uploadChunks: sizes,
      uploadGzipBytes: uploadGz,
      uploadBudgetBytes: UPLOAD_BUDGET_GZ,
    };
    expect(others.length).toBeGreaterThanOrEqual(2); // the view's chunk and the worker
    expect(worker).toBeDefined();
    expect(uploadGz).toBeLessThanOrEqual(UPLOAD_BUDGET_GZ);
    expect(mainGz).toBeLessThanOrEqual(MAIN_BEFORE_GZ + MAIN_GROWTH_GZ);
    // hash-wasm and the engine are not in the main entry.
    expect(main).not.toContain("createSHA256");
    expect(main).not.toContain("webkitdirectory");

    // In the page: the overview loads none of the uploader; #/upload loads it.
    const { context, page, problems } = await openPage(browser, { token: stack.token });
    try {
      const scripts: string[] = [];
      page.on("request", (r) => {
        if (r.resourceType() === "script" || r.url().endsWith(".js")) scripts.push(new URL(r.url()).pathname);
      });
      await page.goto(`${stack.apiUrl}/`);
      await eventually(() => page.getByTestId("connection").getAttribute("data-state")).toBe("connected");
      expect(scripts).toEqual([`/${entry}`]);
      await page.getByRole("link", { name: "Upload", exact: true }).click();
      await page.getByTestId("pick-files").waitFor({ state: "attached" });
      expect(scripts.length).toBeGreaterThan(1);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("writes screenshots of a queue and an unfinished upload, desktop and phone, light and dark; discard asks in the page", async () => {
    const done = timed("screenshots");
    const left = join(dir, "eight", "site-backup-2026-12.tar");
    const paused = join(dir, "eight", "interviews-raw.mov");
    const small = join(dir, "eight", "photos");
    await randomFile(left, 80 * MiB);
    await randomFile(paused, 90 * MiB);
    for (const [i, name] of ["2026/beach.jpg", "2026/dunes.jpg", "2025/snow/peak.jpg"].entries())
      await randomFile(join(small, name), 200_000 + i * 50_000);
    const { context, page, problems, puts } = await uploadPage();
    proxy.setRate(8 * MiB);
    try {
      // Left part way: a reload makes it an unfinished upload.
      await page.getByTestId("pick-files").setInputFiles(left);
      await eventually(() => puts.puts.length, { timeout: 60_000, interval: 50 }).toBeGreaterThan(0);
      await page.reload();
      await eventually(() => page.getByTestId("unfinished-upload").count()).toBe(1);
      // A folder that completes, and a big file paused part way.
      proxy.setRate(null);
      await page.getByTestId("pick-folder").setInputFiles(small);
      await completes(page);
      proxy.setRate(16 * MiB);
      await page.getByTestId("upload-priority").selectOption("high");
      const pickedAt = Date.now();
      await page.getByTestId("pick-files").setInputFiles(paused);
      const pausedCard = page.locator('[data-testid="upload-batch"]', { hasText: "interviews-raw.mov" });
      await eventually(() => pausedCard.getAttribute("data-phase"), { timeout: 60_000 }).toBe("running");
      // Some parts stored, so the paused card shows progress kept.
      await eventually(() => puts.puts.filter((p) => p.at >= pickedAt && p.status === 200).length, {
        timeout: 60_000,
      }).toBeGreaterThanOrEqual(2);
      await pausedCard.getByTestId("upload-pause").click();
      await eventually(() => pausedCard.getAttribute("data-phase")).toBe("paused");
      await page.waitForTimeout(500);

      for (const [sizeName, viewport] of [
        ["desktop", DESKTOP],
        ["phone", PHONE],
      ] as const) {
        await page.setViewportSize(viewport);
        for (const scheme of ["light", "dark"] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          await page.waitForTimeout(300);
          await page.screenshot({ path: join(SHOTS, `upload-${sizeName}-${scheme}.png`), fullPage: true });
          // Nothing wider than the screen: the phone layout does not scroll sideways.
          const overflow = await page.evaluate(() => {
            const w = globalThis as any;
            return w.document.documentElement.scrollWidth - w.innerWidth;
          });
          expect(overflow, `${sizeName} ${scheme}`).toBeLessThanOrEqual(0);
        }
      }

      // Discard: asked in the page, then gone from the list and aborted on the server.
      await page.setViewportSize(DESKTOP);
      await page.emulateMedia({ colorScheme: "light" });
      const entry = page.getByTestId("unfinished-upload");
      await entry.getByTestId("unfinished-discard").click();
      expect(await entry.textContent()).toContain("Discard?");
      await page.screenshot({ path: join(SHOTS, "upload-discard-desktop-light.png") });
      await entry.getByTestId("discard-no").click();
      expect(await entry.getByTestId("unfinished-resume").count()).toBe(1);
      await entry.getByTestId("unfinished-discard").click();
      await entry.getByTestId("discard-yes").click();
      await eventually(() => page.getByTestId("unfinished-upload").count()).toBe(0);
      const aborted = await api.get("/api/batches?status=aborted");
      expect(
        (aborted.body.items as { name: string }[]).some((b) => b.name === "site-backup-2026-12.tar"),
      ).toBe(true);

      // Cancel: the paused batch ends cancelled.
      await pausedCard.getByTestId("upload-cancel").click();
      await eventually(() => pausedCard.getAttribute("data-phase")).toBe("cancelled");
      expect(problems.pageErrors).toEqual([]);
      expect(unexpectedErrors(problems, /Failed to load resource|net::ERR_/)).toEqual([]);
    } finally {
      proxy.setRate(null);
      await context.close();
      done();
    }
  });
});
