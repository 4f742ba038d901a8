/**
 * The link profiles' timed events (harness/profiles.ts): the schedule drawn from a seed, which the link
 * replays from every restart and benchmarks read a run's dark time from.
 */
import { describe, expect, it } from "vitest";
import { darkMsWithin, eventSchedule, type LinkEvent, PROFILES } from "../../harness/profiles.js";

describe("eventSchedule", () => {
  it("is the same list for the same seed, and another for another seed", () => {
    const a = eventSchedule(PROFILES.mobile, 7, 600_000);
    expect(eventSchedule(PROFILES.mobile, 7, 600_000)).toEqual(a);
    expect(eventSchedule(PROFILES.mobile, 8, 600_000)).not.toEqual(a);
  });

  it("spaces each event 0.5–1.5× its period after the previous one ended, in time order", () => {
    const events = eventSchedule(PROFILES.flaky, 3, 3_600_000);
    expect(events.length).toBeGreaterThan(40);
    let end = 0;
    for (const e of events) {
      expect(e).toMatchObject({ kind: "outage", darkMs: 10_000 });
      expect(e.atMs - end).toBeGreaterThanOrEqual(22_500);
      expect(e.atMs - end).toBeLessThanOrEqual(67_500);
      end = e.atMs + e.darkMs;
    }
  });

  it("gives a longer horizon the shorter one's events first, so the link can draw it an hour at a time", () => {
    const short = eventSchedule(PROFILES.mobile, 11, 300_000);
    const long = eventSchedule(PROFILES.mobile, 11, 900_000);
    expect(long.slice(0, short.length)).toEqual(short);
    expect(long.length).toBeGreaterThan(short.length);
  });

  it("is empty for a profile without outages or drops", () => {
    expect(eventSchedule(PROFILES["long-fat"], 1, 3_600_000)).toEqual([]);
    expect(eventSchedule(PROFILES.good, 1, 3_600_000)).toEqual([]);
  });

  it("keeps one kind's events when a profile has both kinds", () => {
    const both = { ...PROFILES.flaky, drops: { everyMs: 20_000, darkMs: 1_000 } };
    const outages = eventSchedule(both, 5, 600_000).filter((e) => e.kind === "outage");
    expect(outages).toEqual(eventSchedule(PROFILES.flaky, 5, 600_000));
    expect(eventSchedule(both, 5, 600_000).some((e) => e.kind === "drop")).toBe(true);
  });
});

describe("darkMsWithin", () => {
  const ev = (atMs: number, darkMs: number): LinkEvent => ({ kind: "outage", atMs, darkMs });

  it("counts the dark part of the window only", () => {
    const events = [ev(1_000, 2_000), ev(10_000, 5_000)];
    expect(darkMsWithin(events, 0, 20_000)).toBe(7_000);
    expect(darkMsWithin(events, 0, 12_000)).toBe(4_000);
    expect(darkMsWithin(events, 2_000, 11_000)).toBe(2_000);
    expect(darkMsWithin(events, 3_000, 10_000)).toBe(0);
  });

  it("counts overlapping events once", () => {
    expect(darkMsWithin([ev(0, 3_000), ev(2_000, 3_000), ev(2_500, 500)], 0, 10_000)).toBe(5_000);
  });
});
