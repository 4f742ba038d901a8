/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser). playwright's launch() gives the
 * browser a fresh temporary profile (--user-data-dir) and removes it on close; each test context is isolated.
 */
import { execFileSync } from "node:child_process";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from "playwright-core";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumPath(): string {
  try {
    return execFileSync("/bin/sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("Chromium is not installed: apt-get install -y --no-install-recommends chromium");
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}

export interface PageProblems {
  /** console.error messages (the browser's own "Failed to load resource" lines included). */
  consoleErrors: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
}

/** A context with its own storage; `token`, if given, is in localStorage before the first script runs. */
export async function openPage(
  browser: Browser,
  options: BrowserContextOptions & { token?: string } = {},
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const { token, ...contextOptions } = options;
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, ...contextOptions });
  if (token !== undefined)
    // Once per tab: a later reload must see what the page itself kept (or dropped).
    await context.addInitScript((t: string) => {
      const w = globalThis as any;
      if (!w.sessionStorage.getItem("sfts.test.seeded")) {
        w.localStorage.setItem("sfts.token", t);
        w.sessionStorage.setItem("sfts.test.seeded", "1");
      }
    }, token);
  const page = await context.newPage();
  const problems: PageProblems = { consoleErrors: [], pageErrors: [] };
  page.on("console", (m) => {
    if (m.type() === "error") problems.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => problems.pageErrors.push(e.message));
  return { context, page, problems };
}
