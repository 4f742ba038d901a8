/**
 * What a batch of small files costs in DynamoDB, counted from every request the coordinator sends (the
 * adapters' onDynamoCall hook, as bench/load.ts counts): per small file at most 3 items written (its
 * record, the transition to complete, the dedupe entry), the batch's and the stats' writes amortized over
 * the call; a deduplicated file costs one. Written in bulk (transactions of up to 100 items), not one
 * request per item. On a coordinator and table of their own, so nothing else is
 * counted.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { DynamoCall } from "../../functions/adapters/clients.js";
import { type Api, apiClient } from "../helpers/api.js";
import { file, isolatedStack, mustOk, sendBatch } from "../helpers/batch.js";

const stack = inject("stack");
const calls: DynamoCall[] = [];
let own: Awaited<ReturnType<typeof isolatedStack>>;
let api: Api;
beforeAll(async () => {
  own = await isolatedStack(stack, "sfts-test-batch-writes", (c) => calls.push(c));
  api = apiClient(own.info);
});
afterAll(() => own.close());

type Key = { PK?: { S?: string }; SK?: { S?: string } };

/** The kind of item a key names, by its table layout (dynamo-table.ts). */
function kind(key: Key | undefined): string {
  const pk = key?.PK?.S ?? "";
  const sk = key?.SK?.S ?? "";
  if (pk.startsWith("T#") && sk === "META") return "transfer";
  if (pk.startsWith("SHA#")) return "dedupe";
  if (pk.startsWith("B#")) return "batch";
  if (pk.startsWith("BD#")) return "digest";
  if (pk === "STATS") return "stats";
  if (pk === "SERIES") return "series";
  return `other ${pk.split("#")[0]}/${sk.split("#")[0]}`;
}

/** Items each request wrote (a failed request wrote none), by kind. */
function written(cs: readonly DynamoCall[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (k: Key | undefined) => out.set(kind(k), (out.get(kind(k)) ?? 0) + 1);
  for (const c of cs) {
    if (c.error) continue;
    const input = c.input as Record<string, any>;
    if (c.operation === "PutItem") add(input.Item);
    else if (c.operation === "UpdateItem" || c.operation === "DeleteItem") add(input.Key);
    else if (c.operation === "TransactWriteItems")
      for (const t of input.TransactItems ?? []) add(t.Put?.Item ?? t.Update?.Key ?? t.Delete?.Key);
    else if (c.operation === "BatchWriteItem")
      for (const reqs of Object.values(input.RequestItems ?? {}) as any[][])
        for (const r of reqs) add(r.PutRequest?.Item ?? r.DeleteRequest?.Key);
  }
  return out;
}

const sum = (m: Map<string, number>, kinds: readonly string[]) =>
  kinds.reduce((a, k) => a + (m.get(k) ?? 0), 0);

describe("DynamoDB writes of a batch of small files", () => {
  const N = 60;

  it(`are 3 items per file (record, complete, dedupe entry) and a few per call, for ${N} files`, async () => {
    const files = Array.from({ length: N }, (_, i) => file(`small/${String(i).padStart(3, "0")}.bin`, 4096));
    const from = calls.length;
    const { completed } = await sendBatch(api, files);
    expect(completed.batch).toMatchObject({ status: "complete", filesComplete: N });
    const w = written(calls.slice(from));
    const perFile = sum(w, ["transfer", "dedupe"]);
    const amortized = sum(w, ["batch", "digest", "stats", "series"]);
    console.log(
      `[batch writes] ${N} small files: ${perFile / N} items per file + ${amortized} per batch`,
      Object.fromEntries(w),
    );
    expect(w.get("transfer")).toBe(2 * N); // created in bulk, then moved to complete
    expect(w.get("dedupe")).toBe(N);
    expect(perFile / N).toBeLessThanOrEqual(3);
    // The batch (created, counted, completed), its digest pointer, one stats and series update per call.
    expect(amortized).toBeLessThanOrEqual(8);
    expect([...w.keys()].filter((k) => k.startsWith("other"))).toEqual([]);
    // One aggregated stats update per call, and they add up.
    const stats = await mustOk(api.get("/api/stats"));
    expect(stats.transfers.byStatus).toMatchObject({ complete: N, uploading: 0 });
    expect(stats.bytes).toMatchObject({ stored: N * 4096, received: N * 4096 });
    // Bulk: records created in transactions of up to 100, completed (with their dedupe entries) 50 a transaction.
    const bulk = calls.slice(from).filter((c) => c.operation === "TransactWriteItems" && !c.error);
    expect(bulk.length).toBe(1 + Math.ceil(N / 100) + Math.ceil(N / 50)); // + the batch's own creation
    expect(
      calls.slice(from).filter((c) => c.operation === "PutItem" || c.operation === "BatchWriteItem"),
    ).toEqual([]);
  });

  it("are 1 item per file for a batch whose content is stored already (dedupe)", async () => {
    const files = Array.from({ length: 20 }, (_, i) => file(`dup/${i}`, 1000));
    await sendBatch(api, files);
    const copies = files.map((f) => ({ path: `copy/${f.path}`, data: f.data }));
    const from = calls.length;
    const { created, completed } = await sendBatch(api, copies);
    expect(completed).toBeUndefined(); // nothing to send, nothing to complete
    expect(created.files.every((a: { action: string }) => a.action === "done")).toBe(true);
    const w = written(calls.slice(from));
    expect(w.get("transfer")).toBe(copies.length);
    expect(w.get("dedupe") ?? 0).toBe(0);
  });
});
