import { afterEach, beforeEach, it, vi } from "vitest";
import { Bandwidth } from "../../cli/engine/bandwidth.js";
beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });
async function run(perFlow: number, chunk: number) {
  const bw = new Bandwidth(1_000_000, () => Date.now());
  bw.setWeight("hi", 4); bw.setWeight("lo", 1);
  const got: Record<string, number> = { hi: 0, lo: 0 };
  let stop = false;
  const loop = async (f: string) => { while (!stop) { await bw.acquire(f, chunk); got[f] = (got[f] ?? 0) + chunk; } };
  for (let i = 0; i < perFlow; i++) { void loop("hi"); void loop("lo"); }
  await vi.advanceTimersByTimeAsync(10_000);
  stop = true;
  console.log(perFlow, chunk, got, (got.hi ?? 0) / (got.lo ?? 1));
}
it("x", async () => {
  await run(1, 16384);
  await run(2, 16384);
  await run(4, 16384);
  await run(1, 65536);
  const bw = new Bandwidth(100_000, () => Date.now());
  const ac = new AbortController(); ac.abort(new Error("gone"));
  let state = "pending";
  // drain burst first
  await bw.acquire("a", 65536);
  bw.acquire("a", 1000, ac.signal).then(() => { state = "resolved"; }, () => { state = "rejected"; });
  await vi.advanceTimersByTimeAsync(5000);
  console.log("pre-aborted:", state);
});
