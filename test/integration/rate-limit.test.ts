import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ApiClient } from "../../cli/engine/api-client.js";
import type { RetryInfo } from "../../cli/engine/retry.js";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";

const stack = inject("stack");
// The same emulators, behind a coordinator that allows one request a second per key (burst 2).
const coordinator = createCoordinator(
  loadConfig({ ...stack.env, SFTS_RATE_LIMIT: "1", SFTS_RATE_BURST: "2" }),
);
let server: ReturnType<typeof serve>;
let url: string;

beforeAll(async () => {
  server = await new Promise((resolve) => {
    const s = serve({ fetch: coordinator.app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  coordinator.adapters.destroy();
});

describe("rate limiting per API key", () => {
  it("answers 429 with Retry-After once a key's burst is spent", async () => {
    const call = () => fetch(`${url}/api/stats`, { headers: { authorization: `Bearer ${stack.token}` } });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 4; i++) {
      const r = await call();
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    if (!limited) throw new Error("no 429");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");
    // Health is not metered: it needs no key.
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it("the CLI's client waits as told and then succeeds", async () => {
    await new Promise((r) => setTimeout(r, 2100)); // let the bucket refill
    const retries: { operation: string; info: RetryInfo }[] = [];
    const api = new ApiClient({
      server: url,
      token: stack.token,
      timeoutMs: 10_000,
      retry: { maxRetries: 5, baseMs: 10, capMs: 100 },
      onRetry: (operation, info) => retries.push({ operation, info }),
    });
    for (let i = 0; i < 4; i++) await api.listFiles({ limit: 1 });
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]?.info.error.code).toBe("RATE_LIMITED");
    expect(retries[0]?.info.delayMs).toBeGreaterThanOrEqual(1000); // Retry-After beats the 100 ms backoff cap
  });
});
