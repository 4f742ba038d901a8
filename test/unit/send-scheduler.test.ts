import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import { Coalescer } from "../../cli/engine/send/coalescer.js";
import { type Lease, Scheduler } from "../../cli/engine/send/scheduler.js";
import type { Priority } from "../../functions/contract/schemas.js";

const tick = () => new Promise((r) => setImmediate(r));

function scheduler(over: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}) {
  return new Scheduler({ concurrency: 8, transfers: 7, hashers: 4, memory: 100, ...over });
}

describe("scheduler: priority shares", () => {
  it("gives waiting classes slots in proportion 4:2:1, not first come first served", async () => {
    const s = scheduler({ transfers: 7 });
    const granted: Priority[] = [];
    const leases: { p: Priority; l: Lease }[] = [];
    // Low asks first, high last: shares, not arrival, decide.
    for (const p of ["low", "normal", "high"] as const)
      for (let i = 0; i < 20; i++)
        void s.acquire({ slot: "put", priority: p }).then((l) => {
          granted.push(p);
          leases.push({ p, l });
        });
    await tick();
    const held = (p: Priority) => leases.filter((x) => x.p === p).length;
    expect(granted).toHaveLength(7);
    expect([held("high"), held("normal"), held("low")]).toEqual([4, 2, 1]);
    // As slots free (oldest first, whatever its class), the shares hold at every step.
    for (let round = 0; round < 14; round++) {
      leases.shift()?.l.release();
      await tick();
      expect([held("high"), held("normal"), held("low")]).toEqual([4, 2, 1]);
    }
    expect(granted).toHaveLength(21);
    // …and low still moved: a share, not a queue behind high.
    expect(granted.filter((g) => g === "low").length).toBeGreaterThanOrEqual(3);
  });

  it("part slots: a low file sending keeps its share though a high file asked for every slot first", async () => {
    const s = scheduler({ concurrency: 4, initialConcurrency: 4 });
    s.activate("high", true);
    s.activate("low", true);
    const got: Priority[] = [];
    for (let i = 0; i < 6; i++)
      void s.acquire({ slot: "part", priority: "high" }).then(() => got.push("high"));
    await tick();
    expect(got).toEqual(["high", "high", "high"]); // one slot stays owed to low
    void s.acquire({ slot: "part", priority: "low" }).then(() => got.push("low"));
    await tick();
    expect(got).toEqual(["high", "high", "high", "low"]);
  });

  it("a class alone gets every slot", async () => {
    const s = scheduler({ transfers: 5 });
    let n = 0;
    for (let i = 0; i < 9; i++) void s.acquire({ slot: "put", priority: "low" }).then(() => n++);
    await tick();
    expect(n).toBe(5);
  });
});

