/**
 * A fault-injecting reverse HTTP proxy for tests: it sits between the `sfts` CLI and storage or the
 * coordinator and misbehaves on request.
 *
 * Lifecycle: `startFaultProxy` listens (on a fixed port if asked, so presigned URLs can be signed for the
 * proxy before it starts); every request is matched against the rules once, on arrival, in arrival order;
 * `close()` aborts every pending sleep, destroys every client and upstream socket, and resolves once the
 * server has stopped listening.
 *
 * Transparency: method, path+query and the raw request headers (order, case, duplicates, and Host — SigV4
 * verifies the signature against the Host the client signed for) go to the target unchanged; bodies are
 * streamed both ways with backpressure, so memory stays bounded by the stream buffers whatever the size.
 * Only the hop-by-hop `Connection`/`Keep-Alive` response headers are dropped: the proxy owns the client
 * connection, and forwarding the target's keep-alive hint would make clients trust a timeout the proxy
 * does not honour.
 *
 * Rates: `setRate` caps all bodies together (a link); `setStreamCap` caps each client connection on its
 * own, each direction separately (one TCP stream's ceiling on a long lossy path, see profiles.ts
 * `mathisCap`). Both are token buckets taken before a chunk is passed on, so the source is read no
 * faster than the cap (backpressure pauses it); a connection's burst is at most 64 KiB.
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Writable } from "node:stream";

export type FaultRule = {
  /** Which requests: method and/or a RegExp on the path (with query); default all. */
  match?: { method?: string; path?: RegExp };
  /** Apply to the first N matching requests only (then the rule is spent); default unlimited. */
  times?: number;
  /** Skip the first K matching requests before applying. */
  skip?: number;
  fault: Fault;
};

export type Fault =
  /** Reset the client connection (TCP RST) after forwarding N request-body bytes; the upstream request is aborted. */
  | { kind: "reset-request"; afterBytes: number }
  /** Reset the client connection after relaying N response-body bytes (0: before the status line). */
  | { kind: "reset-response"; afterBytes: number }
  /** Stop reading the request body after N bytes for `ms`, then continue (unless the client gave up). */
  | { kind: "stall"; afterBytes: number; ms: number }
  /** Wait `ms` before forwarding the request at all. */
  | { kind: "delay"; ms: number }
  /** XOR 0xff the request-body byte at offset `at` (storage must then reject a checksummed part with BadDigest). */
  | { kind: "flip-byte"; at: number }
  /** XOR 0xff the response-body byte at offset `at` (a receiver must notice by its checksum). */
  | { kind: "flip-response-byte"; at: number }
  /** Answer directly without forwarding (e.g. 503 SlowDown XML with Retry-After). */
  | { kind: "status"; status: number; body?: string; headers?: Record<string, string> }
  /** Read nothing and answer nothing for `ms`, then destroy the connection. */
  | { kind: "blackhole"; ms: number };

export type FaultKind = Fault["kind"];

export interface FaultLogEntry {
  /** When the request arrived (Date.now()). */
  at: number;
  method: string;
  path: string;
  /** Status sent to the client; absent when the connection was reset or blackholed before a response. */
  status?: number;
  fault?: FaultKind;
  /** Request-body bytes forwarded to the target. */
  bytesUp: number;
}

export interface FaultProxyStats {
  requests: number;
  faultsApplied: Record<string, number>;
  /** Request-body bytes forwarded to the target, all requests. */
  bytesUp: number;
  /** Response-body bytes relayed to clients, all requests. */
  bytesDown: number;
  log: FaultLogEntry[];
}

