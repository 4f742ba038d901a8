/** The dashboard's pure parts: number formats, polling policy, table sort/filter/paging, parts map, chart axis. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FileSummary } from "../../functions/contract/schemas.js";
import { niceScale, ticks } from "../../web/src/chart-scale.js";
import { formatBytes, formatDuration, formatPercent, formatRate } from "../../web/src/format.js";
import { missingRanges, storedRanges } from "../../web/src/parts.js";
import { HIDDEN_POLL_MS, MAX_BACKOFF_MS, nextPollDelay, POLL_MS } from "../../web/src/poll-policy.js";
import { comparator, matches, pageOf, progressOf } from "../../web/src/transfer-table.js";

const MiB = 1024 * 1024;

function transfer(over: Partial<FileSummary> = {}): FileSummary {
  return {
    id: "tr_00000000000000000000000000",
    name: "a.bin",
    size: 100,
    sha256: "ab".repeat(32),
    priority: "normal",
    status: "uploading",
    partsDone: 0,
    bytesDone: 0,
    createdAt: "2026-11-29T12:00:00.000Z",
    updatedAt: "2026-11-29T12:00:00.000Z",
    ...over,
  };
}

describe("formats", () => {
  it("writes bytes in binary units, never with four digits before the point", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(12 * MiB)).toBe("12.0 MiB");
    expect(formatBytes(1023.6 * 1024)).toBe("1.00 MiB");
    expect(formatRate(2 * MiB)).toBe("2.00 MiB/s");
    fc.assert(
      fc.property(fc.double({ min: 0, max: 2 ** 52, noNaN: true }), (n) => {
        expect(formatBytes(n)).toMatch(/^\d{1,3}(\.\d{1,2})? (B|KiB|MiB|GiB|TiB|PiB)$/);
      }),
    );
  });

  it("never rounds an unfinished transfer up to 100 % nor a started one down to 0 %", () => {
    expect(formatPercent(1)).toBe("100 %");
    expect(formatPercent(0.9999)).toBe("99.9 %");
    expect(formatPercent(0.0001)).toBe("0.1 %");
    expect(formatPercent(0)).toBe("0.0 %");
    expect(formatPercent(1 / 3)).toBe("33.3 %");
  });

  it("writes durations a person reads at a glance", () => {
    expect(formatDuration(45)).toBe("45 s");
    expect(formatDuration(200)).toBe("3 min 20 s");
    expect(formatDuration(7500)).toBe("2 h 05 min");
    expect(formatDuration(3 * 86_400 + 4 * 3600)).toBe("3 d 4 h");
    expect(formatDuration(-1)).toBe("—");
  });
});

describe("polling policy", () => {
  it("polls every few seconds, backs off to a cap while disconnected, and slowly while hidden", () => {
    expect(nextPollDelay(0, false)).toBe(POLL_MS);
    expect(nextPollDelay(1, false)).toBe(POLL_MS);
    expect(nextPollDelay(2, false)).toBe(2 * POLL_MS);
    expect(nextPollDelay(3, false)).toBe(MAX_BACKOFF_MS);
    expect(nextPollDelay(50, false)).toBe(MAX_BACKOFF_MS);
    expect(nextPollDelay(0, true)).toBe(HIDDEN_POLL_MS);
    expect(nextPollDelay(5, true)).toBe(HIDDEN_POLL_MS);
  });
});

describe("transfers table", () => {
  it("sorts by a key either way, rows without a value last, ties newest first", () => {
    const a = transfer({ id: "tr_a", speedBps: 10, createdAt: "2026-11-29T12:00:01.000Z" });
    const b = transfer({ id: "tr_b", speedBps: 30 });
    const c = transfer({ id: "tr_c" });
    const d = transfer({ id: "tr_d", speedBps: 10, createdAt: "2026-11-29T12:00:02.000Z" });
    const ids = (sort: Parameters<typeof comparator>[0]) =>
      [a, b, c, d].sort(comparator(sort)).map((t) => t.id);
    expect(ids({ key: "speed", descending: true })).toEqual(["tr_b", "tr_d", "tr_a", "tr_c"]);
    expect(ids({ key: "speed", descending: false })).toEqual(["tr_d", "tr_a", "tr_b", "tr_c"]);
  });

  it("ranks priority high > normal > low", () => {
    const rows = (["low", "high", "normal"] as const).map((priority) =>
      transfer({ id: `tr_${priority}`, priority }),
    );
    expect(rows.sort(comparator({ key: "priority", descending: true })).map((t) => t.priority)).toEqual([
      "high",
      "normal",
      "low",
    ]);
  });

  it("filters by status, priority and text in name, id or SHA-256 prefix", () => {
    const t = transfer({ name: "Scan-0042.TIF", id: "tr_01abc", sha256: "6062ee6a".padEnd(64, "0") });
    const f = { status: "", priority: "", text: "" } as const;
    expect(matches(t, f)).toBe(true);
    expect(matches(t, { ...f, text: "scan-00" })).toBe(true);
    expect(matches(t, { ...f, text: "01ab" })).toBe(true);
    expect(matches(t, { ...f, text: "6062ee" })).toBe(true);
    expect(matches(t, { ...f, status: "complete" })).toBe(false);
    expect(matches(t, { ...f, priority: "high" })).toBe(false);
  });

  it("pages: every row on exactly one page, the page clamped to the last", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 1, max: 100 }), (n, size) => {
        const items = Array.from({ length: n }, (_, i) => i);
        const first = pageOf(items, 0, size);
        const all = Array.from({ length: first.pages }, (_, p) => pageOf(items, p, size).rows).flat();
        expect(all).toEqual(items);
        expect(pageOf(items, first.pages + 5, size).page).toBe(first.pages - 1);
      }),
    );
  });

  it("shows an empty file as done only once it is complete", () => {
    expect(progressOf({ size: 0, bytesDone: 0, status: "complete" })).toBe(1);
    expect(progressOf({ size: 0, bytesDone: 0, status: "uploading" })).toBe(0);
    expect(progressOf({ size: 10, bytesDone: 5, status: "uploading" })).toBe(0.5);
    // A single PUT checked by HEAD is complete with no part counted.
    expect(progressOf({ size: 10, bytesDone: 0, status: "complete" })).toBe(1);
    expect(progressOf({ size: 10, bytesDone: 5, status: "failed" })).toBe(0.5);
  });
});

describe("parts map", () => {
  it("merges stored parts into ranges and reports the gaps", () => {
    const parts = [
      { offset: 10, size: 5 },
      { offset: 0, size: 5 },
      { offset: 5, size: 5 },
      { offset: 30, size: 10 },
    ];
    const stored = storedRanges(parts, 50);
    expect(stored).toEqual([
      { offset: 0, size: 15 },
      { offset: 30, size: 10 },
    ]);
    expect(missingRanges(stored, 50)).toEqual([
      { offset: 15, size: 15 },
      { offset: 40, size: 10 },
    ]);
  });

  it("stored and missing ranges always tile the file", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(fc.record({ offset: fc.nat(12_000), size: fc.nat(3000) }), { maxLength: 40 }),
        (size, parts) => {
          const stored = storedRanges(parts, size);
          const all = [...stored, ...missingRanges(stored, size)].sort((a, b) => a.offset - b.offset);
          let at = 0;
          for (const r of all) {
            expect(r.offset).toBe(at);
            expect(r.size).toBeGreaterThan(0);
            at += r.size;
          }
          expect(at).toBe(size);
        },
      ),
    );
  });
});

describe("chart axis", () => {
  it("tops the axis at a round value just above the peak", () => {
    expect(niceScale(0)).toEqual({ top: 0, step: 0 });
    expect(niceScale(170 * 1024)).toEqual({ top: 200 * 1024, step: 50 * 1024 });
    expect(niceScale(2 * MiB)).toEqual({ top: 2 * MiB, step: 0.5 * MiB });
    expect(ticks(niceScale(2 * MiB))).toEqual([0, 0.5 * MiB, MiB, 1.5 * MiB, 2 * MiB]);
    fc.assert(
      fc.property(fc.double({ min: 1, max: 1e12, noNaN: true }), (max) => {
        const s = niceScale(max);
        expect(s.top).toBeGreaterThanOrEqual(max);
        expect(s.top / s.step).toBeLessThanOrEqual(10);
      }),
    );
  });
});