describe("scheduler: ceilings and the memory budget", () => {
  it("never holds more bytes than the budget, whatever the mix of sizes", async () => {
    const s = scheduler({ memory: 64 });
    let held = 0;
    let peak = 0;
    let served = 0;
    const sizes = Array.from({ length: 300 }, (_, i) => ((i * 37) % 30) + 1);
    const runs = sizes.map(async (bytes, i) => {
      const l = await s.acquire({ bytes, priority: (["high", "normal", "low"] as const)[i % 3] ?? "normal" });
      held += bytes;
      peak = Math.max(peak, held);
      expect(s.memoryHeld).toBeLessThanOrEqual(64);
      for (let k = 0; k < (i % 4) + 1; k++) await tick();
      held -= bytes;
      served++;
      l.release();
    });
    await Promise.all(runs);
    expect(served).toBe(300);
    expect(peak).toBeLessThanOrEqual(64);
    expect(s.peak.memory).toBeLessThanOrEqual(64);
    expect(peak).toBeGreaterThan(32); // it does fill the budget, not one at a time
  });

  it("lets one request larger than the budget through, alone", async () => {
    const s = scheduler({ memory: 10 });
    const small = await s.acquire({ bytes: 4, priority: "normal" });
    let big: Lease | undefined;
    void s.acquire({ bytes: 25, priority: "normal" }).then((l) => {
      big = l;
    });
    await tick();
    expect(big).toBeUndefined();
    small.release();
    await tick();
    expect(big?.bytes).toBe(25);
    expect(s.memoryHeld).toBe(25);
  });

  it("holds part slots to the link model's limit (at most --concurrency) and single PUTs to --transfers", async () => {
    const clock = { t: 0 };
    const s = scheduler({ concurrency: 3, transfers: 5, now: () => clock.t });
    let parts = 0;
    let puts = 0;
    const partLeases: Lease[] = [];
    for (let i = 0; i < 10; i++) {
      void s.acquire({ slot: "part", priority: "normal" }).then((l) => {
        parts++;
        partLeases.push(l);
      });
      void s.acquire({ slot: "put", priority: "normal" }).then(() => puts++);
    }
    await tick();
    expect(parts).toBe(3);
    expect(puts).toBe(5);
    // Goodput rising epoch after epoch can widen the limit, but never past --concurrency.
    for (let i = 0; i < 20; i++) {
      clock.t += 1_000;
      for (let k = 0; k < 3; k++) s.link.started();
      s.link.progress(1_000_000 * (i + 1));
      for (let k = 0; k < 3; k++) s.link.succeeded(1_000_000, 0.1);
    }
    await tick();
    expect(s.link.limit).toBe(3);
    expect(parts).toBe(3);
    partLeases.shift()?.release();
    await tick();
    expect(parts).toBe(4);
    expect(s.inFlight("part")).toBe(3);
  });

  it("a waiter whose signal aborts is dropped with the signal's reason and takes nothing", async () => {
    const s = scheduler({ transfers: 1 });
    const first = await s.acquire({ slot: "put", priority: "normal" });
    const stop = new AbortController();
    const waiting = s.acquire({ slot: "put", bytes: 50, priority: "high", signal: stop.signal });
    const reason = new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);
    stop.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    first.release();
    expect(s.inFlight("put")).toBe(0);
    expect(s.memoryHeld).toBe(0);
  });
});

describe("coalescer: one call in flight, the rest batched", () => {
  it("sends the first item at once and the ones that arrive meanwhile together", async () => {
    const calls: number[][] = [];
    let release: () => void = () => {};
    const c = new Coalescer<number, number>(
      async (items) => {
        calls.push(items);
        await new Promise<void>((r) => {
          release = r;
        });
        return items.map((i) => i * 10);
      },
      { maxItems: 3 },
    );
    const answers = [1, 2, 3, 4, 5, 6].map((i) => c.submit(i));
    await tick();
    expect(calls).toEqual([[1]]);
    release();
    await tick();
    expect(calls).toEqual([[1], [2, 3, 4]]);
    release();
    await tick();
    release();
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(calls).toEqual([[1], [2, 3, 4], [5, 6]]);
    await c.idle();
    expect(c.pending).toBe(0);
  });

  it("splits by weight, and a failed call fails only its own items", async () => {
    const calls: string[][] = [];
    const c = new Coalescer<string, string>(
      async (items) => {
        calls.push(items);
        if (items.includes("bad")) throw new Error("refused");
        return items;
      },
      { maxItems: 100, maxWeight: 6, weigh: (s) => s.length },
    );
    const a = c.submit("aaaa");
    const b = c.submit("bad");
    const d = c.submit("ddd");
    const e = c.submit("eeeeeeeeee"); // heavier than a call: goes alone
    await expect(a).resolves.toBe("aaaa");
    await expect(b).rejects.toThrow("refused");
    await expect(d).rejects.toThrow("refused");
    await expect(e).resolves.toBe("eeeeeeeeee");
    expect(calls).toEqual([["aaaa"], ["bad", "ddd"], ["eeeeeeeeee"]]);
  });
});
