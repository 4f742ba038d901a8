/**
 * Kernel link shaping for tests and benchmarks: a network namespace joined to this host by a veth pair,
 * with `tc tbf` rate limits on both ends and nftables rules inside the namespace for random packet loss
 * and total outages. A client run inside the namespace (`ip netns exec`) reaches the host's services at
 * `hostIp`, through real TCP over a lossy, rate-limited link: retransmissions, RTO backoff and
 * congestion control are the kernel's own. This kernel has no netem, so latency is not made here (the
 * fault proxy adds it per request).
 *
 * Needs root, `ip` (iproute2), `tc` and `nft` (nftables); `kernelShapingAvailable()` says whether this
 * run has them, and why not. Namespaces are named `sfts-<pid>-<id>`: ones left behind by a killed run
 * (its pid gone) are deleted by the next `createNetNamespace`, and deleting a namespace deletes its veth
 * pair and rules with it.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface KernelShape {
  /** Rate limit in bit/s for each direction; undefined: none. */
  rateBitsPerSec?: number | undefined;
  /** Packets dropped at random in each direction, in percent (0–100); undefined or 0: none. */
  lossPercent?: number | undefined;
}

export interface NetNamespace {
  readonly name: string;
  /** The host's end: services listening here are reachable from inside the namespace. */
  readonly hostIp: string;
  /** The namespace's end. */
  readonly nsIp: string;
  /** Prefix an argv with this to run it inside the namespace. */
  readonly execPrefix: readonly string[];
  /** Replaces the rate limit and loss (both directions). */
  shape(shape: KernelShape): Promise<void>;
  /** Drops every packet on the link (both directions) while on. */
  setOutage(on: boolean): Promise<void>;
  /** Packets dropped so far by the random-loss rules (both directions). */
  droppedPackets(): Promise<number>;
  destroy(): Promise<void>;
}

