/**
 * Named link profiles: what a remote lab, a ship, a field clinic or a hostile middlebox looks like to a
 * transfer. Each profile is data; `openLink` (link.ts) turns it into kernel shaping (rate, loss,
 * outages) and fault-proxy behaviour (latency, resets, byte flips, connection drops).
 *
 * Latency is added per HTTP request (this kernel has no netem): one round trip before each request is
 * forwarded, plus jitter. Resets and byte flips hit storage traffic only: the API is served over TLS in
 * any real deployment, where a flipped byte becomes a failed TLS record, i.e. a reset, not wrong data.
 *
 * Per-connection TCP ceiling: inside the namespace TCP sees a sub-millisecond round trip, so random
 * loss costs one stream almost nothing, while on a real long or lossy path one stream's throughput is
 * bounded by the Mathis et al. model, rate ≈ (MSS / RTT) × (C / √p), C ≈ 1.22 (`mathisCap`). That
 * ceiling is why parallel streams pay on such links, so `long-fat` carries it as `streamCapBitsPerSec`:
 * a per-connection TCP ceiling by the Mathis model, applied by the fault proxy to each client connection
 * in each direction, since the kernel here has no netem. Every tool goes through the same proxy, so every
 * tool meets the same ceiling. `mobile` does not: at its 1 Mbit/s per connection a 5 MiB part (S3's
 * smallest) takes 41 s, longer than the 15–45 s between its drops, so no tool's parts survived a drop
 * (measured: sfts and the AWS CLI both failed); it keeps the first round's definition.
 *
 * Outages and drops follow a schedule drawn from the seed (`eventSchedule`): the link replays it from
 * each `restartEvents()`, and a benchmark computes from the same function how long the link was dark
 * during a run (`darkMsWithin`), so every tool meets the same events at the same offsets from its start.
 */

