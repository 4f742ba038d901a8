/**
 * Reading batches: the list newest first (paged, filtered by status), one batch with its empty folders,
 * and a batch's files by path (paged), names being any Unicode, spaces, leading dots and long paths.
 * On a coordinator and table of their own, so no other test's batches land in the pages.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient } from "../helpers/api.js";
import { createRequest, entry, file, isolatedStack, mustOk, sendBatch } from "../helpers/batch.js";

const stack = inject("stack");
let own: Awaited<ReturnType<typeof isolatedStack>>;
let api: Api;
beforeAll(async () => {
  own = await isolatedStack(stack, "sfts-test-batch-reading");
  api = apiClient(own.info);
});
afterAll(() => own.close());

/** Every page of a listing, following nextCursor. */
async function allPages<T>(path: string, limit: number): Promise<{ pages: T[][]; items: T[] }> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const q: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const body = await mustOk(api.get(q));
    pages.push(body.items);
    cursor = body.nextCursor;
  } while (cursor && pages.length < 100);
  return { pages, items: pages.flat() };
}

describe("batches", () => {
  const ids: string[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await mustOk(api.post("/batch", createRequest([file(`f${i}`, 3)], { name: `batch ${i}` })))).batchId,
      );
      await new Promise((r) => setTimeout(r, 5)); // distinct creation times
    }
  });

  it("are listed newest first, paged, every batch once", async () => {
    const { pages, items } = await allPages<{ id: string; name: string }>("/api/batches", 2);
    expect(pages.map((p) => p.length).slice(0, 2)).toEqual([2, 2]);
    const mine = items.map((b) => b.id).filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].reverse());
    expect(new Set(items.map((b) => b.id)).size).toBe(items.length);
    const first = items.find((b) => b.id === ids[0]);
    expect(first).toMatchObject({ name: "batch 0", status: "open", fileCount: 1, totalBytes: 3 });
    expect(first).not.toHaveProperty("dirs");
  });

  it("are filtered by status", async () => {
    const done = await sendBatch(api, [file("complete-me", 9)], { name: "completed" });
    const cancelled = (await mustOk(api.post("/batch", createRequest([file("cancel-me", 4)])))).batchId;
    await mustOk(api.del(`/batch/${cancelled}`));
    const complete = (await allPages<{ id: string; status: string }>("/api/batches?status=complete", 10))
      .items;
    expect(complete.map((b) => b.id)).toContain(done.created.batchId);
    expect(complete.every((b) => b.status === "complete")).toBe(true);
    const aborted = (await allPages<{ id: string }>("/api/batches?status=aborted", 10)).items;
    expect(aborted.map((b) => b.id)).toEqual([cancelled]);
    const open = (await allPages<{ id: string }>("/api/batches?status=open", 1)).items.map((b) => b.id);
    expect(open).toEqual(expect.arrayContaining(ids));
    expect(open).not.toContain(cancelled);
  });

  it("refuse a cursor that is not theirs", async () => {
    const r = await api.get("/api/batches?cursor=bm90LWEtY3Vyc29y");
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("INVALID_CURSOR");
  });
});

describe("a batch's files", () => {
  const long = `${"deep/".repeat(700)}end.txt`; // 3,507 characters: longer than any cursor may be
  const files = [
    file("a b c.txt", 1),
    file(".dotfile", 2),
    file("日本語/ファイル.txt", 3),
    file("Ünïcødé/ñ", 4),
    file("Z", 5),
    file("a/b/c/d.bin", 6),
    file(long, 7),
    file("emoji 🎉.md", 8),
  ];
  let batchId: string;
  beforeAll(async () => {
    const created = await mustOk(
      api.post("/batch", {
        ...createRequest(files, { dirs: ["empty", "a/empty too"] }),
        files: files.map((f) => entry(f)),
      }),
    );
    batchId = created.batchId;
  });

  it("are listed by path, paged, each with its path and batch", async () => {
    const { pages, items } = await allPages<{ path: string; batchId: string; name: string; id: string }>(
      `/api/batches/${batchId}/files`,
      3,
    );
    expect(pages.length).toBeGreaterThanOrEqual(3);
    // DynamoDB orders by the paths' UTF-8 bytes.
    const expected = files.map((f) => f.path).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(items.map((f) => f.path)).toEqual(expected);
    for (const f of items) {
      expect(f.batchId).toBe(batchId);
      expect(f.name).toBe(f.path.split("/").pop());
      expect(f.id).toMatch(/^tr_/);
    }
  });

  it("come with the batch's empty folders", async () => {
    const b = await mustOk(api.get(`/api/batches/${batchId}`));
    expect(b).toMatchObject({ id: batchId, fileCount: files.length, dirs: ["empty", "a/empty too"] });
  });

  it("refuse a cursor of another batch's listing", async () => {
    const other = await mustOk(
      api.post("/batch", {
        ...createRequest([file("x", 1), file("y", 1)]),
        files: [entry(file("x", 1)), entry(file("y", 1))],
      }),
    );
    const page = await mustOk(api.get(`/api/batches/${other.batchId}/files?limit=1`));
    expect(page.nextCursor).toBeTruthy();
    const r = await api.get(`/api/batches/${batchId}/files?cursor=${encodeURIComponent(page.nextCursor)}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("INVALID_CURSOR");
  });
});
