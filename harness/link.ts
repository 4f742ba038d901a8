/**
 * A shaped network link between a client and this host's services (the coordinator API and storage).
 *
 * Two ways, the best this run allows:
 * - kernel: the client runs inside its own network namespace (see netns.ts) and reaches the services
 *   over a veth pair with `tc tbf` rate limits and nftables random loss and outages; two fault proxies
 *   on the host end (one for the API, one for storage) add latency, resets, byte flips and drops;
 * - proxy: no namespace (not root, or no nft): the client runs here and the proxies do everything they
 *   can, including the rate cap; packet loss is then not modelled (said in `notes`).
 *
 * In both ways the proxies also cap each client connection at the profile's `streamCapBitsPerSec` (one
 * TCP stream's ceiling on the real path, by the Mathis model), each direction: TCP inside the namespace
 * sees no round trip, so the kernel's loss alone would cost a stream far less than the real path does.
 * With such a cap, the namespace's TCP send buffers are held to 64 KiB (`net.ipv4.tcp_wmem`, per
 * namespace): a stream at that ceiling on the real path has about a window unacknowledged, not the
 * megabytes a sub-millisecond path lets Linux autotune, which would make a client's last write return
 * many seconds before its request could have arrived (and trip its stall watchdog).
 *
 * Start the link before the stack: its storage address (`s3Url`) goes into presigned URLs
 * (`s3PublicEndpoint`), and its proxies answer 502 until the services are up.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type Fault, type FaultProxy, type FaultRule, startFaultProxy } from "./fault-proxy.js";
import { createNetNamespace, kernelShapingAvailable, type NetNamespace } from "./netns.js";
import { eventSchedule, type LinkEvent, type LinkProfile, seededRandom } from "./profiles.js";

export type LinkMode = "kernel" | "proxy";

export interface LinkOptions {
  readonly profile: LinkProfile;
  /** Services on this host, as http://127.0.0.1:PORT (they may not be up yet). */
  targets: { api: string; s3: string };
  /** "auto" (default): kernel when this run may, else proxy. */
  mode?: "auto" | LinkMode;
  /** Run the profile's outages and drops on timers (default true); tests may call outage()/drop() instead. */
  timedEvents?: boolean;
  /** Seed for the random faults (default: random, reported in `seed`). */
  seed?: number;
  log?: (line: string) => void;
}

export interface LinkCounters {
  requests: number;
  resets: number;
  flips: number;
  outages: number;
  drops: number;
  /** Packets the kernel's random-loss rules dropped (kernel mode). */
  packetsLost: number;
  bytesUp: number;
  bytesDown: number;
  /** Body bytes the storage proxy forwarded to storage / relayed back: what crossed the link for data. */
  storageBytesUp: number;
  storageBytesDown: number;
}

export interface Link {
  readonly mode: LinkMode;
  /** What this link cannot do here, for reports (e.g. why not kernel mode). */
  readonly notes: string[];
  readonly seed: number;
  readonly profile: LinkProfile;
  /** The API and storage as the client reaches them through the link. */
  readonly apiUrl: string;
  readonly s3Url: string;
  /** argv for a client command run through the link (kernel mode: inside the namespace). */
  command(argv: readonly string[]): string[];
  setProfile(profile: LinkProfile): Promise<void>;
  /** A deterministic fault on storage traffic, on top of the profile's random ones (tests). */
  addStorageRule(rule: FaultRule): void;
  /**
   * Starts the profile's timed outages and drops afresh, on the same schedule every time (from the
   * seed): a benchmark calls it before each run, so every tool meets the same events at the same times.
   * Waits for an event still in progress to end first.
   */
  restartEvents(): Promise<void>;
  /**
   * The events each `restartEvents()` replays, as offsets from it, up to `horizonMs` (empty when timed
   * events are off): what a benchmark subtracts as dark time from a run's elapsed time.
   */
  schedule(horizonMs: number): LinkEvent[];
  /** Go dark for `ms` (resolves when the link is back). */
  outage(ms: number): Promise<void>;
  /** Go dark for `darkMs` and lose every open connection, as a mobile handover does. */
  drop(darkMs?: number): Promise<void>;
  counters(): Promise<LinkCounters>;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const exec = promisify(execFile);
/** The namespace's TCP send buffers (min, default, max bytes) under a per-connection cap, and otherwise. */
const CAPPED_TCP_WMEM = "4096 16384 65536";
const DEFAULT_TCP_WMEM = "4096 16384 4194304";

/** Size of a `Range: bytes=a-b` request, if bounded. */
function rangeSize(range: string | undefined): number | undefined {
  const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? "");
  return m ? Number(m[2]) - Number(m[1]) + 1 : undefined;
}

