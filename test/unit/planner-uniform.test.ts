/**
 * The uniform-parts rule (stores where every part but the last has one size, e.g. R2 and the generic
 * profile), as properties over arbitrary files up to 5 TiB, part size hints, link-model suggestions,
 * successes and failures, and resumed uploads with any subset of parts already stored: every part but the
 * last has the upload's size, part n starts at (n-1) × it, the parts cover the file exactly, and there
 * are at most 10,000 of them. Driven through the planner (planner.ts) and through the part runner's own
 * planning (part-runner.ts: first parts, the init answer's fixed size, missing ranges, the tail), so what
 * is checked is what a send would cut.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PartPlanner, type PlannedPart, uniformGap } from "../../cli/engine/planner.js";
import type { SendHost } from "../../cli/engine/send/file-transfer.js";
import { PartRunner } from "../../cli/engine/send/part-runner.js";
import { S3_RULES } from "../../cli/engine/send/storage-rules.js";
import { GiB, MAX_PARTS, MiB, TiB } from "../../functions/contract/limits.js";
import { partSizeFor, uniformPart } from "../../functions/contract/part-rules.js";
import type { MissingRange } from "../../functions/contract/schemas.js";
import type { StorageRules } from "../../functions/contract/storage.js";

const RULES: StorageRules = { ...S3_RULES, profile: "generic", partCheck: "md5", uniformParts: true };

/** File sizes: small ones (a few parts), large ones, and the extremes near 5 TiB. */
const fileSize = fc.oneof(
  fc.integer({ min: 1, max: 200 * MiB }),
  fc.integer({ min: 200 * MiB, max: 100 * GiB }),
  fc.integer({ min: 100 * GiB, max: 5 * TiB }),
  fc.constantFrom(5 * TiB, 5 * TiB - 1, 10_000 * 5 * MiB, 10_000 * 5 * MiB + 1, 5 * MiB, 5 * MiB + 1),
);
const hint = fc.oneof(fc.integer({ min: 1, max: 6 * GiB }), fc.constantFrom(5 * MiB, 8 * MiB, 64 * MiB));
/** What the link model suggests from one part to the next (it adapts to drops, stalls, speed). */
const suggestions = fc.array(fc.integer({ min: 1, max: 6 * GiB }), { minLength: 1, maxLength: 40 });
/** After each part: it went through (bytes, seconds) or failed / stalled. */
const feedback = fc.array(
  fc.oneof(
    fc.record({ ok: fc.constant(true as const), seconds: fc.double({ min: 0, max: 100, noNaN: true }) }),
    fc.record({ ok: fc.constant(false as const) }),
  ),
  { maxLength: 40 },
);

/**
 * What breaks the properties every plan of an upload must have (uniform, positional, contiguous, exact,
 * at most 10,000 parts), or undefined. Plain checks: a plan has up to 10,000 parts, and a matcher per
 * part would make each run slow.
 */
function uniformBreak(parts: readonly PlannedPart[], size: number, ps: number): string | undefined {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  if (sorted.length !== Math.ceil(size / ps)) return `${sorted.length} parts, not ${Math.ceil(size / ps)}`;
  if (sorted.length > MAX_PARTS) return `${sorted.length} parts`;
  let offset = 0;
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i] as PlannedPart;
    const last = i === sorted.length - 1;
    if (p.partNumber !== i + 1) return `part ${p.partNumber} where ${i + 1} belongs`;
    if (p.offset !== offset || p.offset !== (p.partNumber - 1) * ps)
      return `part ${p.partNumber} starts at ${p.offset}`;
    if (!last && p.size !== ps) return `part ${p.partNumber} has ${p.size} bytes, not ${ps}`;
    if (p.size <= 0) return `part ${p.partNumber} is empty`;
    offset += p.size;
  }
  return offset === size ? undefined : `the parts end at ${offset}, the file at ${size}`;
}

const expectUniform = (parts: readonly PlannedPart[], size: number, ps: number) =>
  expect(uniformBreak(parts, size, ps)).toBeUndefined();

/**
 * Missing ranges as the coordinator reports them for recorded `stored` part numbers (positional): the
 * bytes between recorded parts with the numbers free there; the last range ends at the file and 10,000.
 */
function missingOf(size: number, ps: number, stored: ReadonlySet<number>): MissingRange[] {
  const count = Math.ceil(size / ps);
  const out: MissingRange[] = [];
  let offset = 0;
  let next = 1;
  for (let n = 1; n <= count; n++) {
    if (!stored.has(n)) continue;
    const p = uniformPart(n, ps, size);
    if (p.offset > offset) out.push({ offset, size: p.offset - offset, firstPart: next, lastPart: n - 1 });
    offset = p.offset + p.size;
    next = n + 1;
  }
  if (offset < size) out.push({ offset, size: size - offset, firstPart: next, lastPart: MAX_PARTS });
  return out;
}