export interface FaultProxy {
  url: string;
  port: number;
  addRule(rule: FaultRule): void;
  clearRules(): void;
  /** Bandwidth cap for request+response bodies in bytes/s across all connections (token bucket), or null for none. */
  setRate(bytesPerSecond: number | null): void;
  /**
   * Per-connection cap in bytes/s, each direction on its own (request bodies up, response bodies down,
   * of every request on that client connection), or null for none; applies to open connections too.
   */
  setStreamCap(bytesPerSecond: number | null): void;
  /** Fixed extra latency per request (before forwarding), and jitter (uniform 0..jitterMs). */
  setLatency(ms: number, jitterMs?: number): void;
  /**
   * Random faults: asked once per request that no rule matched (link profiles use it for resets and
   * byte flips at random); null removes it.
   */
  setChaos(picker: ChaosPicker | null): void;
  /**
   * An outage of `ms`: nothing moves in either direction on any connection, and new requests wait,
   * as when a link goes dark and TCP keeps retransmitting. Overlapping outages extend each other.
   */
  outage(ms: number): void;
  /**
   * An outage that refuses, for `ms`: every client connection is reset now (TCP RST) and every new one
   * on arrival, before any request is read (so none is logged), as when the link's far side is gone and
   * the near side answers each attempt at once (connection reset or refused). Overlapping ones extend.
   */
  refuse(ms: number): void;
  /** Resets every client connection at once (TCP RST), as when a mobile link drops and NAT state is lost. */
  resetAll(): void;
  stats(): FaultProxyStats;
  /** Closes the server and destroys all open sockets. */
  close(): Promise<void>;
}

/**
 * Chooses a fault for one request, or none; `bodyBytes` is its Content-Length (0 when absent), `range`
 * its Range header.
 */
export type ChaosPicker = (request: {
  method: string;
  path: string;
  bodyBytes: number;
  range: string | undefined;
}) => Fault | undefined;

export interface FaultProxyOptions {
  /** http://127.0.0.1:PORT; it may be down when the proxy starts (requests then get 502). */
  target: string;
  /** 0 or omitted: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

/** Oldest log entries are dropped past this, so a long soak test does not grow without bound. */
const MAX_LOG_ENTRIES = 10_000;
/** A keep-alive socket to the target idle longer than this is closed by us, before the target can close it under a reused request. */
const UPSTREAM_IDLE_MS = 4_000;
/** After relaying the last bytes before a response reset, give the client this long to read them: an RST discards unread data. */
const RESET_FLUSH_MS = 20;
/** Largest burst one connection's cap lets through at once (as a TCP window would). */
const STREAM_BURST_BYTES = 64 * 1024;

interface RuleState {
  rule: FaultRule;
  seen: number;
  applied: number;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  if (target.protocol !== "http:")
    throw new Error(`fault proxy: plain http targets only, got ${opts.target}`);
  const targetHost = target.hostname;
  const targetPort = Number(target.port || 80);
  const listenHost = opts.host ?? "127.0.0.1";

