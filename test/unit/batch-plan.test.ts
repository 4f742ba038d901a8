/** The pure parts of the batch side: checking and planning entries, deciding each, keys and presigns. */
import { S3Client } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchSortKey } from "../../functions/adapters/dynamo-table.js";
import { S3ObjectStore } from "../../functions/adapters/s3-store.js";
import { MAX_SINGLE_PUT_SIZE, MiB } from "../../functions/contract/limits.js";
import { decide, fileNameOf, type PlannedEntry, planEntries } from "../../functions/core/batch-plan.js";
import { EMPTY_SHA256_HEX } from "../../functions/core/checksums.js";
import { AppError } from "../../functions/core/errors.js";
import { mapLimit } from "../../functions/core/map-limit.js";
import type { StoredObjectRecord, TransferRecord } from "../../functions/core/ports.js";

const sha = (c: string) => c.repeat(64);
const e = (over: Record<string, unknown> = {}) => ({ path: "a/b.txt", size: 100, sha256: sha("a"), ...over });
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.code : String(err);
  }
  return "none";
};

describe("planEntries", () => {
  it("names each file by its last segment and takes the batch's priority unless the entry has one", () => {
    const [a, b] = planEntries([e(), e({ path: "top", priority: "high" })], "low");
    expect(a).toMatchObject({ name: "b.txt", priority: "low", kind: "single" });
    expect(b).toMatchObject({ name: "top", priority: "high" });
  });

  it("sends a file as one PUT when it fits in one part (the hint, else 8 MiB), else multipart; empty ones complete at once", () => {
    const kinds = planEntries(
      [
        e({ path: "1", size: 8 * MiB }),
        e({ path: "2", size: 8 * MiB + 1 }),
        e({ path: "3", size: 20 * MiB, partSizeHint: 32 * MiB }),
        e({ path: "4", size: 1000, upload: "multipart" }),
        e({ path: "5", size: 0, sha256: EMPTY_SHA256_HEX, upload: "multipart" }),
      ],
      "normal",
    ).map((p) => p.kind);
    expect(kinds).toEqual(["single", "multipart", "single", "multipart", "empty"]);
  });

  it("refuses, before anything happens, what cannot be served", () => {
    expect(code(() => planEntries([e(), e()], "normal"))).toBe("INVALID_INPUT");
    expect(code(() => planEntries([e({ size: 0 })], "normal"))).toBe("INVALID_INPUT");
    expect(code(() => planEntries([e({ size: MAX_SINGLE_PUT_SIZE + 1, upload: "single" })], "normal"))).toBe(
      "INVALID_INPUT",
    );
    expect(code(() => planEntries([e({ contentType: "text/plain\r\nx: y" })], "normal"))).toBe(
      "INVALID_INPUT",
    );
    const part = (partNumber: number, offset: number, size: number) => ({
      partNumber,
      offset,
      size,
      sha256: sha("c"),
    });
    const big = { size: 20 * MiB, upload: "multipart" };
    expect(code(() => planEntries([e({ ...big, parts: [part(1, 0, 1000)] })], "normal"))).toBe(
      "INVALID_PART",
    );
    expect(
      code(() => planEntries([e({ ...big, parts: [part(1, 0, 6 * MiB), part(1, 0, 6 * MiB)] })], "normal")),
    ).toBe("INVALID_PART");
    expect(
      code(() =>
        planEntries([e({ ...big, parts: [part(1, 0, 6 * MiB), part(2, 5 * MiB, 6 * MiB)] })], "normal"),
      ),
    ).toBe("INVALID_PART");
    expect(code(() => planEntries([e({ contentType: "text/plain; charset=utf-8" })], "normal"))).toBe("none");
  });

  it("keeps parts only for multipart files", () => {
    const parts = [{ partNumber: 1, offset: 0, size: 100, sha256: sha("c") }];
    expect(planEntries([e({ parts })], "normal")[0]?.parts).toBeUndefined();
  });
});

