/**
 * The fault proxy against a tiny local target: transparency first (a SigV4 presigned request must reach
 * storage byte-for-byte, Host included), then each fault as the client observes it.
 */
import { createHash, randomBytes } from "node:crypto";
import { Agent, createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../../harness/fault-proxy.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
  complete: boolean;
  aborted: boolean;
  /** Arrival time (ms) and size of each body chunk. */
  chunks: { t: number; n: number }[];
  remotePort: number;
}

interface Target {
  server: Server;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

/** GET /big?n=N answers N bytes; anything else echoes the body back with S3-like headers. */
async function startTarget(port = 0): Promise<Target> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const record: Seen = {
      method: req.method ?? "",
      url: req.url ?? "",
      rawHeaders: req.rawHeaders,
      body: Buffer.alloc(0),
      complete: false,
      aborted: false,
      chunks: [],
      remotePort: req.socket.remotePort ?? 0,
    };
    seen.push(record);
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      parts.push(c);
      record.chunks.push({ t: performance.now(), n: c.length });
    });
    req.on("close", () => {
      if (!req.complete) record.aborted = true;
    });
    req.on("end", () => {
      record.body = Buffer.concat(parts);
      record.complete = true;
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/big") {
        const n = Number(url.searchParams.get("n"));
        res.writeHead(200, { "Content-Length": n, "Content-Type": "application/octet-stream" });
        res.end(Buffer.alloc(n, 0x61));
        return;
      }
      const status = Number(url.searchParams.get("status") ?? 200);
      const body = record.body.length > 0 ? record.body : Buffer.from("hello");
      res.writeHead(status, "Custom Reason", [
        "ETag",
        `"${sha256(body).slice(0, 32)}"`,
        "x-amz-request-id",
        "RID123",
        "X-Amz-Id-2",
        "a",
        "x-amz-id-2",
        "b",
        "Content-Length",
        String(body.length),
      ]);
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Reply {
  status: number;
  statusMessage: string;
  rawHeaders: string[];
  headers: IncomingMessage["headers"];
  body: Buffer;
  reusedSocket: boolean;
}

/** Rejects with the socket error (ECONNRESET, "socket hang up", EPIPE) when the proxy cuts the connection. */
function send(
  port: number,
  method: string,
  path: string,
  opts: {
    headers?: string[] | Record<string, string>;
    body?: Buffer;
    agent?: Agent;
    onPartial?: (n: number) => void;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method, path, headers: opts.headers ?? {}, agent: opts.agent ?? false },
      (res) => {
        const parts: Buffer[] = [];
        let n = 0;
        res.on("data", (c: Buffer) => {
          parts.push(c);
          n += c.length;
          opts.onPartial?.(n);
        });
        res.on("error", reject);
        res.on("aborted", () => reject(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
        res.on("end", () => {
          if (!res.complete) return;
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? "",
            rawHeaders: res.rawHeaders,
            headers: res.headers,
            body: Buffer.concat(parts),
            reusedSocket: req.reusedSocket,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

const errorCode = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "resolved",
    (err: NodeJS.ErrnoException) => err.code ?? err.message,
  );

const RESET_CODES = ["ECONNRESET", "EPIPE"];

let target: Target;
let proxy: FaultProxy;

beforeAll(async () => {
  target = await startTarget();
  proxy = await startFaultProxy({ target: `http://127.0.0.1:${target.port}` });
});
afterAll(async () => {
  await proxy.close();
  await target.close();
});
afterEach(() => {
  proxy.clearRules();
  proxy.setChaos(null);
  proxy.setRate(null);
  proxy.setLatency(0);
  target.seen.length = 0;
});

describe("transparency", () => {
  it("forwards method, path+query, raw headers (Host included) and body unchanged, and the response too", async () => {
    const body = randomBytes(3 * MiB + 17);
    const path =
      "/bucket/obj%20key?partNumber=3&uploadId=u-1&X-Amz-Signature=abc%2Fdef&X-Amz-SignedHeaders=host";
    const rawHeaders = [
      "Host",
      `127.0.0.1:${proxy.port}`,
      "x-amz-checksum-sha256",
      createHash("sha256").update(body).digest("base64"),
      "X-Amz-Meta-Mixed",
      "one",
      "x-amz-meta-mixed",
      "two",
      "Content-Type",
      "application/octet-stream",
      "Content-Length",
      String(body.length),
      "Connection",
      "keep-alive",
    ];
    const reply = await send(proxy.port, "PUT", path, { headers: rawHeaders, body });

    expect(target.seen).toHaveLength(1);
    const got = target.seen[0]!;
    expect(got.method).toBe("PUT");
    expect(got.url).toBe(path);
    expect(got.rawHeaders).toEqual(rawHeaders);
    expect(got.complete).toBe(true);
    expect(sha256(got.body)).toBe(sha256(body));

    expect(reply.status).toBe(200);
    expect(reply.statusMessage).toBe("Custom Reason");
    expect(reply.rawHeaders).toEqual(
      expect.arrayContaining(["x-amz-request-id", "RID123", "X-Amz-Id-2", "a", "x-amz-id-2", "b"]),
    );
    expect(reply.headers.etag).toBe(`"${sha256(body).slice(0, 32)}"`);
    expect(sha256(reply.body)).toBe(sha256(body));
  });

  it("keeps a foreign Host header (the one the URL was signed for) rather than the target's", async () => {
    await send(proxy.port, "GET", "/k", { headers: { Host: "bucket.s3.example:9000" } });
    const host = target.seen[0]!.rawHeaders[target.seen[0]!.rawHeaders.indexOf("Host") + 1];
    expect(host).toBe("bucket.s3.example:9000");
  });

  it("serves several requests per client connection and reuses the upstream connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await send(proxy.port, "PUT", "/a", { body: Buffer.from("one"), agent });
      const b = await send(proxy.port, "PUT", "/b", { body: Buffer.from("two"), agent });
      expect([a.body.toString(), b.body.toString()]).toEqual(["one", "two"]);
      expect(b.reusedSocket).toBe(true);
      expect(target.seen[1]!.remotePort).toBe(target.seen[0]!.remotePort);
    } finally {
      agent.destroy();
    }
  });

  it("works for fetch clients (Host from the URL, body streamed)", async () => {
    const body = randomBytes(2 * MiB);
    const res = await fetch(`${proxy.url}/f?x=1`, { method: "PUT", body });
    expect(res.status).toBe(200);
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(body));
    const raw = target.seen[0]!.rawHeaders.map((h) => h.toLowerCase());
    expect(raw[raw.indexOf("host") + 1]).toBe(`127.0.0.1:${proxy.port}`);
  });

  it("answers 502 while the target is down, then forwards once it is up on the port chosen beforehand", async () => {
    const probe = await startTarget();
    const targetPort = probe.port;
    await probe.close(); // a port that was free a moment ago, now closed
    const free = await startTarget();
    const proxyPort = free.port;
    await free.close();

    const early = await startFaultProxy({ target: `http://127.0.0.1:${targetPort}`, port: proxyPort });
    try {
      expect(early.port).toBe(proxyPort);
      const down = await send(proxyPort, "PUT", "/x", { body: randomBytes(256 * KiB) });
      expect(down.status).toBe(502);
      expect(down.body.toString()).toMatch(/ECONNREFUSED/);

      const late = await startTarget(targetPort);
      try {
        const up = await send(proxyPort, "GET", "/x");
        expect(up.status).toBe(200);
        expect(late.seen).toHaveLength(1);
      } finally {
        await late.close();
      }
    } finally {
      await early.close();
    }
  });
});

describe("faults", () => {
  it("reset-request: the client sees a reset mid-upload and the target an aborted, incomplete request", async () => {
    proxy.addRule({ fault: { kind: "reset-request", afterBytes: 64 * KiB }, times: 1 });
    const code = await errorCode(send(proxy.port, "PUT", "/p", { body: randomBytes(4 * MiB) }));
    expect(RESET_CODES).toContain(code);
    await expect.poll(() => target.seen[0]?.aborted).toBe(true);
    expect(target.seen[0]!.complete).toBe(false);
    expect(target.seen[0]!.body.length).toBe(0);
    expect(target.seen[0]!.chunks.reduce((s, c) => s + c.n, 0)).toBeLessThanOrEqual(64 * KiB);

    const again = await send(proxy.port, "PUT", "/p", { body: Buffer.from("ok") }); // rule spent
    expect(again.status).toBe(200);
    expect(proxy.stats().faultsApplied["reset-request"]).toBe(1);
  });

  it("reset-request with afterBytes 0: the target never sees the request", async () => {
    proxy.addRule({ fault: { kind: "reset-request", afterBytes: 0 } });
    expect(RESET_CODES).toContain(await errorCode(send(proxy.port, "PUT", "/p", { body: randomBytes(MiB) })));
    expect(target.seen).toHaveLength(0);
  });

  it("reset-response: the client gets the status and at most N body bytes, then a reset", async () => {
    proxy.addRule({ fault: { kind: "reset-response", afterBytes: 1000 } });
    let received = 0;
    const code = await errorCode(
      send(proxy.port, "GET", `/big?n=${MiB}`, {
        onPartial: (n) => {
          received = n;
        },
      }),
    );
    expect(RESET_CODES).toContain(code);
    expect(received).toBeLessThanOrEqual(1000);
    expect(target.seen[0]!.complete).toBe(true);
  });

  it("reset-response with afterBytes 0: the target processed the request, the client gets no response", async () => {
    proxy.addRule({ fault: { kind: "reset-response", afterBytes: 0 } });
    const code = await errorCode(send(proxy.port, "PUT", "/done", { body: randomBytes(512 * KiB) }));
    expect(RESET_CODES).toContain(code);
    expect(target.seen[0]!.complete).toBe(true);
    expect(proxy.stats().log.at(-1)).toMatchObject({ fault: "reset-response", bytesUp: 512 * KiB });
    expect(proxy.stats().log.at(-1)!.status).toBeUndefined();
  });

  it("flip-byte: the target receives the body with exactly that byte inverted", async () => {
    const body = randomBytes(300 * KiB);
    const at = 200_001;
    proxy.addRule({ fault: { kind: "flip-byte", at } });
    const reply = await send(proxy.port, "PUT", "/flip", { body });
    const got = target.seen[0]!.body;
    expect(got.length).toBe(body.length);
    const diffs: number[] = [];
    for (let i = 0; i < body.length; i++) if (got[i] !== body[i]) diffs.push(i);
    expect(diffs).toEqual([at]);
    expect(got[at]).toBe(body[at]! ^ 0xff);
    expect(reply.status).toBe(200);
  });

  it("stall: exactly afterBytes reach the target, then nothing for ms, then the rest", async () => {
    proxy.addRule({ fault: { kind: "stall", afterBytes: 256 * KiB, ms: 600 } });
    const body = randomBytes(MiB);
    const t0 = performance.now();
    const reply = await send(proxy.port, "PUT", "/s", { body });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(550);
    expect(sha256(reply.body)).toBe(sha256(body));

    const { chunks } = target.seen[0]!;
    let gapAt = -1;
    let gap = 0;
    for (let i = 1; i < chunks.length; i++) {
      const d = chunks[i]!.t - chunks[i - 1]!.t;
      if (d > gap) [gap, gapAt] = [d, i];
    }
    expect(gap).toBeGreaterThanOrEqual(500);
    expect(chunks.slice(0, gapAt).reduce((s, c) => s + c.n, 0)).toBe(256 * KiB);
  });

  it("delay: the request is held before forwarding", async () => {
    proxy.addRule({ fault: { kind: "delay", ms: 300 } });
    const t0 = performance.now();
    expect((await send(proxy.port, "GET", "/d")).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it("status: the client gets the canned answer, the target never sees the request, the connection stays usable", async () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>';
    proxy.addRule({
      match: { method: "PUT" },
      times: 1,
      fault: { kind: "status", status: 503, body: xml, headers: { "Retry-After": "1" } },
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const slow = await send(proxy.port, "PUT", "/part", { body: randomBytes(512 * KiB), agent });
      expect(slow.status).toBe(503);
      expect(slow.headers["retry-after"]).toBe("1");
      expect(slow.headers["content-type"]).toBe("application/xml");
      expect(slow.body.toString()).toBe(xml);
      expect(target.seen).toHaveLength(0);

      const ok = await send(proxy.port, "PUT", "/part", { body: Buffer.from("x"), agent });
      expect(ok.status).toBe(200);
      expect(ok.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it("blackhole: no answer for ms, then the connection is dropped; the target never sees it", async () => {
    proxy.addRule({ fault: { kind: "blackhole", ms: 400 } });
    const t0 = performance.now();
    const code = await errorCode(send(proxy.port, "PUT", "/bh", { body: randomBytes(64 * KiB) }));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(380);
    expect(RESET_CODES).toContain(code);
    expect(target.seen).toHaveLength(0);
  });

  it("times and skip count only matching requests; the first applicable rule wins", async () => {
    const before = proxy.stats();
    proxy.addRule({
      match: { method: "put", path: /partNumber=/ },
      skip: 1,
      times: 2,
      fault: { kind: "status", status: 500 },
    });
    proxy.addRule({ match: { path: /^\/other/ }, times: 1, fault: { kind: "status", status: 418 } });
    proxy.addRule({ match: { path: /^\/other/ }, fault: { kind: "status", status: 419 } });
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      statuses.push((await send(proxy.port, "PUT", `/k?partNumber=${i}`, { body: Buffer.from("b") })).status);
      statuses.push((await send(proxy.port, "GET", `/k?partNumber=${i}`)).status); // wrong method: not counted
    }
    expect(statuses).toEqual([200, 200, 500, 200, 500, 200, 200, 200, 200, 200]);
    expect((await send(proxy.port, "GET", "/other")).status).toBe(418);
    expect((await send(proxy.port, "GET", "/other")).status).toBe(419);
    expect(proxy.stats().faultsApplied.status! - (before.faultsApplied.status ?? 0)).toBe(4);
  });
});

describe("link-profile faults", () => {
  it("flip-response-byte: the client receives the body with exactly that byte inverted", async () => {
    proxy.addRule({ fault: { kind: "flip-response-byte", at: 70_000 } });
    const reply = await send(proxy.port, "GET", `/big?n=${100 * KiB}`);
    const diffs: number[] = [];
    for (let i = 0; i < reply.body.length; i++) if (reply.body[i] !== 0x61) diffs.push(i);
    expect(reply.body.length).toBe(100 * KiB);
    expect(diffs).toEqual([70_000]);
  });

  it("setChaos: asked for requests no rule matched, with method, path, body size and range", async () => {
    const asked: unknown[] = [];
    proxy.addRule({ match: { path: /^\/ruled/ }, fault: { kind: "delay", ms: 1 } });
    proxy.setChaos((r) => {
      asked.push(r);
      return r.method === "PUT" ? { kind: "flip-byte", at: 0 } : undefined;
    });
    await send(proxy.port, "GET", "/ruled");
    await send(proxy.port, "GET", "/r", { headers: { Range: "bytes=0-9" } });
    const body = Buffer.alloc(10, 1);
    await send(proxy.port, "PUT", "/p", { body });
    expect(asked).toEqual([
      { method: "GET", path: "/r", bodyBytes: 0, range: "bytes=0-9" },
      { method: "PUT", path: "/p", bodyBytes: 10, range: undefined },
    ]);
    expect(target.seen.at(-1)!.body[0]).toBe(0xfe);
  });

  it("outage: a new request waits until the link is back, and so does a body already moving", async () => {
    proxy.outage(400);
    const t0 = performance.now();
    await send(proxy.port, "GET", "/o");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    // Mid-body: the target stops receiving for the outage, then gets the rest.
    proxy.setRate(2 * MiB);
    const sending = send(proxy.port, "PUT", "/ob", { body: randomBytes(MiB) });
    await new Promise((r) => setTimeout(r, 150));
    proxy.outage(500);
    await sending;
    const chunks = target.seen.at(-1)!.chunks;
    const gaps = chunks.slice(1).map((c, i) => c.t - chunks[i]!.t);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(400);
    expect(target.seen.at(-1)!.body.length).toBe(MiB);
  });

  it("resetAll: every open client connection is reset at once", async () => {
    proxy.setRate(256 * KiB);
    const a = errorCode(send(proxy.port, "PUT", "/a", { body: randomBytes(MiB) }));
    const b = errorCode(send(proxy.port, "GET", `/big?n=${MiB}`));
    await new Promise((r) => setTimeout(r, 200));
    proxy.resetAll();
    expect(RESET_CODES).toContain(await a);
    expect(RESET_CODES).toContain(await b);
  });
  it("refuse: open connections are reset, new ones too until it ends, and none is logged meanwhile", async () => {
    proxy.setRate(256 * KiB);
    const moving = errorCode(send(proxy.port, "PUT", "/ra", { body: randomBytes(MiB) }));
    await new Promise((r) => setTimeout(r, 150));
    const logged = proxy.stats().log.length;
    proxy.refuse(400);
    expect(RESET_CODES).toContain(await moving);
    expect(RESET_CODES).toContain(await errorCode(send(proxy.port, "GET", "/rb")));
    expect(proxy.stats().log.length).toBe(logged);
    await new Promise((r) => setTimeout(r, 400));
    proxy.setRate(null);
    const t = Date.now();
    await send(proxy.port, "GET", "/rc");
    expect(proxy.stats().log.at(-1)).toMatchObject({ method: "GET", path: "/rc", status: 200 });
    expect(proxy.stats().log.at(-1)!.at).toBeGreaterThanOrEqual(t);
  });
});

describe("shaping and bookkeeping", () => {
  it("caps bandwidth in both directions (1 MiB at 4 MiB/s takes about 250 ms)", async () => {
    proxy.setRate(4 * MiB);
    let t0 = performance.now();
    await send(proxy.port, "PUT", "/r", { body: randomBytes(MiB) });
    // Up and echoed back down share the bucket: 2 MiB at 4 MiB/s.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);

    t0 = performance.now();
    const down = await send(proxy.port, "GET", `/big?n=${MiB}`);
    expect(down.body.length).toBe(MiB);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200);

    proxy.setRate(null);
    t0 = performance.now();
    await send(proxy.port, "GET", `/big?n=${MiB}`);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it("adds latency with jitter before forwarding", async () => {
    proxy.setLatency(150, 50);
    const t0 = performance.now();
    await send(proxy.port, "GET", "/l");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
  });

  it("counts requests, faults and bytes, and logs each request", async () => {
    const before = proxy.stats();
    proxy.addRule({ match: { path: /^\/teapot/ }, fault: { kind: "status", status: 418 } });
    await send(proxy.port, "PUT", "/s1?a=1", { body: Buffer.alloc(1000) });
    await send(proxy.port, "GET", "/teapot");
    const after = proxy.stats();
    expect(after.requests - before.requests).toBe(2);
    expect(after.bytesUp - before.bytesUp).toBe(1000);
    expect(after.bytesDown - before.bytesDown).toBe(1000);
    expect(after.faultsApplied.status! - (before.faultsApplied.status ?? 0)).toBe(1);
    expect(after.log.slice(-2)).toEqual([
      { at: expect.any(Number), method: "PUT", path: "/s1?a=1", status: 200, bytesUp: 1000 },
      { at: expect.any(Number), method: "GET", path: "/teapot", status: 418, fault: "status", bytesUp: 0 },
    ]);
  });

  it("close() drops open connections promptly and aborts their upstream requests", async () => {
    const own = await startFaultProxy({ target: `http://127.0.0.1:${target.port}` });
    own.addRule({ match: { path: /^\/hang/ }, fault: { kind: "blackhole", ms: 60_000 } });
    own.addRule({ match: { path: /^\/slow/ }, fault: { kind: "stall", afterBytes: 1024, ms: 60_000 } });
    const hung = errorCode(send(own.port, "GET", "/hang"));
    const slow = errorCode(send(own.port, "PUT", "/slow", { body: randomBytes(256 * KiB) }));
    await expect.poll(() => target.seen.length).toBe(1);
    const t0 = performance.now();
    await own.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(RESET_CODES).toContain(await hung);
    expect(RESET_CODES).toContain(await slow);
    await expect.poll(() => target.seen[0]?.aborted).toBe(true);
  });
});
