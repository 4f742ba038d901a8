import { describe, expect, it } from "vitest";
import { CallDeadlines } from "../../cli/engine/call-deadline.js";

describe("per-route call deadlines", () => {
  it("gives a route never answered the configured timeout", () => {
    const d = new CallDeadlines({ capMs: 60_000 });
    expect(d.deadlineMs("POST /batch/{id}/files")).toBe(60_000);
  });

  it("is 4 × the slowest recent call of the route, at least 5 s, at most the timeout", () => {
    let t = 0;
    const d = new CallDeadlines({ capMs: 60_000, now: () => t });
    const call = d.start("POST /batch/{id}/files");
    t += 3_000;
    call.done();
    d.observe("POST /batch/{id}/files", 1_000);
    expect(d.deadlineMs("POST /batch/{id}/files")).toBe(12_000);
    // Other routes learn nothing from it.
    expect(d.deadlineMs("POST /batch/{id}/complete")).toBe(60_000);
    d.observe("POST /batch/{id}/complete", 200);
    expect(d.deadlineMs("POST /batch/{id}/complete")).toBe(5_000);
    d.observe("POST /batch/{id}/complete", 20_000);
    expect(d.deadlineMs("POST /batch/{id}/complete")).toBe(60_000);
  });

  it("doubles the deadline on each retry of a call, within the timeout", () => {
    const d = new CallDeadlines({ capMs: 30_000 });
    d.observe("GET /x", 2_000);
    expect([1, 2, 3].map((a) => d.deadlineMs("GET /x", a))).toEqual([8_000, 16_000, 30_000]);
  });

  it("is whole milliseconds (what AbortSignal.timeout takes)", () => {
    const d = new CallDeadlines({ capMs: 60_000 });
    d.observe("GET /x", 2_711.298);
    expect(d.deadlineMs("GET /x")).toBe(10_846);
    expect(() => AbortSignal.timeout(d.deadlineMs("GET /x"))).not.toThrow();
  });

  it("forgets calls beyond its window: an old slow call no longer stretches the deadline", () => {
    const d = new CallDeadlines({ capMs: 60_000, window: 3 });
    d.observe("GET /x", 10_000);
    expect(d.deadlineMs("GET /x")).toBe(40_000);
    for (let i = 0; i < 3; i++) d.observe("GET /x", 500);
    expect(d.deadlineMs("GET /x")).toBe(5_000);
  });
});