  const lifetime = new AbortController();
  const agent = new Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_MS, scheduling: "lifo" });
  const bucket = new TokenBucket();
  const sockets = new Set<Socket>();
  /** Each open client connection's own buckets (`setStreamCap`), one per direction. */
  const streamBuckets = new Map<Socket, { up: TokenBucket; down: TokenBucket }>();
  let streamCap: number | null = null;
  const connectionBucket = (socket: Socket, way: "up" | "down"): TokenBucket | undefined =>
    streamBuckets.get(socket)?.[way];
  let rules: RuleState[] = [];
  let latency = { ms: 0, jitterMs: 0 };
  let chaos: ChaosPicker | null = null;
  let outageUntil = 0;
  let refuseUntil = 0;
  const reset = (socket: Socket) => {
    if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
    else socket.destroy();
  };
  /** Sleeps while an outage lasts (it may be extended meanwhile). */
  async function outageOver(signal: AbortSignal): Promise<void> {
    for (let left = outageUntil - Date.now(); left > 0 && !signal.aborted; left = outageUntil - Date.now())
      await sleep(left, signal);
  }
  const stats: FaultProxyStats = { requests: 0, faultsApplied: {}, bytesUp: 0, bytesDown: 0, log: [] };

  /** One fault per request: rules are tried in the order added; a rule counts (for skip/times) only the requests that reach it. */
  function pickFault(method: string, path: string): Fault | undefined {
    for (const state of rules) {
      const { match, times, skip = 0 } = state.rule;
      if (match?.method !== undefined && match.method.toUpperCase() !== method.toUpperCase()) continue;
      if (match?.path !== undefined) {
        match.path.lastIndex = 0; // a /g or /y RegExp would otherwise carry state between requests
        if (!match.path.test(path)) continue;
      }
      if (times !== undefined && state.applied >= times) continue;
      state.seen++;
      if (state.seen <= skip) continue;
      state.applied++;
      return state.rule.fault;
    }
    return undefined;
  }

  function pickChaos(req: IncomingMessage): Fault | undefined {
    if (chaos === null) return undefined;
    const length = Number(req.headers["content-length"] ?? 0);
    return chaos({
      method: req.method ?? "GET",
      path: req.url ?? "/",
      bodyBytes: Number.isFinite(length) ? length : 0,
      range: req.headers.range,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const entry: FaultLogEntry = { at: Date.now(), method, path, bytesUp: 0 };
    stats.requests++;
    stats.log.push(entry);
    if (stats.log.length > MAX_LOG_ENTRIES) stats.log.shift();
    const fault = pickFault(method, path) ?? pickChaos(req);
    if (fault) {
      entry.fault = fault.kind;
      stats.faultsApplied[fault.kind] = (stats.faultsApplied[fault.kind] ?? 0) + 1;
    }

    // Aborted when the client connection goes away before the response finished, or on close().
    const clientGone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) clientGone.abort();
    });
    const signal = AbortSignal.any([clientGone.signal, lifetime.signal]);
    res.on("finish", () => {
      entry.status = res.statusCode;
    });

    const extra = latency.ms + Math.random() * latency.jitterMs;
    if (extra > 0 || outageUntil > Date.now()) {
      req.pause();
      await sleep(extra, signal);
      await outageOver(signal);
    }

    switch (fault?.kind) {
      case "blackhole":
        req.pause();
        await sleep(fault.ms, signal);
        req.socket.destroy();
        return;
      case "status": {
        // Read the whole body first, as a real server would, so the client is not cut off mid-upload.
        req.resume();
        if (!req.complete) {
          await new Promise<void>((r) => {
            req.once("end", r);
            req.once("close", r);
          });
        }
        if (signal.aborted) return;
        const headers: Record<string, string> = { ...fault.headers };
        const body = fault.body ?? "";
        if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type") && body !== "") {
          headers["Content-Type"] = body.startsWith("<") ? "application/xml" : "text/plain";
        }
        headers["Content-Length"] = String(Buffer.byteLength(body));
        res.writeHead(fault.status, headers);
        res.end(method === "HEAD" ? undefined : body);
        return;
      }
      case "delay":
        req.pause();
        await sleep(fault.ms, signal);
        break;
      case "reset-request":
        if (fault.afterBytes <= 0) {
          resetClient(req);
          return;
        }
        break;
    }
    if (signal.aborted) return;
    forward(req, res, entry, fault, signal, false);
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    entry: FaultLogEntry,
    fault: Fault | undefined,
    signal: AbortSignal,
    isRetry: boolean,
  ): void {
    const upReq = request({
      host: targetHost,
      port: targetPort,
      method: req.method,
      path: req.url,
      headers: req.rawHeaders,
      setHost: false,
      agent,
    });
    let responded = false;
    signal.addEventListener("abort", () => upReq.destroy(), { once: true });

    upReq.on("response", (upRes) => {
      responded = true;
      void relayResponse(req, res, upReq, upRes, fault, signal);
    });
    upReq.on("error", (err: NodeJS.ErrnoException) => {
      if (signal.aborted) return;
      // The target closed an idle keep-alive socket just as we reused it; a bodiless request can be replayed.
      if (!isRetry && !responded && upReq.reusedSocket && !hasBody(req) && err.code === "ECONNRESET") {
        forward(req, res, entry, fault, signal, true);
        return;
      }
      if (!res.headersSent) {
        const body = `fault proxy: upstream ${target.host} failed: ${err.code ?? err.message}\n`;
        res.writeHead(502, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
        res.end(body);
        req.resume(); // drain whatever the client still sends, so its connection stays usable
      } else if (!res.writableFinished) {
        req.socket.destroy();
      }
    });

    if (!isRetry) void pumpRequestBody(req, upReq, entry, fault, signal);
    else upReq.end();
  }

  async function pumpRequestBody(
    req: IncomingMessage,
    upReq: ReturnType<typeof request>,
    entry: FaultLogEntry,
    fault: Fault | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    let offset = 0;
    let stallPending = fault?.kind === "stall";
    // Once the target has failed (or answered early and hung up), keep reading the client's body and drop
    // it, so the 502 or early response still reaches a client that is mid-upload.
    let discard = false;
    const send = async (chunk: Buffer): Promise<void> => {
      if (chunk.length === 0 || discard) return;
      await outageOver(signal);
      await connectionBucket(req.socket, "up")?.take(chunk.length, signal);
      await bucket.take(chunk.length, signal);
      if (signal.aborted) return;
      if (upReq.destroyed) {
        discard = true;
        return;
      }
      entry.bytesUp += chunk.length;
      stats.bytesUp += chunk.length;
      if (!upReq.write(chunk)) await drained(upReq);
      if (upReq.destroyed) discard = true;
    };
    try {
      for await (const raw of req as AsyncIterable<Buffer>) {
        if (signal.aborted) return;
        let chunk = raw;
        const end = offset + chunk.length;
        if (fault?.kind === "flip-byte" && fault.at >= offset && fault.at < end) {
          chunk = Buffer.from(chunk);
          chunk[fault.at - offset] = (chunk[fault.at - offset] ?? 0) ^ 0xff;
        }
        if (fault?.kind === "reset-request" && end >= fault.afterBytes) {
          await send(chunk.subarray(0, fault.afterBytes - offset));
          upReq.destroy();
          resetClient(req);
          return;
        }
        if (fault?.kind === "stall" && stallPending && end >= fault.afterBytes) {
          stallPending = false;
          const cut = fault.afterBytes - offset;
          await send(chunk.subarray(0, cut));
          await sleep(fault.ms, signal);
          if (signal.aborted) return;
          chunk = chunk.subarray(cut);
        }
        offset = end;
        await send(chunk);
      }
      // The body ended before the fault's byte count: stall or reset now, before the request is complete.
      if (fault?.kind === "stall" && stallPending) await sleep(fault.ms, signal);
      if (fault?.kind === "reset-request") {
        upReq.destroy();
        resetClient(req);
        return;
      }
      if (signal.aborted || discard) return;
      if (req.rawTrailers.length > 0) upReq.addTrailers(pairs(req.rawTrailers));
      upReq.end();
    } catch {
      // The client went away mid-body: do not leave a half request at the target.
      upReq.destroy();
    }
  }

  async function relayResponse(
    req: IncomingMessage,
    res: ServerResponse,
    upReq: ReturnType<typeof request>,
    upRes: IncomingMessage,
    fault: Fault | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const resetAt = fault?.kind === "reset-response" ? fault.afterBytes : undefined;
    const abortBoth = (): void => {
      upReq.destroy();
      resetClient(req);
    };
    if (resetAt !== undefined && resetAt <= 0) {
      upRes.resume();
      abortBoth();
      return;
    }
    const headers: string[] = [];
    for (const [name, value] of pairs(upRes.rawHeaders)) {
      const lower = name.toLowerCase();
      if (lower !== "connection" && lower !== "keep-alive") headers.push(name, value);
    }
    try {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);
      let sent = 0;
      const flipAt = fault?.kind === "flip-response-byte" ? fault.at : -1;
      for await (const raw of upRes as AsyncIterable<Buffer>) {
        let chunk = raw;
        if (resetAt !== undefined && sent + chunk.length >= resetAt)
          chunk = chunk.subarray(0, resetAt - sent);
        if (flipAt >= sent && flipAt < sent + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flipAt - sent] = (chunk[flipAt - sent] ?? 0) ^ 0xff;
        }
        await outageOver(signal);
        await connectionBucket(req.socket, "down")?.take(chunk.length, signal);
        await bucket.take(chunk.length, signal);
        if (signal.aborted) return;
        sent += chunk.length;
        stats.bytesDown += chunk.length;
        if (resetAt !== undefined && sent >= resetAt) {
          await new Promise<void>((r) => {
            res.write(chunk, () => r());
            res.once("close", r);
          });
          await sleep(RESET_FLUSH_MS, signal);
          abortBoth();
          return;
        }
        if (!res.write(chunk)) await drained(res);
        if (signal.aborted) return;
      }
      if (resetAt !== undefined) {
        // The whole body was shorter than afterBytes: it went through, the connection is reset anyway.
        await sleep(RESET_FLUSH_MS, signal);
        abortBoth();
        return;
      }
      if (upRes.rawTrailers.length > 0) res.addTrailers(pairs(upRes.rawTrailers));
      res.end();
    } catch {
      // The target died mid-response: the client must not mistake a truncated body for a complete one.
      req.socket.destroy();
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => req.socket.destroy());
  });
  // Slow, rate-capped uploads of large parts are legitimate here; Node's default 300 s request timeout is not.
  server.requestTimeout = 0;
  server.on("connection", (socket: Socket) => {
    if (Date.now() < refuseUntil) return reset(socket);
    sockets.add(socket);
    const up = new TokenBucket(STREAM_BURST_BYTES);
    const down = new TokenBucket(STREAM_BURST_BYTES);
    up.setRate(streamCap);
    down.setRate(streamCap);
    streamBuckets.set(socket, { up, down });
    socket.on("close", () => {
      sockets.delete(socket);
      streamBuckets.delete(socket);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fault proxy: no TCP address");
  const port = address.port;

  return {
    url: `http://${listenHost.includes(":") ? `[${listenHost}]` : listenHost}:${port}`,
    port,
    addRule(rule) {
      rules.push({ rule, seen: 0, applied: 0 });
    },
    clearRules() {
      rules = [];
    },
    setRate(bytesPerSecond) {
      if (bytesPerSecond !== null && !(bytesPerSecond > 0))
        throw new Error("fault proxy: rate must be > 0 or null");
      bucket.setRate(bytesPerSecond);
    },
    setStreamCap(bytesPerSecond) {
      if (bytesPerSecond !== null && !(bytesPerSecond > 0))
        throw new Error("fault proxy: stream cap must be > 0 or null");
      streamCap = bytesPerSecond;
      for (const b of streamBuckets.values()) {
        b.up.setRate(bytesPerSecond);
        b.down.setRate(bytesPerSecond);
      }
    },
    setLatency(ms, jitterMs = 0) {
      latency = { ms: Math.max(0, ms), jitterMs: Math.max(0, jitterMs) };
    },
    setChaos(picker) {
      chaos = picker;
    },
    outage(ms) {
      outageUntil = Math.max(outageUntil, Date.now() + Math.max(0, ms));
    },
    refuse(ms) {
      refuseUntil = Math.max(refuseUntil, Date.now() + Math.max(0, ms));
      for (const socket of sockets) reset(socket);
    },
    resetAll() {
      for (const socket of sockets) reset(socket);
    },
    stats() {
      return {
        requests: stats.requests,
        faultsApplied: { ...stats.faultsApplied },
        bytesUp: stats.bytesUp,
        bytesDown: stats.bytesDown,
        log: stats.log.map((e) => ({ ...e })),
      };
    },
    async close() {
      lifetime.abort();
      bucket.setRate(null);
      for (const b of streamBuckets.values()) {
        b.up.setRate(null);
        b.down.setRate(null);
      }
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}

/**
 * Shared token bucket in "debt" form: a taker subtracts its bytes at once and sleeps until the bucket
 * would be back at zero, so concurrent takers queue behind each other and the aggregate rate holds.
 * The burst is small (20 ms worth, at least 16 KiB, at most `maxBurst`) so short transfers are capped too.
 */
class TokenBucket {
  constructor(private readonly maxBurst = Number.POSITIVE_INFINITY) {}
  private rate: number | null = null;
  private capacity = 0;
  private tokens = 0;
  private last = 0;
  private readonly waiters = new Set<() => void>();

  setRate(rate: number | null): void {
    this.rate = rate;
    this.capacity = rate === null ? 0 : Math.min(this.maxBurst, Math.max(16 * 1024, rate / 50));
    this.tokens = this.capacity;
    this.last = performance.now();
    // Waits computed at the old rate would be wrong now; let them go.
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const rate = this.rate;
    if (rate === null || bytes <= 0) return;
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * rate) / 1000);
    this.last = now;
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / rate) * 1000;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
      void sleep(waitMs, signal).then(wake);
    });
  }
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts; callers check `signal.aborted`. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Waits for 'drain', or for the stream to close or fail (the caller then sees it destroyed). */
function drained(stream: Writable): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("drain", done);
      stream.off("close", done);
      stream.off("error", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
    stream.on("error", done);
  });
}

/** A TCP RST rather than a FIN: the client sees ECONNRESET, as after a middlebox or NAT drop. */
function resetClient(req: IncomingMessage): void {
  const socket = req.socket;
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
  else socket.destroy();
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? "", raw[i + 1] ?? ""]);
  return out;
}
