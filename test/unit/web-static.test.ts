/** The local stack's dashboard serving: files from web/dist at /, never in the way of an API route. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultWebDir, withDashboard } from "../../local/web-static.js";

let dir: string;
const api = (req: Request) => new Response(`api ${req.method} ${new URL(req.url).pathname}`, { status: 418 });
const get = (handler: (r: Request) => Promise<Response>, path: string, method = "GET") =>
  handler(new Request(`http://127.0.0.1${path}`, { method }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sfts-web-static-"));
  await mkdir(join(dir, "dist", "assets"), { recursive: true });
  await mkdir(join(dir, "dist", "api"), { recursive: true });
  await writeFile(join(dir, "dist", "index.html"), "<!doctype html><title>SFTS</title>");
  await writeFile(join(dir, "dist", "assets", "index-abc123.js"), "console.log(1)");
  await writeFile(join(dir, "dist", "api", "stats"), "shadow");
  await writeFile(join(dir, "dist", "health"), "shadow");
  await writeFile(join(dir, "secret.txt"), "outside");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("dashboard files on the API's port", () => {
  it("serves index.html at / (no-cache) and hashed assets (immutable)", async () => {
    const h = withDashboard(api, join(dir, "dist"));
    const index = await get(h, "/");
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    expect(await index.text()).toContain("<title>SFTS</title>");
    const js = await get(h, "/assets/index-abc123.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toContain("immutable");
    const head = await get(h, "/", "HEAD");
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("leaves every API path, other methods and unknown files to the API", async () => {
    const h = withDashboard(api, join(dir, "dist"));
    for (const path of [
      "/api/stats",
      "/health",
      "/openapi.json",
      "/upload/init",
      "/s/abc",
      "/download/x",
      "/nope.js",
    ])
      expect((await get(h, path)).status, path).toBe(418);
    expect((await get(h, "/", "POST")).status).toBe(418);
  });

  it("never serves a file outside web/dist", async () => {
    const h = withDashboard(api, join(dir, "dist"));
    for (const path of ["/..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt", "/%2e%2e/secret.txt"])
      expect(await (await get(h, path)).text()).not.toBe("outside");
  });

  it("says how to build the dashboard when web/dist is missing", async () => {
    const h = withDashboard(api, join(dir, "missing"));
    const r = await get(h, "/");
    expect(r.status).toBe(503);
    expect(await r.text()).toContain("npm run build:web");
    expect((await get(h, "/api/stats")).status).toBe(418);
  });

  it("finds web/dist from the sources and from the compiled dist/local", () => {
    expect(defaultWebDir("/repo/local")).toBe("/repo/web/dist");
    expect(defaultWebDir("/repo/dist/local")).toBe("/repo/web/dist");
  });
});
