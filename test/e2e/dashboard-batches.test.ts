/**
 * The dashboard's batches in Debian's Chromium against a real local stack: batches made through the API
 * as the sender makes them (POST /batch with the files → PUT each presigned URL → POST /batch/{id}/complete),
 * one file left unsent and one given up on (POST /upload/{id}/fail with the reason). The list shows each
 * batch's counts and progress, newest first; the detail lists every file by path (Unicode and spaces
 * included) with its status, the failed one with its reason; the transfer detail links back to the batch;
 * a batch of 1,200 files is read across pages and shows one page of rows; a folder sent live by
 * `sfts send DIR` (rate-limited) shows its files completing across polls. Screenshots in
 * test-results/screenshots/ (batches-*.png, batch-detail-*.png).
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestText } from "../../functions/contract/batches.js";
import { formatBytes } from "../../web/src/format.js";
import { type Api, apiClient, sha256 } from "../helpers/api.js";
import { launchChromium, openPage } from "../helpers/browser.js";
import { buildWebForProduction, repoRoot } from "../helpers/build.js";
import { cliEnv, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

const SHOTS = join(repoRoot, "test-results", "screenshots");
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

let stack: TestStack;
let browser: Browser;
let api: Api;
let dir: string;
/** What the page showed, written next to the screenshots for the record. */
const metrics: Record<string, unknown> = {};

beforeAll(async () => {
  buildWebForProduction();
  await mkdir(SHOTS, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "sfts-dashboard-batches-"));
  [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
  api = apiClient(stack);
});