export const PROFILE_NAMES = ["good", "satellite", "mobile", "flaky", "hostile", "long-fat"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface LinkProfile {
  name: ProfileName;
  summary: string;
  /** Round trip added per request, and uniform jitter 0..jitterMs on top. */
  rttMs: number;
  jitterMs: number;
  /** Each direction, bit/s; undefined: as fast as loopback. */
  rateBitsPerSec?: number;
  /** Random packet loss per direction, percent (kernel shaping only). */
  lossPercent?: number;
  /**
   * Per-connection rate cap, each direction, bit/s (fault proxy): the ceiling one TCP stream would meet
   * on the real path (`mathisCap`); undefined: none beyond the link's rate.
   */
  streamCapBitsPerSec?: number;
  /** Every ~everyMs (uniform 0.5–1.5×), the link goes dark for outageMs. */
  outages?: { everyMs: number; outageMs: number };
  /** Every ~everyMs, the link drops: dark for darkMs, and every open connection is lost (NAT state gone). */
  drops?: { everyMs: number; darkMs: number };
  /** Chance that an upload request is reset mid-body, per MiB of its body. */
  resetPerMiB?: number;
  /** Chance that a download response is reset mid-body. */
  downloadResetChance?: number;
  /** Chance that one byte of an upload body, or of a download body, is flipped. */
  flipChance?: number;
}

/** The Mathis et al. constant for periodic loss with delayed ACKs off: C = √(3/2). */
const MATHIS_C = Math.sqrt(3 / 2);

/**
 * One TCP stream's throughput ceiling (bit/s) on a path with this round trip and random loss, by the
 * Mathis et al. model: (MSS / RTT) × (C / √p). Infinity when the model does not bind (no loss or no RTT).
 */
export function mathisCap(rttMs: number, lossPercent: number, mss = 1460): number {
  if (!(rttMs > 0) || !(lossPercent > 0)) return Number.POSITIVE_INFINITY;
  return ((mss * 8) / (rttMs / 1000)) * (MATHIS_C / Math.sqrt(lossPercent / 100));
}

/** The Mathis ceiling, rounded to whole kbit/s (what the summaries print). */
const streamCap = (rttMs: number, lossPercent: number): number =>
  Math.round(mathisCap(rttMs, lossPercent) / 1000) * 1000;

const CAP_NOTE =
  "per-connection TCP ceiling by the Mathis model, applied by the fault proxy, since the kernel here has no netem";

export const PROFILES: Record<ProfileName, LinkProfile> = {
  good: { name: "good", summary: "loopback: no delay, no loss", rttMs: 0, jitterMs: 0 },
  satellite: {
    name: "satellite",
    summary: "600 ms RTT, 2 Mbit/s",
    rttMs: 600,
    jitterMs: 50,
    rateBitsPerSec: 2_000_000,
  },
  mobile: {
    name: "mobile",
    summary: "100 ms RTT, 8 Mbit/s, 2% loss, drops every ~30 s",
    rttMs: 100,
    jitterMs: 40,
    rateBitsPerSec: 8_000_000,
    lossPercent: 2,
    drops: { everyMs: 30_000, darkMs: 2_000 },
  },
  flaky: {
    name: "flaky",
    summary: "40 ms RTT, 20 Mbit/s, resets, 10 s outages",
    rttMs: 40,
    jitterMs: 20,
    rateBitsPerSec: 20_000_000,
    resetPerMiB: 0.03,
    downloadResetChance: 0.1,
    outages: { everyMs: 45_000, outageMs: 10_000 },
  },
  hostile: {
    name: "hostile",
    summary: "20 ms RTT, 50 Mbit/s, 10% of bodies with a flipped byte",
    rttMs: 20,
    jitterMs: 10,
    rateBitsPerSec: 50_000_000,
    flipChance: 0.1,
  },
  "long-fat": {
    name: "long-fat",
    summary:
      "200 ms RTT, 50 Mbit/s, 1% loss (the regime UDP accelerators advertise). The round trip is added " +
      "per HTTP request by the fault proxy, not per packet; rate and loss are kernel shaping; " +
      `${(streamCap(200, 1) / 1e6).toFixed(2)} Mbit/s ${CAP_NOTE}`,
    rttMs: 200,
    jitterMs: 10,
    rateBitsPerSec: 50_000_000,
    lossPercent: 1,
    streamCapBitsPerSec: streamCap(200, 1),
  },
};

export function profileByName(name: string): LinkProfile {
  const p = (PROFILES as Record<string, LinkProfile | undefined>)[name];
  if (p === undefined) throw new Error(`unknown link profile "${name}" (known: ${PROFILE_NAMES.join(", ")})`);
  return p;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same faults, for reruns of a failure. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export type LinkEventKind = "outage" | "drop";

/** One timed event of a profile: at `atMs` after the schedule's start, the link is dark for `darkMs`. */
export interface LinkEvent {
  kind: LinkEventKind;
  atMs: number;
  darkMs: number;
}

/**
 * The profile's outages and drops from the seed, in time order, up to `horizonMs`: each kind's next
 * event comes ~every (uniform 0.5–1.5×) after the previous one of its kind has ended. Pure: the link
 * replays exactly this list, and benchmarks read the dark time of a run from it.
 */
export function eventSchedule(profile: LinkProfile, seed: number, horizonMs: number): LinkEvent[] {
  const events: LinkEvent[] = [];
  const kinds: { kind: LinkEventKind; everyMs: number; darkMs: number }[] = [];
  if (profile.outages)
    kinds.push({ kind: "outage", everyMs: profile.outages.everyMs, darkMs: profile.outages.outageMs });
  if (profile.drops)
    kinds.push({ kind: "drop", everyMs: profile.drops.everyMs, darkMs: profile.drops.darkMs });
  for (const k of kinds) {
    // Each kind draws from its own stream (drops beside outages from another one), so the schedule a
    // profile had with one kind stays the same when the other is added.
    const random = seededRandom(seed ^ (k.kind === "drop" && profile.outages ? 0xd209 : 0x5eed));
    for (let at = k.everyMs * (0.5 + random()); at < horizonMs; at += k.darkMs + k.everyMs * (0.5 + random()))
      events.push({ kind: k.kind, atMs: at, darkMs: k.darkMs });
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** Milliseconds of [fromMs, toMs) during which the link was dark by `events` (overlaps counted once). */
export function darkMsWithin(events: readonly LinkEvent[], fromMs: number, toMs: number): number {
  let dark = 0;
  let coveredTo = fromMs;
  for (const e of [...events].sort((a, b) => a.atMs - b.atMs)) {
    const start = Math.max(e.atMs, coveredTo);
    const end = Math.min(e.atMs + e.darkMs, toMs);
    if (end > start) dark += end - start;
    coveredTo = Math.max(coveredTo, Math.min(e.atMs + e.darkMs, toMs));
  }
  return dark;
}