describe("decide", () => {
  const planned = (over: Partial<PlannedEntry> = {}): PlannedEntry => ({
    path: "p",
    name: "p",
    size: 10,
    sha256: sha("a"),
    priority: "normal",
    kind: "single",
    ...over,
  });
  const t = (over: Partial<TransferRecord> = {}): TransferRecord => ({
    id: "tr_1",
    name: "p",
    size: 10,
    sha256: sha("a"),
    priority: "normal",
    status: "uploading",
    objectKey: "objects/tr_1",
    partsDone: 0,
    bytesDone: 0,
    createdAt: "",
    updatedAt: "",
    batchId: "bt_1",
    path: "p",
    upload: "single",
    ...over,
  });
  const stored: StoredObjectRecord = {
    sha256: sha("a"),
    size: 10,
    objectKey: "objects/x",
    transferId: "tr_x",
    createdAt: "",
  };

  it("without a candidate: dedupe if stored, else a new PUT (or an empty object, or multipart)", () => {
    expect(decide(planned(), "bt_1", undefined, stored).decision.action).toBe("dedupe");
    expect(decide(planned(), "bt_1", undefined, undefined).decision.action).toBe("put-new");
    expect(decide(planned({ kind: "empty" }), "bt_1", undefined, undefined).decision.action).toBe("empty");
    expect(decide(planned({ kind: "multipart" }), "bt_1", undefined, stored).decision.action).toBe(
      "multipart",
    );
  });

  it("resumes only a transfer of this batch at this path", () => {
    expect(decide(planned(), "bt_2", t(), undefined)).toEqual({ decision: { action: "put-new" } });
    expect(decide(planned({ path: "q" }), "bt_1", t(), undefined)).toEqual({
      decision: { action: "put-new" },
    });
    expect(decide(planned(), "bt_1", t(), undefined).decision).toEqual({
      action: "put-resumed",
      transfer: t(),
      reopen: false,
    });
    expect(decide(planned(), "bt_1", t({ status: "failed" }), undefined).decision).toMatchObject({
      reopen: true,
    });
    expect(decide(planned(), "bt_1", t({ status: "complete" }), undefined).decision.action).toBe(
      "done-resumed",
    );
  });

  it("the record's kind wins: a multipart transfer goes on as multipart, with its id", () => {
    const d = decide(planned(), "bt_1", t({ upload: "multipart", uploadId: "u" }), undefined).decision;
    expect(d).toEqual({ action: "multipart", resumeId: "tr_1" });
  });

  it("other content, or an aborted transfer, is superseded by a fresh decision", () => {
    const changed = t({ sha256: sha("b") });
    expect(decide(planned(), "bt_1", changed, undefined)).toEqual({
      decision: { action: "put-new" },
      supersedes: changed,
    });
    const aborted = t({ status: "aborted" });
    expect(decide(planned(), "bt_1", aborted, stored)).toEqual({
      decision: { action: "dedupe", stored },
      supersedes: aborted,
    });
  });
});

describe("fileNameOf and batchSortKey", () => {
  it("the name is the last segment", () => {
    expect(fileNameOf("a/b/c d.txt")).toBe("c d.txt");
    expect(fileNameOf(".dot")).toBe(".dot");
  });

  it("cuts a path to at most 1,024 UTF-8 bytes, at a character boundary, keeping short paths whole", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 1500 }), (p) => {
        const k = batchSortKey(p);
        expect(Buffer.byteLength(k, "utf8")).toBeLessThanOrEqual(1024);
        expect(p.startsWith(k)).toBe(true);
        expect(k.isWellFormed()).toBe(true);
        if (Buffer.byteLength(p, "utf8") <= 1024) expect(k).toBe(p);
      }),
    );
    expect(batchSortKey("€".repeat(400))).toBe("€".repeat(341)); // 3 bytes each: 1,023
  });
});

describe("mapLimit", () => {
  it("keeps order and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10 + i;
    });
    expect(out).toEqual([50, 11, 42, 23, 34, 5, 66]);
    expect(peak).toBe(3);
  });
});

describe("presignPutObject", () => {
  const client = new S3Client({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    forcePathStyle: true,
    credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  const store = new S3ObjectStore(client, "bucket");

  it("signs the SHA-256 and the length as headers, and adds no checksum of its own", async () => {
    const b64 = Buffer.from(sha("a"), "hex").toString("base64");
    const r = await store.presignPutObject("objects/tr_x", { size: 123, sha256Base64: b64 }, 600);
    const url = new URL(r.url);
    expect(url.pathname).toBe("/bucket/objects/tr_x");
    const signed = (url.searchParams.get("X-Amz-SignedHeaders") ?? "").split(";");
    expect(signed).toEqual(expect.arrayContaining(["content-length", "host", "x-amz-checksum-sha256"]));
    expect(url.searchParams.get("X-Amz-Expires")).toBe("600");
    expect([...url.searchParams.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
    expect(r.headers).toEqual({ "x-amz-checksum-sha256": b64, "content-length": "123" });
  });

  it("signs the content type too when there is one", async () => {
    const r = await store.presignPutObject("k", { size: 1, sha256Base64: "x", contentType: "text/csv" }, 60);
    expect(new URL(r.url).searchParams.get("X-Amz-SignedHeaders")).toContain("content-type");
    expect(r.headers["content-type"]).toBe("text/csv");
  });
});
