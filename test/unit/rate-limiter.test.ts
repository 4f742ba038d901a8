import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../functions/core/rate-limiter.js";

describe("RateLimiter", () => {
  it("lets a burst through, then one request per 1/rate seconds, per key", () => {
    let t = 0;
    const r = new RateLimiter({ perSecond: 2, burst: 3 }, () => t);
    expect([r.take("a"), r.take("a"), r.take("a")]).toEqual([0, 0, 0]);
    expect(r.take("a")).toBe(500);
    expect(r.take("b")).toBe(0); // another key has its own bucket
    t += 500;
    expect(r.take("a")).toBe(0);
    expect(r.take("a")).toBe(500);
    t += 10_000;
    expect([r.take("a"), r.take("a"), r.take("a"), r.take("a")]).toEqual([0, 0, 0, 500]); // refills to the burst only
  });
});
