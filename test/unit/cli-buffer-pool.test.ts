import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferPool } from "../../cli/engine/buffer-pool.js";

const MiB = 1024 * 1024;

describe("BufferPool", () => {
  it("reuses a released buffer for a part that fits, instead of allocating", () => {
    const pool = new BufferPool(64 * MiB);
    const a = pool.acquire(5 * MiB);
    a[0] = 42;
    pool.release(a);
    const b = pool.acquire(6 * MiB);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(6 * MiB);
    expect(pool.held).toBe(8 * MiB);
  });

  it("never holds more than the budget once parts are back, whatever the sizes", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }), (sizesMiB) => {
        const pool = new BufferPool(96 * MiB);
        const out: Buffer[] = [];
        for (const s of sizesMiB) {
          out.push(pool.acquire(s * MiB));
          if (out.length > 2) pool.release(out.shift() as Buffer);
        }
        for (const b of out) pool.release(b);
        expect(pool.held).toBeLessThanOrEqual(96 * MiB);
      }),
    );
  });
});