export async function openLink(opts: LinkOptions): Promise<Link> {
  const notes: string[] = [];
  const log = opts.log ?? (() => {});
  let mode: LinkMode = opts.mode === "proxy" ? "proxy" : "kernel";
  if (opts.mode !== "proxy") {
    const can = await kernelShapingAvailable();
    if (!can.ok) {
      if (opts.mode === "kernel") throw new Error(`kernel link shaping is not available: ${can.reason}`);
      mode = "proxy";
      notes.push(`proxy-only link (${can.reason}): packet loss not modelled`);
    }
  }
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  let ns: NetNamespace | undefined;
  const proxies: FaultProxy[] = [];
  try {
    if (mode === "kernel") ns = await createNetNamespace();
    const host = ns?.hostIp ?? "127.0.0.1";
    const api = await startFaultProxy({ target: opts.targets.api, host });
    proxies.push(api);
    const s3 = await startFaultProxy({ target: opts.targets.s3, host });
    proxies.push(s3);

    let profile = opts.profile;
    let outages = 0;
    let drops = 0;
    let dark = 0;
    /** Packets lost under earlier shapes (re-shaping resets the kernel's counters). */
    let lostEarlier = 0;
    const timers = new Set<NodeJS.Timeout>();
    let closed = false;

    const setDark = async (on: boolean) => {
      dark += on ? 1 : -1;
      if (ns) await ns.setOutage(dark > 0);
    };
    const outage = async (ms: number) => {
      outages++;
      log(`link: outage ${ms} ms`);
      if (!ns) for (const p of proxies) p.outage(ms);
      await setDark(true);
      await new Promise((r) => setTimeout(r, ms));
      await setDark(false);
    };
    const drop = async (darkMs = 2_000) => {
      drops++;
      log(`link: drop (${darkMs} ms dark, connections lost)`);
      if (!ns) for (const p of proxies) p.outage(darkMs);
      await setDark(true);
      // While dark: the RSTs are lost too, so a client learns of the drop from its next packet or its
      // stall watchdog, as behind a NAT whose state was flushed.
      for (const p of proxies) p.resetAll();
      await new Promise((r) => setTimeout(r, darkMs));
      await setDark(false);
    };

    /** Storage faults at random, as the profile says. */
    const chaos = (req: {
      method: string;
      bodyBytes: number;
      range: string | undefined;
    }): Fault | undefined => {
      const upload = req.method === "PUT" && req.bodyBytes > 0;
      const download = req.method === "GET";
      if (upload && profile.resetPerMiB) {
        const chance = 1 - (1 - profile.resetPerMiB) ** (req.bodyBytes / MiB);
        if (random() < chance)
          return { kind: "reset-request", afterBytes: Math.floor(random() * req.bodyBytes) };
      }
      if (download && profile.downloadResetChance && random() < profile.downloadResetChance)
        return { kind: "reset-response", afterBytes: Math.floor(random() * (rangeSize(req.range) ?? MiB)) };
      if (profile.flipChance && random() < profile.flipChance) {
        if (upload) return { kind: "flip-byte", at: Math.floor(random() * req.bodyBytes) };
        const size = rangeSize(req.range);
        if (download && size !== undefined)
          return { kind: "flip-response-byte", at: Math.floor(random() * size) };
      }
      return undefined;
    };

    let generation = 0;
    /** Events still running (restartEvents waits for them). */
    const firing = new Set<Promise<void>>();
    /** Replays the profile's schedule (profiles.ts `eventSchedule`) from now, at its offsets from now. */
    const armEvents = () => {
      generation++;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      if (opts.timedEvents === false) return;
      const mine = generation;
      const started = performance.now();
      // The schedule is a prefix of any longer one: drawn an hour at a time, as the run goes on.
      let horizon = 3_600_000;
      let events = eventSchedule(profile, seed, horizon);
      let next = 0;
      const armNext = () => {
        if (next >= events.length && events.length > 0) {
          horizon *= 2;
          events = eventSchedule(profile, seed, horizon);
        }
        const e = events[next++];
        if (e === undefined) return;
        const t = setTimeout(
          () => {
            timers.delete(t);
            if (closed || mine !== generation) return;
            const run = (e.kind === "outage" ? outage(e.darkMs) : drop(e.darkMs)).finally(() => {
              firing.delete(run);
            });
            firing.add(run);
            armNext();
          },
          Math.max(0, started + e.atMs - performance.now()),
        );
        t.unref();
        timers.add(t);
      };
      armNext();
    };
    const apply = async (p: LinkProfile) => {
      profile = p;
      for (const proxy of proxies) {
        proxy.setLatency(p.rttMs, p.jitterMs);
        proxy.setRate(ns || p.rateBitsPerSec === undefined ? null : p.rateBitsPerSec / 8);
        proxy.setStreamCap(p.streamCapBitsPerSec === undefined ? null : p.streamCapBitsPerSec / 8);
      }
      s3.setChaos(chaos);
      if (ns) {
        lostEarlier += await ns.droppedPackets();
        await ns.shape({ rateBitsPerSec: p.rateBitsPerSec, lossPercent: p.lossPercent });
        const wmem = p.streamCapBitsPerSec === undefined ? DEFAULT_TCP_WMEM : CAPPED_TCP_WMEM;
        const [cmd = "ip", ...args] = [...ns.execPrefix, "sysctl", "-q", "-w", `net.ipv4.tcp_wmem=${wmem}`];
        await exec(cmd, args);
      } else if (p.lossPercent)
        log(`link: ${p.name}: ${p.lossPercent}% loss not modelled without a namespace`);
      armEvents();
      log(`link: ${p.name} (${p.summary}) via ${mode}, seed ${seed}`);
    };
    await apply(profile);

    return {
      mode,
      notes,
      seed,
      get profile() {
        return profile;
      },
      apiUrl: api.url,
      s3Url: s3.url,
      command: (argv) => [...(ns?.execPrefix ?? []), ...argv],
      setProfile: apply,
      async restartEvents() {
        generation++; // no event arms the next one from here on
        for (const t of timers) clearTimeout(t);
        timers.clear();
        await Promise.all([...firing]);
        armEvents();
      },
      schedule: (horizonMs) => (opts.timedEvents === false ? [] : eventSchedule(profile, seed, horizonMs)),
      addStorageRule: (rule) => s3.addRule(rule),
      outage,
      drop,
      async counters() {
        const a = api.stats();
        const b = s3.stats();
        const count = (k: string) => (a.faultsApplied[k] ?? 0) + (b.faultsApplied[k] ?? 0);
        return {
          requests: a.requests + b.requests,
          resets: count("reset-request") + count("reset-response"),
          flips: count("flip-byte") + count("flip-response-byte"),
          outages,
          drops,
          packetsLost: ns ? lostEarlier + (await ns.droppedPackets()) : 0,
          bytesUp: a.bytesUp + b.bytesUp,
          bytesDown: a.bytesDown + b.bytesDown,
          storageBytesUp: b.bytesUp,
          storageBytesDown: b.bytesDown,
        };
      },
      async close() {
        closed = true;
        for (const t of timers) clearTimeout(t);
        await Promise.allSettled(proxies.map((p) => p.close()));
        await ns?.destroy();
      },
    };
  } catch (err) {
    await Promise.allSettled(proxies.map((p) => p.close()));
    await ns?.destroy();
    throw err;
  }
}
