/**
 * `sfts doctor` as a process against a real local stack: every check passes on a healthy one and names the
 * profile and what storage verifies; a wrong token, a stopped API and a coordinator whose storage accepted
 * damaged bytes each fail their check with a clear message and a non-zero exit, never a stack trace; an
 * older coordinator (no GET /api/storage, made by a proxy) is a warning.
 * The unverified coordinator runs beside the stack, over the same storage and table, with
 * SFTS_TEST_STORAGE_IGNORES_CHECKSUM=1 (its digest goes where storage does not check it): as a Lambda
 * would, it answers, and its gate refuses transfers because its probe saw damaged bytes accepted.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import type { StorageInfo } from "../../functions/contract/storage.js";
import { startFaultProxy } from "../../harness/fault-proxy.js";
import { getFreePort } from "../../local/ports.js";
import { apiClient } from "../helpers/api.js";
import { cliEnv, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.cleanup();
});

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at /);
const line = (stdout: string, title: string) =>
  stdout.split("\n").find((l) => new RegExp(`^. ${title} `).test(l)) ?? "";

interface Report {
  ok: boolean;
  exitCode: number;
  checks: { name: string; status: string; detail: string; hint?: string }[];
  storage?: StorageInfo;
}

describe("sfts doctor", () => {
  it("passes every check on a healthy stack and names the profile and what storage verifies", async () => {
    const profile = stack.config.storage.profile;
    const r = await runCli(["doctor"], await cliEnv(stack)).done;
    noStackTrace(r.stderr);
    expect(r.stdout).toMatch(/All checks pass/);
    expect(r.code).toBe(0);
    for (const title of ["Server", "API token", "Storage", "Storage reachable", "Clock"])
      expect(line(r.stdout, title)).toMatch(/^✓ /);
    const storage = line(r.stdout, "Storage");
    expect(storage).toContain(`${profile.label} (profile ${profile.name}`);
    expect(storage).toContain(profile.partCheck === "sha256" ? "SHA-256" : "Content-MD5");
    expect(storage).toContain("probe verified");
    expect(line(r.stdout, "Storage reachable")).toContain(stack.s3Endpoint);

    const j = await runCli(["doctor", "--json"], await cliEnv(stack)).done;
    expect(j.code).toBe(0);
    const report = JSON.parse(j.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["server", "ok"],
      ["token", "ok"],
      ["storage", "ok"],
      ["storage-reach", "ok"],
      ["clock", "ok"],
    ]);
    expect(report.storage?.rules.profile).toBe(profile.name);
    expect(report.storage?.probe.state).toBe("verified");
  });

  it("fails the token check for a wrong token, with a clear message and exit 5", async () => {
    const r = await runCli(["doctor"], await cliEnv(stack, { SFTS_TOKEN: `sfts_${"x".repeat(40)}` })).done;
    noStackTrace(r.stderr);
    expect(r.code).toBe(5);
    expect(line(r.stdout, "Server")).toMatch(/^✓ /);
    expect(line(r.stdout, "API token")).toMatch(/^✗ API token +The server refused the API token/);
    expect(r.stdout).toMatch(/→ Check --token or SFTS_TOKEN/);
    // What storage verifies is still told, from /health (no token needed).
    expect(line(r.stdout, "Storage")).toMatch(/^✓ .*from \/health/);
    expect(r.stdout).toMatch(/1 check failed: API token\./);
  });

  it("fails the server check when the API is stopped, exit 4", async () => {
    await stack.stopApi();
    try {
      const r = await runCli(["doctor", "--timeout", "5"], await cliEnv(stack)).done;
      noStackTrace(r.stderr);
      expect(r.code).toBe(4);
      expect(line(r.stdout, "Server")).toMatch(/^✗ Server +No answer from .*ECONNREFUSED/);
      expect(r.stdout).toMatch(/→ Is the coordinator running/);
      expect(line(r.stdout, "API token")).toMatch(/^- API token +Not checked/);
    } finally {
      await stack.startApi();
    }
  });

  it("warns, and passes, against an older coordinator without GET /api/storage", async () => {
    // The proxy answers /api/storage (and the admin's /api/storage/probe) as a coordinator from before
    // storage profiles does.
    const older = await startFaultProxy({ target: stack.apiUrl });
    for (const method of ["GET", "POST"])
      older.addRule({
        match: { method, path: /^\/api\/storage/ },
        fault: {
          kind: "status",
          status: 404,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            error: { code: "ROUTE_NOT_FOUND", message: `No route ${method} /api/storage.` },
          }),
        },
      });
    try {
      const r = await runCli(["doctor"], await cliEnv({ apiUrl: older.url, token: stack.token })).done;
      noStackTrace(r.stderr);
      expect(r.code).toBe(0);
      expect(line(r.stdout, "Storage")).toMatch(/^! Storage +This coordinator has no GET \/api\/storage/);
      expect(line(r.stdout, "Storage reachable")).toMatch(/^- /);
      expect(r.stdout).toMatch(/All checks pass \(1 warning\)\./);
    } finally {
      await older.close();
    }
  });

  it("fails the storage check with the probe's message when storage accepted damaged bytes", async () => {
    const config = loadConfig({ ...stack.env, SFTS_TEST_STORAGE_IGNORES_CHECKSUM: "1" });
    const { app } = createCoordinator(config);
    const port = await getFreePort();
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await runCli(["doctor"], await cliEnv({ apiUrl, token: stack.token })).done;
      noStackTrace(r.stderr);
      const info = (await apiClient({ ...stack, apiUrl }).get("/api/storage")).body as StorageInfo;
      expect(info.probe.state).toBe("unverified");
      expect(info.serving).toBe(false);
      expect(r.code).toBe(6);
      const storage = line(r.stdout, "Storage");
      expect(storage).toMatch(/^✗ Storage +Transfers are refused/);
      expect(storage).toContain("probe unverified");
      expect(storage).toContain(info.probe.message);
      expect(r.stdout).toMatch(/→ On the coordinator: set SFTS_STORAGE_PROFILE/);
      expect(line(r.stdout, "Server")).toMatch(/^✓ .*storage refuses transfers/);
      expect(line(r.stdout, "API token")).toMatch(/^✓ /);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