afterAll(async () => {
  await browser?.close();
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
  await writeFile(join(SHOTS, "batches-metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`).catch(
    () => {},
  );
});

const eventually = <T>(fn: () => Promise<T> | T, options: { timeout?: number; interval?: number } = {}) =>
  expect.poll(fn, { timeout: 10_000, interval: 100, ...options });

interface PlannedFile {
  path: string;
  data: Buffer;
  /** What the test does with it: sent and completed, left unsent, or given up on with a reason. */
  fate: "sent" | "unsent" | "failed";
}

interface SentBatch {
  id: string;
  name: string;
  files: (PlannedFile & { transferId: string })[];
  dirs: string[];
}

const REASON = "file changed while being sent (size 4096 → 4100)";

/** A batch made through the API as the CLI makes one; returns what the page should then show. */
async function makeBatch(name: string, files: PlannedFile[], dirs: string[] = []): Promise<SentBatch> {
  const entries = files.map((f) => ({ path: f.path, size: f.data.length, sha256: sha256(f.data) }));
  const created = await api.post("/batch", {
    name,
    digest: sha256(Buffer.from(manifestText(entries, dirs))),
    fileCount: files.length,
    totalBytes: files.reduce((n, f) => n + f.data.length, 0),
    priority: "normal",
    ...(dirs.length > 0 && { dirs }),
    files: entries,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const answers = created.body.files as { action: string; path: string; transferId: string; put?: any }[];
  expect(answers.map((a) => a.path).sort()).toEqual(files.map((f) => f.path).sort());
  const byPath = new Map(answers.map((a) => [a.path, a]));
  const toComplete: string[] = [];
  for (const f of files) {
    const a = byPath.get(f.path);
    if (!a) throw new Error(`no answer for ${f.path}`);
    if (f.fate === "sent" && a.action === "put") {
      const put = await fetch(a.put.url, { method: "PUT", headers: a.put.headers, body: f.data });
      expect(put.status, `PUT ${f.path}`).toBe(200);
      toComplete.push(a.transferId);
    } else if (f.fate !== "sent") {
      expect(a.action, f.path).toBe("put");
    }
    if (f.fate === "failed") {
      const failed = await api.post(`/upload/${a.transferId}/fail`, { reason: REASON });
      expect(failed.status, JSON.stringify(failed.body)).toBe(200);
    }
  }
  if (toComplete.length > 0) {
    const done = await api.post(`/batch/${created.body.batchId}/complete`, {
      files: toComplete.map((transferId) => ({ transferId })),
    });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    for (const c of done.body.files) expect(c.status).toBe("complete");
  }
  return {
    id: created.body.batchId,
    name,
    dirs,
    files: files.map((f) => ({ ...f, transferId: byPath.get(f.path)?.transferId as string })),
  };
}

const complete = (b: SentBatch) => b.files.filter((f) => f.fate === "sent");
const bytesOf = (fs: { data: Buffer }[]) => fs.reduce((n, f) => n + f.data.length, 0);

async function signedIn(viewport = DESKTOP, colorScheme: "light" | "dark" = "light") {
  return openPage(browser, { token: stack.token, viewport, colorScheme });
}

const connected = (page: Page) =>
  eventually(() => page.getByTestId("connection").getAttribute("data-state")).toBe("connected");

let dataset: SentBatch;
let older: SentBatch;

describe("dashboard: batches", () => {
  it("lists batches newest first with files and bytes complete and their progress", async () => {
    older = await makeBatch("photos", [
      { path: "a.jpg", data: randomBytes(3000), fate: "sent" },
      { path: "b.jpg", data: randomBytes(5000), fate: "sent" },
    ]);
    dataset = await makeBatch(
      "dataset",
      [
        { path: "scans/2026/day 1.tif", data: randomBytes(40_000), fate: "sent" },
        { path: "scans/2026/day 2.tif", data: randomBytes(20_000), fate: "unsent" },
        { path: "Überblick/naïve ☃ notes.txt", data: randomBytes(1500), fate: "sent" },
        { path: ".hidden/config", data: randomBytes(300), fate: "sent" },
        { path: "logs/run 3/trace.log", data: randomBytes(4096), fate: "failed" },
        { path: "empty.txt", data: Buffer.alloc(0), fate: "sent" },
      ],
      ["empty folder/inner", "logs/run 4"],
    );

    const { context, page, problems } = await signedIn();
    try {
      await page.goto(`${stack.apiUrl}/`);
      await connected(page);
      await page.getByRole("link", { name: "Batches", exact: true }).click();
      const rows = page.getByTestId("batches-table").locator("tbody tr");
      await eventually(() => rows.count()).toBe(2);
      // Newest first.
      expect(await rows.nth(0).getAttribute("data-id")).toBe(dataset.id);
      expect(await rows.nth(1).getAttribute("data-id")).toBe(older.id);

      for (const b of [dataset, older]) {
        const row = page.locator(`tr[data-id="${b.id}"]`);
        const done = complete(b);
        const failed = b.files.filter((f) => f.fate === "failed").length;
        const files = `${done.length} of ${b.files.length}${failed ? ` · ${failed} failed` : ""}`;
        await eventually(() => row.getByTestId("batch-files").textContent()).toBe(files);
        expect(await row.getByTestId("batch-bytes").textContent()).toBe(
          `${formatBytes(bytesOf(done))} of ${formatBytes(bytesOf(b.files))}`,
        );
        const ratio = bytesOf(done) / bytesOf(b.files);
        expect(Number(await row.getByRole("progressbar").getAttribute("aria-valuenow"))).toBe(
          Math.floor(ratio * 1000) / 10,
        );
        expect(await row.getAttribute("data-status")).toBe(
          done.length === b.files.length ? "complete" : "open",
        );
        expect(await row.locator("a").first().textContent()).toBe(b.name);
      }

      // The status filter asks the API for that status only.
      await page.getByTestId("batch-status-filter").selectOption("complete");
      await eventually(() => page.url()).toContain("#/batches?status=complete");
      await eventually(() => rows.count()).toBe(1);
      expect(await rows.nth(0).getAttribute("data-id")).toBe(older.id);
      await page.getByTestId("batch-status-filter").selectOption("");
      await eventually(() => rows.count()).toBe(2);
      await page.screenshot({ path: join(SHOTS, "batches-desktop-light.png"), fullPage: true });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("shows a batch's every file by path with its status, the failed one with its reason", async () => {
    const { context, page, problems } = await signedIn();
    try {
      await page.goto(`${stack.apiUrl}/#/batches`);
      await connected(page);
      await page.locator(`tr[data-id="${dataset.id}"] a`).first().click();
      await eventually(() => page.url()).toContain(`#/batches/${dataset.id}`);
      const rows = page.getByTestId("batch-files-table").locator("tbody tr");
      await eventually(() => rows.count()).toBe(dataset.files.length);

      // By path, as the API lists them; every path as sent, Unicode and spaces included.
      const shown = await rows.evaluateAll((trs) =>
        trs.map((tr) => ({
          path: tr.getAttribute("data-path"),
          id: tr.getAttribute("data-id"),
          status: tr.getAttribute("data-status"),
          text: tr.querySelector("a")?.textContent,
          progress: Number(tr.querySelector('[role="progressbar"]')?.getAttribute("aria-valuenow")),
        })),
      );
      const expected = [...dataset.files]
        // DynamoDB orders range keys by their UTF-8 bytes.
        .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
        .map((f) => ({
          path: f.path,
          id: f.transferId,
          status: f.fate === "sent" ? "complete" : f.fate === "failed" ? "failed" : "uploading",
          text: f.path,
          // Complete: all of it stored; the unsent and the failed one: nothing stored.
          progress: f.fate === "sent" ? 100 : 0,
        }));
      expect(shown).toEqual(expected);

      const failed = dataset.files.find((f) => f.fate === "failed");
      const failedRow = page.locator(`tr[data-id="${failed?.transferId}"]`);
      expect(await failedRow.getByTestId("file-error").textContent()).toBe(REASON);
      expect(await failedRow.locator(".badge.status").textContent()).toBe("Failed");

      const done = complete(dataset);
      expect(await page.getByTestId("fact-files").locator("dd").textContent()).toBe(
        `${done.length} of ${dataset.files.length} · 1 failed`,
      );
      expect(await page.getByTestId("fact-dirs").locator("dd").textContent()).toBe(
        String(dataset.dirs.length),
      );
      await page.locator(".dirs summary").click();
      expect(await page.getByTestId("dirs").locator("li").allTextContents()).toEqual(
        [...dataset.dirs].sort().map((d) => `${d}/`),
      );

      // "Not complete": the unsent one and the failed one; "Failed": the failed one.
      await page.getByTestId("file-filter").selectOption("incomplete");
      await eventually(() => rows.count()).toBe(dataset.files.filter((f) => f.fate !== "sent").length);
      await page.getByTestId("file-filter").selectOption("failed");
      await eventually(() => rows.count()).toBe(1);
      await page.getByTestId("file-filter").selectOption("all");
      await page.getByTestId("file-search").fill("NAÏVE ☃");
      await eventually(() => rows.count()).toBe(1);
      expect(await rows.first().getAttribute("data-path")).toBe("Überblick/naïve ☃ notes.txt");
      await page.getByTestId("file-search").fill("");
      await eventually(() => rows.count()).toBe(dataset.files.length);
      await page.screenshot({ path: join(SHOTS, "batch-detail-desktop-light.png"), fullPage: true });

      // The failed file's transfer: its reason up front, its path, and a link back to the batch.
      await failedRow.locator("a").first().click();
      await eventually(() => page.getByTestId("failed-reason").textContent()).toBe(`Failed: ${REASON}`);
      expect(await page.getByTestId("file-path").textContent()).toBe(failed?.path);
      expect(await page.getByTestId("single-put").textContent()).toContain("not stored yet");
      await page.screenshot({ path: join(SHOTS, "transfer-failed-desktop-light.png"), fullPage: true });
      await page.getByTestId("file-batch").locator("a").click();
      await eventually(() => page.url()).toContain(`#/batches/${dataset.id}`);

      // A complete file sent as one PUT: all of it stored, no parts expected.
      const sent = dataset.files.find((f) => f.path === "scans/2026/day 1.tif");
      await page.goto(`${stack.apiUrl}/#/transfers/${sent?.transferId}`);
      await eventually(() => page.getByTestId("file-path").textContent()).toBe(sent?.path);
      expect(await page.getByTestId("facts").textContent()).toContain(
        `Stored${formatBytes(sent?.data.length ?? -1)} (${(sent?.data.length ?? -1).toLocaleString("en-US")} bytes)`,
      );
      expect(await page.getByTestId("single-put").textContent()).toContain("before marking it complete");
      expect(Number(await page.getByRole("progressbar").getAttribute("aria-valuenow"))).toBe(100);

      // The transfers table says it failed, and why.
      await page.goto(`${stack.apiUrl}/#/transfers?status=failed`);
      const row = page.locator(`tr[data-id="${failed?.transferId}"]`);
      await eventually(() => row.getAttribute("data-status")).toBe("failed");
      expect(await row.locator(".cell-error").textContent()).toBe(REASON);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("reads a batch of 1,200 files across pages and puts one page of rows in the DOM", async () => {
    const n = 1200;
    const files: PlannedFile[] = Array.from({ length: n }, (_, i) => ({
      path: `run/${String(Math.floor(i / 100)).padStart(2, "0")}/sample ${String(i).padStart(4, "0")}.csv`,
      data: Buffer.from(`sample ${i}\n`),
      fate: "unsent",
    }));
    const entries = files.map((f) => ({ path: f.path, size: f.data.length, sha256: sha256(f.data) }));
    const created = await api.post("/batch", {
      name: "many",
      digest: sha256(Buffer.from(manifestText(entries))),
      fileCount: n,
      totalBytes: bytesOf(files),
      priority: "low",
      files: entries.slice(0, 500),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    for (const from of [500, 1000]) {
      const more = await api.post(`/batch/${created.body.batchId}/files`, {
        files: entries.slice(from, from + 500),
      });
      expect(more.status, JSON.stringify(more.body)).toBe(200);
    }

    const { context, page, problems } = await signedIn();
    try {
      await page.goto(`${stack.apiUrl}/#/batches/${created.body.batchId}`);
      await connected(page);
      const count = page.getByTestId("files-count");
      await eventually(() => count.textContent(), { timeout: 20_000 }).toContain(
        `${n.toLocaleString("en-US")} shown of ${n.toLocaleString("en-US")} listed`,
      );
      const rows = page.getByTestId("batch-files-table").locator("tbody tr");
      expect(await rows.count()).toBe(100);
      expect(await page.getByTestId("files-range").textContent()).toBe(
        `1–100 of ${n.toLocaleString("en-US")}`,
      );
      const sorted = [...files].map((f) => f.path).sort();
      expect(await rows.first().getAttribute("data-path")).toBe(sorted[0]);
      await page.getByRole("button", { name: "Last" }).click();
      await eventually(() => rows.last().getAttribute("data-path")).toBe(sorted[n - 1]);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("shows a folder sent live: its files complete across polls, the batch ends complete with every path", async () => {
    // Six files of 2 MiB at 1 MiB/s, one PUT at a time: a file lands about every 2 s, so 3-second polls
    // see the batch part done at least twice before it is complete.
    const root = join(dir, "field day");
    const paths = ["a/take 1.wav", "a/take 2.wav", "a/take 3.wav", "b/ß notes.bin", "b/ü.bin", "c.bin"];
    for (const p of paths) {
      await mkdir(dirname(join(root, p)), { recursive: true });
      await writeFile(join(root, p), randomBytes(2 * 1024 * 1024));
    }
    const { context, page, problems } = await signedIn();
    try {
      await page.goto(`${stack.apiUrl}/#/batches`);
      await connected(page);
      let batchId: string | undefined;
      const run = runCli(
        ["send", root, "--json", "--limit-rate", "1MiB/s", "--transfers", "1", "--concurrency", "1"],
        await cliEnv(stack),
        (e) => {
          if (e.type === "batch" && e.phase === "start") batchId = e.batchId;
        },
      );
      let finished = false;
      const done = run.done.then((r) => {
        finished = true;
        return r;
      });
      const seen: { at: number; files: string; progress: number }[] = [];
      const started = Date.now();
      let opened = false;
      while (Date.now() - started < 60_000) {
        if (batchId && !opened) {
          await page.goto(`${stack.apiUrl}/#/batches/${batchId}`);
          opened = true;
        }
        const files = page.getByTestId("fact-files").locator("dd");
        if (opened && (await files.count()) > 0) {
          const text = (await files.textContent()) ?? "";
          const progress = Number(
            await page.locator(".card").first().getByRole("progressbar").getAttribute("aria-valuenow"),
          );
          const last = seen[seen.length - 1];
          if (!last || last.files !== text || last.progress !== progress)
            seen.push({ at: Date.now() - started, files: text, progress });
          if (text === `${paths.length} of ${paths.length}`) break;
        }
        await page.waitForTimeout(150);
        if (finished && seen.length === 0 && Date.now() - started > 20_000) break;
      }
      const result = await done;
      expect(result.code, result.stderr).toBe(0);
      metrics.liveBatch = seen;
      expect(batchId).toMatch(/^bt_/);
      expect(seen[seen.length - 1]).toEqual(
        expect.objectContaining({ files: `${paths.length} of ${paths.length}`, progress: 100 }),
      );
      const partly = seen.filter((s) => s.progress > 0 && s.progress < 100);
      expect(partly.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < seen.length; i++)
        expect(seen[i]?.progress).toBeGreaterThanOrEqual(seen[i - 1]?.progress ?? 0);

      const rows = page.getByTestId("batch-files-table").locator("tbody tr");
      // Paths keep the folder given: "field day/a/take 1.wav".
      await eventually(() =>
        rows.evaluateAll((trs) =>
          trs.map((tr) => `${tr.getAttribute("data-path")}:${tr.getAttribute("data-status")}`),
        ),
      ).toEqual([...paths].sort().map((p) => `field day/${p}:complete`));
      await eventually(() => page.locator(".detail-badges .badge.status").first().textContent()).toBe(
        "Complete",
      );
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("writes screenshots of the batches views at desktop and phone widths, light and dark", async () => {
    for (const [sizeName, viewport] of [
      ["desktop", DESKTOP],
      ["phone", PHONE],
    ] as const) {
      for (const scheme of ["light", "dark"] as const) {
        const { context, page, problems } = await signedIn(viewport, scheme);
        try {
          for (const [name, hash] of [
            ["batches", "#/batches"],
            ["batch-detail", `#/batches/${dataset.id}`],
          ] as const) {
            await page.goto(`${stack.apiUrl}/${hash}`);
            await connected(page);
            await page.waitForTimeout(1200);
            await page.screenshot({ path: join(SHOTS, `${name}-${sizeName}-${scheme}.png`), fullPage: true });
            const overflow = await page.evaluate(() => {
              const w = globalThis as any;
              return w.document.documentElement.scrollWidth - w.innerWidth;
            });
            expect(overflow, `${name} ${sizeName}`).toBeLessThanOrEqual(0);
          }
          expect(problems.pageErrors).toEqual([]);
          expect(problems.consoleErrors).toEqual([]);
        } finally {
          await context.close();
        }
      }
    }
  });
});
