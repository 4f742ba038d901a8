import { describe, expect, it } from "vitest";
import { LinkController } from "../../cli/engine/link-model.js";
import { LinkSlots } from "../../cli/engine/receive/link-slots.js";

const slotsOf = (n: number, now: () => number = () => 0) =>
  new LinkSlots(new LinkController({ max: n, initial: n, now }));

describe("LinkSlots: the ranged GETs of a receive, as many at once as the link model allows", () => {
  it("lets the limit through at once, the next when one is released, in order", async () => {
    const slots = slotsOf(2);
    const signal = new AbortController().signal;
    const order: number[] = [];
    await slots.acquire(signal);
    await slots.acquire(signal);
    const third = slots.acquire(signal).then(() => order.push(3));
    const fourth = slots.acquire(signal).then(() => order.push(4));
    await Promise.resolve();
    expect(order).toEqual([]);
    slots.release();
    await third;
    expect(order).toEqual([3]);
    slots.release();
    await fourth;
    expect(order).toEqual([3, 4]);
  });

  it("a waiter whose signal aborts leaves the queue with the reason", async () => {
    const slots = slotsOf(1);
    const ac = new AbortController();
    await slots.acquire(ac.signal);
    const waiting = slots.acquire(ac.signal);
    ac.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    slots.release();
    await slots.acquire(new AbortController().signal); // the freed slot is not lost to the aborted waiter
  });

  it("a throttled answer halves the slots: the GETs let in follow the controller's new limit", async () => {
    const slots = slotsOf(4);
    const signal = new AbortController().signal;
    for (let i = 0; i < 4; i++) {
      await slots.acquire(signal);
      slots.started();
    }
    slots.failed("SlowDown");
    slots.release();
    expect(slots.limit).toBe(2);
    let fifth = false;
    const waiting = slots.acquire(signal).then(() => {
      fifth = true;
    });
    // Three still run, above the new limit of two: nobody else gets in until only one runs.
    slots.succeeded(1, 1);
    slots.release();
    await Promise.resolve();
    expect(fifth).toBe(false);
    slots.succeeded(1, 1);
    slots.release();
    await waiting;
    expect(fifth).toBe(true);
  });

  it("an expired URL or a local error (kind outage) costs no slots", () => {
    const slots = slotsOf(4);
    slots.started();
    slots.failed(undefined, "outage");
    expect(slots.limit).toBe(4);
  });
});