/** Picks stored part numbers from arbitrary indexes and runs (a resumed upload's recorded parts). */
function storedSet(count: number, picks: readonly number[], runs: readonly [number, number][]): Set<number> {
  const s = new Set<number>();
  for (const p of picks) s.add((p % count) + 1);
  for (const [start, len] of runs) for (let i = 0; i < len % 200; i++) s.add(((start + i) % count) + 1);
  return s;
}

/** A part runner over a host that only plans (no disk, no transport): the link model is `suggest`. */
function runner(
  size: number,
  partSize: number,
  suggest: () => number,
  rules = RULES,
  ceiling = 64,
): PartRunner {
  const host = {
    file: { size, shown: "f", local: "/f", path: "f", mtimeMs: 0, ino: 1, priority: "normal" },
    rules,
    ctx: {
      opts: { partSize, adaptive: true, retry: { maxRetries: 0, baseMs: 1, capMs: 1 }, lookahead: 2 },
      scheduler: {
        link: {
          get partSize() {
            return suggest();
          },
          ceiling,
        },
      },
    },
  } as unknown as SendHost;
  return new PartRunner(host);
}

/** Everything the runner would send, in the order it takes it. */
function drain(r: PartRunner, between: () => void): PlannedPart[] {
  const take = () => (r as unknown as { takePart(): PlannedPart | undefined }).takePart();
  const out: PlannedPart[] = [];
  for (let p = take(); p; p = take()) {
    out.push(p);
    between();
    if (out.length > MAX_PARTS + 1) throw new Error("more parts than the store allows");
  }
  return out;
}

const cycle = <T>(xs: readonly T[]) => {
  let i = 0;
  return () => xs[i++ % xs.length] as T;
};

