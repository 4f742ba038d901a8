/**
 * A simulated link for unit tests of the LinkController, in 50 ms steps of an injected clock: capacity
 * C bytes/s shared by the requests transmitting, each also capped at a per-stream rate (a TCP window over
 * a round trip), a per-request loss probability (seeded PRNG; the request fails at a random point of its
 * body, then its slot sits out a retry delay before trying again), whole-link drops (everything in flight
 * fails at once), outages (nothing moves; with `watch`, outage()/back() are called as a link watch would;
 * without, requests stall and fail with "stall" after `stallMs`), and throttle bursts (the server answers
 * 503 to the requests in flight). Requests take the controller's limit and part size as they start.
 * It reports delivered bytes (succeeded requests only) and the limit over time.
 */
import type { LinkController, LossKind } from "../../cli/engine/link-model.js";

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimLink {
  capacityBps: number;
  perStreamBps: number;
  /** Probability that a request fails somewhere in its body. */
  loss?: number;
  /** A drop every this many ms (first at this time): every request in flight fails. */
  dropEveryMs?: number;
  outages?: { atMs: number; forMs: number; watch: boolean }[];
  /** At these times the server answers 503 to `count` requests in flight, spread over 200 ms. */
  throttles?: { atMs: number; count: number }[];
  retryDelayMs?: number;
  stallMs?: number;
  seed: number;
}

interface Req {
  size: number;
  sent: number;
  failAt: number;
  startedAt: number;
  lastMove: number;
  waitUntil: number;
  live: boolean;
}

export interface SimResult {
  delivered: number;
  /** [ms, limit] each step. */
  limits: [number, number][];
  /** [ms, delivered bytes so far] each step. */
  deliveredAt: [number, number][];
  failures: number;
  requests: number;
}

export const STEP_MS = 50;

export function simulate(
  c: LinkController,
  clock: { t: number },
  link: SimLink,
  durationMs: number,
  onStep?: (t: number) => void,
): SimResult {
  const rand = prng(link.seed);
  const retry = link.retryDelayMs ?? 1_000;
  const stallMs = link.stallMs ?? 3_000;
  const slots: Req[] = [];
  const res: SimResult = { delivered: 0, limits: [], deliveredAt: [], failures: 0, requests: 0 };
  const start = clock.t;
  const begin = (r: Req, t: number) => {
    r.sent = 0;
    r.failAt = rand() < (link.loss ?? 0) ? rand() * r.size : Number.POSITIVE_INFINITY;
    r.startedAt = t;
    r.lastMove = t;
    r.live = true;
    res.requests++;
    c.started();
  };
  const fail = (r: Req, t: number, kind: LossKind) => {
    r.live = false;
    r.waitUntil = t + retry;
    res.failures++;
    c.failed(kind);
  };
  let nextDrop = link.dropEveryMs ?? Number.POSITIVE_INFINITY;
  const throttles = [...(link.throttles ?? [])];
  const watched = new Set<number>();
  for (let t = 0; t < durationMs; t += STEP_MS) {
    clock.t = start + t;
    const now = clock.t;
    const outage = link.outages?.find((o) => t >= o.atMs && t < o.atMs + o.forMs);
    link.outages?.forEach((o, i) => {
      if (!o.watch) return;
      if (t >= o.atMs + 1_000 && !watched.has(i) && t < o.atMs + o.forMs) {
        watched.add(i);
        c.outage();
      }
      if (t >= o.atMs + o.forMs + 500 && watched.has(i) && !watched.has(-i - 1)) {
        watched.add(-i - 1);
        c.back();
      }
    });
    if (t >= nextDrop) {
      nextDrop += link.dropEveryMs ?? Number.POSITIVE_INFINITY;
      for (const r of slots) if (r.live) fail(r, now, "reset");
    }
    const th = throttles[0];
    if (th && t >= th.atMs) {
      const live = slots.filter((r) => r.live);
      const n = Math.min(th.count, live.length);
      // Spread over 200 ms: one every few steps' worth, here all within the burst window.
      for (let i = 0; i < n; i++) {
        clock.t = now + Math.floor((200 * i) / Math.max(1, n));
        fail(live[i] as Req, clock.t, "throttled");
      }
      clock.t = now;
      throttles.shift();
    }
    // Slots follow the limit: new requests start in free slots; a slot over the limit ends when idle.
    while (slots.length < c.limit) {
      const r: Req = {
        size: c.partSize,
        sent: 0,
        failAt: 0,
        startedAt: now,
        lastMove: now,
        waitUntil: 0,
        live: false,
      };
      slots.push(r);
      begin(r, now);
    }
    slots.forEach((r, i) => {
      if (!r.live && r.waitUntil <= now && i < c.limit) begin(r, now);
    });
    const live = slots.filter((r) => r.live);
    const share = outage ? 0 : Math.min(link.perStreamBps, link.capacityBps / Math.max(1, live.length));
    for (const r of live) {
      const b = Math.min(r.size - r.sent, (share * STEP_MS) / 1000);
      if (b > 0) {
        r.sent += b;
        r.lastMove = now;
        c.progress(b);
      }
      if (r.sent >= r.failAt) fail(r, now, "reset");
      else if (r.sent >= r.size) {
        c.succeeded(r.size, (now - r.startedAt) / 1000);
        res.delivered += r.size;
        r.live = false;
        r.waitUntil = now;
        r.size = c.partSize;
      } else if (now - r.lastMove >= stallMs) fail(r, now, "stall");
    }
    // Shrink: idle slots beyond the limit go away.
    for (let i = slots.length - 1; i >= 0 && slots.length > c.limit; i--)
      if (!(slots[i] as Req).live) slots.splice(i, 1);
    res.limits.push([t, c.limit]);
    res.deliveredAt.push([t, res.delivered]);
    onStep?.(t);
  }
  return res;
}

/** Delivered bytes per second between two times of a run. */
export function goodputBetween(r: SimResult, fromMs: number, toMs: number): number {
  const at = (ms: number) => {
    let v = 0;
    for (const [t, d] of r.deliveredAt) if (t <= ms) v = d;
    return v;
  };
  return ((at(toMs) - at(fromMs)) * 1000) / (toMs - fromMs);
}

export function limitAt(r: SimResult, ms: number): number {
  let v = 0;
  for (const [t, l] of r.limits) if (t <= ms) v = l;
  return v;
}
