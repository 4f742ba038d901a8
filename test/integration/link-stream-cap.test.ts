/**
 * A profile's per-connection cap (`streamCapBitsPerSec`, the Mathis ceiling of mobile and long-fat) as a
 * client through the link meets it: one download held near the cap, two in parallel each at it, and in
 * kernel mode the namespace's TCP send buffers held to 64 KiB while it applies, restored after.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openLink } from "../../harness/link.js";
import { PROFILES } from "../../harness/profiles.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
let server: Server;
let target: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const n = Number(new URL(req.url ?? "/", "http://x").searchParams.get("n"));
    req.resume();
    res.writeHead(200, { "Content-Length": n });
    res.end(Buffer.alloc(n, 1));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** `count` parallel fetches of `bytes` each from one node process through the link: bytes and seconds. */
async function fetchAll(argvFor: (argv: string[]) => string[], url: string, count: number) {
  const script = `const t=performance.now();Promise.all(Array.from({length:${count}},()=>fetch(${JSON.stringify(url)}).then(r=>r.arrayBuffer()))).then(bs=>console.log(JSON.stringify({n:bs.map(b=>b.byteLength),s:(performance.now()-t)/1000})))`;
  const [cmd, ...args] = argvFor([process.execPath, "-e", script]);
  const { stdout } = await run(cmd as string, args);
  return JSON.parse(stdout) as { n: number[]; s: number };
}

it("holds each connection through the link to the profile's cap, in parallel too, in either mode", async () => {
  // 8 Mbit/s per connection: 4 MiB takes about 4.2 s, on one connection or on each of two.
  const profile = { ...PROFILES.good, streamCapBitsPerSec: 8_000_000 };
  const link = await openLink({ profile, targets: { api: target, s3: target }, timedEvents: false });
  try {
    const wmem = async () => {
      const [cmd, ...args] = link.command(["sysctl", "-n", "net.ipv4.tcp_wmem"]);
      return (await run(cmd as string, args)).stdout.trim().split(/\s+/).map(Number);
    };
    if (link.mode === "kernel") expect((await wmem())[2]).toBe(65_536);
    const one = await fetchAll(link.command, `${link.s3Url}/big?n=${4 * MiB}`, 1);
    expect(one.n).toEqual([4 * MiB]);
    expect(one.s).toBeGreaterThan(3.5);
    const two = await fetchAll(link.command, `${link.s3Url}/big?n=${4 * MiB}`, 2);
    expect(two.n).toEqual([4 * MiB, 4 * MiB]);
    expect(two.s).toBeGreaterThan(3.5);
    expect(two.s).toBeLessThan(one.s * 1.6); // one shared cap would need twice as long
    // Without the cap, the same profile is not held back, and the send buffers are the default again.
    await link.setProfile(PROFILES.good);
    if (link.mode === "kernel") expect((await wmem())[2]).toBeGreaterThan(65_536);
    const free = await fetchAll(link.command, `${link.s3Url}/big?n=${4 * MiB}`, 1);
    expect(free.s).toBeLessThan(2);
  } finally {
    await link.close();
  }
}, 60_000);
