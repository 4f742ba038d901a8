/**
 * The link harness itself (harness/link.ts), against a tiny HTTP server: what a client in the link
 * experiences under a profile, in kernel mode (network namespace, tc tbf, nftables) where this run may
 * and in proxy mode everywhere.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLink } from "../../harness/link.js";
import { kernelShapingAvailable } from "../../harness/netns.js";
import { PROFILES } from "../../harness/profiles.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
let server: Server;
let target: string;

beforeAll(async () => {
  // GET /big?n=N answers N bytes; PUT answers the number of bytes it read.
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
    });
    req.on("end", () => {
      const body =
        url.pathname === "/big" ? Buffer.alloc(Number(url.searchParams.get("n")), 1) : Buffer.from(String(n));
      res.writeHead(200, { "Content-Length": body.length });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** Fetches `url` from a node process run through the link; resolves with the bytes read and the seconds. */
async function fetchThrough(argvFor: (argv: string[]) => string[], url: string) {
  const script = `const t=performance.now();fetch(${JSON.stringify(url)}).then(r=>r.arrayBuffer()).then(b=>console.log(JSON.stringify({n:b.byteLength,s:(performance.now()-t)/1000})))`;
  const [cmd, ...args] = argvFor([process.execPath, "-e", script]);
  const { stdout } = await run(cmd as string, args);
  return JSON.parse(stdout) as { n: number; s: number };
}

describe("proxy mode", () => {
  it("adds the profile's round trip and rate cap, runs the client here, and says what it cannot model", async () => {
    const link = await openLink({
      profile: PROFILES.satellite,
      targets: { api: target, s3: target },
      mode: "proxy",
      timedEvents: false,
    });
    try {
      expect(link.mode).toBe("proxy");
      expect(link.command(["node", "x"])).toEqual(["node", "x"]);
      expect(link.notes).toEqual([]);
      // 256 KiB at 2 Mbit/s is ~1 s, after a 600 ms round trip.
      const r = await fetchThrough(link.command, `${link.apiUrl}/big?n=${256 * 1024}`);
      expect(r.n).toBe(256 * 1024);
      expect(r.s).toBeGreaterThan(1.4);
      const t0 = performance.now();
      await link.outage(500);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(490);
      expect((await link.counters()).outages).toBe(1);
    } finally {
      await link.close();
    }
  }, 60_000);
});

describe("timed events", () => {
  it("restartEvents() replays the same outage schedule from the seed, so every run meets the same events", async () => {
    const seen: number[] = [];
    let t0 = 0;
    const link = await openLink({
      profile: { ...PROFILES.good, outages: { everyMs: 200, outageMs: 20 } },
      targets: { api: target, s3: target },
      mode: "proxy",
      seed: 99,
      log: (line) => {
        if (line.startsWith("link: outage")) seen.push(performance.now() - t0);
      },
    });
    try {
      const firstEvents = async () => {
        seen.length = 0;
        await link.restartEvents();
        t0 = performance.now();
        await new Promise((r) => setTimeout(r, 700));
        return [...seen];
      };
      const a = await firstEvents();
      const b = await firstEvents();
      expect(a.length).toBeGreaterThanOrEqual(2);
      // The same events at the same offsets (timers are not exact: within 40 ms).
      expect(b.length).toBeGreaterThanOrEqual(a.length - 1);
      for (let i = 0; i < Math.min(a.length, b.length, 2); i++)
        expect(Math.abs((a[i] ?? 0) - (b[i] ?? 0))).toBeLessThan(40);
    } finally {
      await link.close();
    }
  });
});

describe("kernel mode", () => {
  it("runs the client in its own namespace over a rate-limited, lossy veth, and removes it all on close", async () => {
    const can = await kernelShapingAvailable();
    if (!can.ok) {
      // Without the rights, asking for kernel mode is a clear error and auto mode falls back.
      await expect(
        openLink({ profile: PROFILES.good, targets: { api: target, s3: target }, mode: "kernel" }),
      ).rejects.toThrow(/kernel link shaping is not available/);
      const link = await openLink({ profile: PROFILES.mobile, targets: { api: target, s3: target } });
      expect(link.mode).toBe("proxy");
      expect(link.notes.join(" ")).toMatch(/packet loss not modelled/);
      await link.close();
      return;
    }
    // The kernel's rate and loss alone: no per-request round trip.
    const shaped = { ...PROFILES.mobile, rttMs: 0, jitterMs: 0 };
    const link = await openLink({
      profile: shaped,
      targets: { api: target, s3: target },
      timedEvents: false,
    });
    const ns = link.command([])[3] as string;
    try {
      expect(link.mode).toBe("kernel");
      expect(link.command(["node"])).toEqual(["ip", "netns", "exec", ns, "node"]);
      // 2 MiB at 8 Mbit/s takes about 2.1 s; 2% loss in each direction drops some of its packets.
      const r = await fetchThrough(link.command, `${link.apiUrl}/big?n=${2 * MiB}`);
      expect(r.n).toBe(2 * MiB);
      expect(r.s).toBeGreaterThan(1.8);
      const lost = (await link.counters()).packetsLost;
      expect(lost).toBeGreaterThan(0);
      // Counted across profiles: a new shape does not reset the count.
      await link.setProfile(PROFILES.good);
      expect((await link.counters()).packetsLost).toBe(lost);
      await link.setProfile(shaped);
      // The service is not reachable from the namespace except through the link's address.
      await expect(fetchThrough(link.command, `${target}/big?n=1`)).rejects.toThrow();
      // An outage: a request started during it completes only after it.
      const dark = link.outage(1_500);
      const t0 = performance.now();
      await fetchThrough(link.command, `${link.apiUrl}/big?n=10`);
      await dark;
      expect(performance.now() - t0).toBeGreaterThan(1_200);
    } finally {
      await link.close();
    }
    const { stdout } = await run("ip", ["netns", "list"]);
    expect(stdout).not.toContain(ns);
  }, 60_000);
});