describe("uniform part size", () => {
  it("is the hint within the store's limits, at least the floor that fits 10,000 parts", () => {
    fc.assert(
      fc.property(fileSize, hint, (size, h) => {
        const ps = partSizeFor(size, h, RULES);
        expect(ps).toBeGreaterThanOrEqual(RULES.minPartSize);
        expect(ps).toBeLessThanOrEqual(RULES.maxPartSize);
        expect(Math.ceil(size / ps)).toBeLessThanOrEqual(RULES.maxParts);
        // A hint already legal and above the floor is kept as it is (the coordinator records it so).
        const floor = Math.max(RULES.minPartSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
        if (h >= floor && h <= RULES.maxPartSize) expect(ps).toBe(h);
        else expect(ps).toBe(h > RULES.maxPartSize ? Math.max(RULES.maxPartSize, floor) : floor);
      }),
      { numRuns: 500 },
    );
  });
});

describe("planner under the uniform rule", () => {
  it("cuts every file the same way whatever the link model suggests, and successes and failures change nothing", () => {
    fc.assert(
      fc.property(fileSize, hint, suggestions, feedback, (size, h, sug, fb) => {
        const ps = partSizeFor(size, h, RULES);
        const planner = new PartPlanner({
          fileSize: size,
          initial: h,
          adaptive: true,
          suggest: cycle(sug),
          spread: 64,
          uniform: ps,
          limits: RULES,
        });
        const next = cycle(fb.length ? fb : [{ ok: true as const, seconds: 1 }]);
        const parts: PlannedPart[] = [];
        for (let offset = 0, n = 1; offset < size; n++) {
          const p = planner.next(offset, n);
          parts.push(p);
          offset += p.size;
          const f = next();
          if (f.ok) planner.onSuccess(p.size, f.seconds);
          else planner.onFailure();
          if (planner.current !== ps) throw new Error(`the part size moved to ${planner.current}`);
        }
        expectUniform(parts, size, ps);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses to start a part anywhere but where its number puts it", () => {
    const planner = new PartPlanner({
      fileSize: 100 * MiB,
      initial: 8 * MiB,
      adaptive: true,
      uniform: 8 * MiB,
    });
    expect(planner.next(8 * MiB, 2)).toEqual({ partNumber: 2, offset: 8 * MiB, size: 8 * MiB });
    expect(() => planner.next(8 * MiB, 3)).toThrow(/cannot start at byte/);
    expect(planner.next(96 * MiB, 13)).toEqual({ partNumber: 13, offset: 96 * MiB, size: 4 * MiB });
  });

  it("refills any missing range with the positional parts that cover it", () => {
    fc.assert(
      fc.property(fileSize, hint, fc.nat(), fc.nat(), (size, h, a, b) => {
        const ps = partSizeFor(size, h, RULES);
        const lo = a % size;
        const len = (b % (size - lo)) + 1;
        const parts = uniformGap({ offset: lo, size: len }, size, ps);
        const same = (p: PlannedPart) => {
          const u = uniformPart(p.partNumber, ps, size);
          return p.offset === u.offset && p.size === u.size;
        };
        expect(parts.filter((p) => !same(p))).toEqual([]);
        // Contiguous, and together they hold every byte of the range.
        expect(parts.filter((p, i) => i > 0 && p.partNumber !== (parts[i - 1]?.partNumber ?? 0) + 1)).toEqual(
          [],
        );
        const first = parts[0] as PlannedPart;
        const last = parts[parts.length - 1] as PlannedPart;
        expect(first.offset).toBeLessThanOrEqual(lo);
        expect(first.offset + first.size).toBeGreaterThan(lo);
        expect(last.offset + last.size).toBeGreaterThanOrEqual(lo + len);
        expect(last.offset).toBeLessThan(lo + len);
      }),
      { numRuns: 500 },
    );
  });
});

describe("part runner under the uniform rule", () => {
  it("a new upload: first parts, then the tail, all at the upload's size, whatever the link model does", () => {
    fc.assert(
      fc.property(fileSize, hint, suggestions, (size, h, sug) => {
        const r = runner(size, h, cycle(sug));
        r.planFirstParts(8, 32 * MiB);
        const ps = partSizeFor(size, h, RULES);
        expect(r.planner?.uniform).toBe(ps);
        for (const p of r.firstParts) expect(p).toMatchObject(uniformPart(p.partNumber, ps, size));
        // The coordinator fixes the size from the hint: the same one, so the first parts stay.
        const first = r.firstParts.length;
        r.fixSize(ps);
        expect(r.firstParts.length).toBe(first);
        r.planGaps([{ offset: 0, size, firstPart: 1, lastPart: MAX_PARTS }]);
        expectUniform(
          drain(r, () => {}),
          size,
          ps,
        );
      }),
      { numRuns: 200 },
    );
  });

  it("a resume sends exactly the parts not stored, at the recorded size, whatever the hint is now", () => {
    fc.assert(
      fc.property(
        fileSize,
        hint,
        hint,
        suggestions,
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
        (size, h0, h1, sug, picks, runs) => {
          // The earlier run fixed the upload's size from its hint; this one may hint another.
          const ps = partSizeFor(size, h0, RULES);
          const count = Math.ceil(size / ps);
          const stored = storedSet(count, picks, runs);
          const r = runner(size, h1, cycle(sug));
          r.planFirstParts(0);
          r.fixSize(ps); // the init answer's partSize: the recorded one
          r.planGaps(missingOf(size, ps, stored));
          const sent = drain(r, () => {});
          expect(sent.filter((p) => stored.has(p.partNumber))).toEqual([]);
          const all = [...sent, ...[...stored].map((n) => uniformPart(n, ps, size))];
          expectUniform(all, size, ps);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("first parts cut at another size than the upload's are dropped, and the rest follows the upload's", () => {
    fc.assert(
      fc.property(fileSize, hint, hint, (size, h0, h1) => {
        const recorded = partSizeFor(size, h0, RULES);
        const r = runner(size, h1, () => 5 * MiB);
        r.planFirstParts(8, 32 * MiB);
        r.fixSize(recorded);
        if (partSizeFor(size, h1, RULES) !== recorded) expect(r.firstParts).toEqual([]);
        r.planGaps([{ offset: 0, size, firstPart: 1, lastPart: MAX_PARTS }]);
        expectUniform(
          drain(r, () => {}),
          size,
          recorded,
        );
      }),
      { numRuns: 200 },
    );
  });

  it("without the rule, the same runner adapts part sizes (the rule is what holds them)", () => {
    const size = 200 * MiB;
    const sizes = [5 * MiB, 16 * MiB, 8 * MiB];
    const r = runner(size, 8 * MiB, cycle(sizes), S3_RULES, 1);
    r.planFirstParts(0);
    r.planGaps([{ offset: 0, size, firstPart: 1, lastPart: MAX_PARTS }]);
    const parts = drain(r, () => {});
    expect(new Set(parts.slice(0, -1).map((p) => p.size)).size).toBeGreaterThan(1);
  });
});
