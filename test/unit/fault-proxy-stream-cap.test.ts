/**
 * The per-connection TCP ceiling of the long, lossy link profiles: `mathisCap` gives the Mathis et al.
 * figure, the profiles whose RTT and loss make it bind carry it, and the fault proxy holds each client
 * connection to it in each direction while parallel connections each get their own (the regime where
 * many streams pay). Timings are the harness's own behaviour under test, asserted with wide margins.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../../harness/fault-proxy.js";
import { mathisCap, PROFILES } from "../../harness/profiles.js";

const MiB = 1024 * 1024;

describe("mathisCap", () => {
  it("gives one TCP stream's ceiling (MSS / RTT) × (1.22 / √p)", () => {
    expect(mathisCap(200, 1) / 1e6).toBeCloseTo(0.715, 2);
    expect(mathisCap(100, 2) / 1e6).toBeCloseTo(1.011, 2);
    // Twice the round trip halves it; four times the loss halves it; a larger MSS raises it.
    expect(mathisCap(400, 1)).toBeCloseTo(mathisCap(200, 1) / 2, 3);
    expect(mathisCap(200, 4)).toBeCloseTo(mathisCap(200, 1) / 2, 3);
    expect(mathisCap(200, 1, 8960)).toBeGreaterThan(6 * mathisCap(200, 1));
  });

  it("does not bind without loss or without a round trip", () => {
    expect(mathisCap(600, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(mathisCap(0, 2)).toBe(Number.POSITIVE_INFINITY);
  });

  it("is carried by long-fat only, and said in its summary", () => {
    for (const name of ["long-fat"] as const) {
      const p = PROFILES[name];
      const cap = p.streamCapBitsPerSec ?? 0;
      expect(Math.abs(cap - mathisCap(p.rttMs, p.lossPercent ?? 0))).toBeLessThan(1_000);
      expect(cap).toBeLessThan(p.rateBitsPerSec ?? 0);
      expect(p.summary).toMatch(/per-connection TCP ceiling by the Mathis model/);
    }
    for (const name of ["good", "satellite", "mobile", "flaky", "hostile"] as const)
      expect(PROFILES[name].streamCapBitsPerSec).toBeUndefined();
  });
});

/** GET /big?n=N answers N bytes; PUT reads the body and answers its size. */
let target: Server;
let proxy: FaultProxy;

beforeAll(async () => {
  target = createServer((req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
    });
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const body =
        url.pathname === "/big" ? Buffer.alloc(Number(url.searchParams.get("n"))) : Buffer.from(String(n));
      res.writeHead(200, { "Content-Length": body.length });
      res.end(body);
    });
  });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
  proxy = await startFaultProxy({ target: `http://127.0.0.1:${(target.address() as AddressInfo).port}` });
});
afterAll(async () => {
  await proxy.close();
  await new Promise<void>((r) => {
    target.closeAllConnections();
    target.close(() => r());
  });
});
afterEach(() => {
  proxy.setStreamCap(null);
  proxy.setRate(null);
});

/** One request on a connection of its own: the response body's size, its first bytes, the seconds taken. */
function timed(
  method: "GET" | "PUT",
  path: string,
  body?: Buffer,
): Promise<{ bytes: number; head: string; s: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: proxy.port, method, path, agent: false }, (res) => {
      let bytes = 0;
      let head = "";
      res.on("data", (c: Buffer) => {
        if (bytes < 32) head += c.subarray(0, 32).toString("latin1");
        bytes += c.length;
      });
      res.on("end", () => resolve({ bytes, head, s: (performance.now() - t0) / 1000 }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("fault proxy: per-connection cap", () => {
  // 8 Mbit/s: 4 MiB takes about 4.2 s on one connection.
  const cap = 8_000_000 / 8;

  it("holds an upload on one connection near the cap", async () => {
    proxy.setStreamCap(cap);
    const r = await timed("PUT", "/up", Buffer.alloc(4 * MiB));
    expect(r.head).toBe(String(4 * MiB)); // the target got every byte
    expect(r.s).toBeGreaterThan(3.5);
    expect(r.s).toBeLessThan(7);
  }, 20_000);

  it("gives each of two parallel connections its own cap: both downloads end in about the time of one", async () => {
    proxy.setStreamCap(cap);
    const t0 = performance.now();
    const [a, b] = await Promise.all([timed("GET", `/big?n=${4 * MiB}`), timed("GET", `/big?n=${4 * MiB}`)]);
    const total = (performance.now() - t0) / 1000;
    expect(a.bytes).toBe(4 * MiB);
    expect(b.bytes).toBe(4 * MiB);
    expect(Math.min(a.s, b.s)).toBeGreaterThan(3.5);
    // One shared cap would need ≥ 8.4 s for the 8 MiB; two caps about 4.2 s, i.e. about twice the rate.
    expect(total).toBeLessThan(6.5);
  }, 20_000);

  it("without a cap, the same transfer is not held back", async () => {
    const r = await timed("GET", `/big?n=${4 * MiB}`);
    expect(r.bytes).toBe(4 * MiB);
    expect(r.s).toBeLessThan(2);
  });

  it("refuses a cap that is not positive", () => {
    expect(() => proxy.setStreamCap(0)).toThrow(/stream cap must be > 0/);
  });
});