async function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  if (input === undefined) {
    const { stdout } = await exec(cmd, [...args], { maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  }
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, [...args], { maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

let availability: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;

/** Whether this process may make namespaces and shape them; tried once per process, for real. */
export function kernelShapingAvailable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  availability ??= (async () => {
    if (process.platform !== "linux") return { ok: false, reason: "not Linux" } as const;
    if (process.getuid?.() !== 0)
      return { ok: false, reason: "not root (ip netns needs CAP_NET_ADMIN)" } as const;
    for (const tool of ["ip", "tc", "nft"]) {
      try {
        await exec(tool, ["-V"]);
      } catch {
        return { ok: false, reason: `${tool} not found (apt-get install iproute2 nftables)` } as const;
      }
    }
    let ns: NetNamespace | undefined;
    try {
      ns = await createNetNamespace();
      await ns.shape({ rateBitsPerSec: 8_000_000, lossPercent: 1 });
      return { ok: true } as const;
    } catch (err) {
      return { ok: false, reason: (err as Error).message.split("\n")[0] ?? "unknown" } as const;
    } finally {
      await ns?.destroy();
    }
  })();
  return availability;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Deletes namespaces a dead run of this harness left behind. */
async function reapStale(): Promise<void> {
  const list = await run("ip", ["netns", "list"]).catch(() => "");
  for (const line of list.split("\n")) {
    const m = /^(sfts-(\d+)-[0-9a-z]+)/.exec(line.trim());
    if (m?.[1] && m[2] && !pidAlive(Number(m[2]))) await run("ip", ["netns", "del", m[1]]).catch(() => {});
  }
}

/** A /30 in 10.213.0.0/16 that no interface of the host uses yet. */
async function freeSubnet(): Promise<number> {
  const used = await run("ip", ["-o", "-4", "addr", "show"]);
  for (let tries = 0; tries < 200; tries++) {
    const n = Math.floor(Math.random() * 16_384); // /30 blocks in a /16
    const third = n >> 6;
    const fourth = (n & 63) * 4;
    if (!used.includes(`10.213.${third}.${fourth + 1}/`)) return n;
  }
  throw new Error("no free 10.213.x.y/30 subnet for a test namespace");
}

export async function createNetNamespace(): Promise<NetNamespace> {
  await reapStale();
  const id = randomBytes(4).toString("hex").slice(0, 6);
  const name = `sfts-${process.pid}-${id}`;
  const hostIf = `sf${id}h`;
  const nsIf = `sf${id}n`;
  const n = await freeSubnet();
  const base = `10.213.${n >> 6}.`;
  const hostIp = `${base}${(n & 63) * 4 + 1}`;
  const nsIp = `${base}${(n & 63) * 4 + 2}`;
  const inNs = ["ip", "netns", "exec", name];

  await run("ip", ["netns", "add", name]);
  try {
    await run("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", nsIf]);
    await run("ip", ["link", "set", nsIf, "netns", name]);
    await run("ip", ["addr", "add", `${hostIp}/30`, "dev", hostIf]);
    await run("ip", ["link", "set", hostIf, "up"]);
    await run("ip", ["-n", name, "addr", "add", `${nsIp}/30`, "dev", nsIf]);
    await run("ip", ["-n", name, "link", "set", nsIf, "up"]);
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
  } catch (err) {
    await run("ip", ["netns", "del", name]).catch(() => {});
    await run("ip", ["link", "del", hostIf]).catch(() => {});
    throw err;
  }

  let destroyed = false;
  const tbf = async (dev: string, ns: boolean, rate: number | undefined) => {
    const prefix = ns ? ["-n", name] : [];
    await run("tc", [...prefix, "qdisc", "del", "dev", dev, "root"]).catch(() => {});
    if (rate === undefined) return;
    // Burst: 10 ms worth, never under two full frames; the queue holds 200 ms before tail drop.
    const burst = Math.max(3_028, Math.ceil(rate / 8 / 100));
    await run("tc", [
      ...prefix,
      ...["qdisc", "add", "dev", dev, "root", "tbf"],
      ...["rate", `${Math.round(rate)}bit`, "burst", String(burst), "latency", "200ms"],
    ]);
  };
  const nft = (script: string) => run("ip", ["netns", "exec", name, "nft", "-f", "-"], script);

  return {
    name,
    hostIp,
    nsIp,
    execPrefix: inNs,
    async shape({ rateBitsPerSec, lossPercent = 0 }) {
      // Upload direction: the namespace's egress; download direction: the host end's egress.
      await tbf(nsIf, true, rateBitsPerSec);
      await tbf(hostIf, false, rateBitsPerSec);
      const per10k = Math.round(Math.min(100, Math.max(0, lossPercent)) * 100);
      const loss = per10k > 0 ? `numgen random mod 10000 < ${per10k} counter drop` : "";
      await nft(`table inet sfts
delete table inet sfts
table inet sfts {
  chain outage {
  }
  chain in {
    type filter hook input priority 0; policy accept;
    iifname "lo" accept
    jump outage
    ${loss}
  }
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    jump outage
    ${loss}
  }
}
`);
    },
    async setOutage(on) {
      await nft(
        on
          ? "flush chain inet sfts outage\nadd rule inet sfts outage drop\n"
          : "flush chain inet sfts outage\n",
      );
    },
    async droppedPackets() {
      const out = await run("ip", [
        "netns",
        "exec",
        name,
        "nft",
        "-j",
        "list",
        "table",
        "inet",
        "sfts",
      ]).catch(() => "");
      let total = 0;
      try {
        const doc = JSON.parse(out) as {
          nftables?: { rule?: { expr?: { counter?: { packets: number } }[] } }[];
        };
        for (const item of doc.nftables ?? [])
          for (const e of item.rule?.expr ?? []) total += e.counter?.packets ?? 0;
      } catch {
        return 0;
      }
      return total;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await run("ip", ["netns", "del", name]).catch(() => {});
      await run("ip", ["link", "del", hostIf]).catch(() => {});
    },
  };
}
