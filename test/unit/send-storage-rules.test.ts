/**
 * The send engine under the storage rules GET /api/storage gives (storage-rules.ts), over the in-memory
 * coordinator and storage (send-fakes.ts): md5 mode sends each part's and small file's MD5 (the one its
 * bytes have) and storage checks it, a damaged body is refused and sent again; the uniform rule keeps
 * every part where the upload's one size puts it, through a resume that hints another size; sha256 mode
 * and a coordinator without the route add nothing; storage not serving stops the send before any entry.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import type { NewEvent } from "../../cli/engine/events.js";
import { type EngineOptions, sendBatch } from "../../cli/engine/send/batch-sender.js";
import type { Manifest } from "../../cli/engine/send/manifest.js";
import { S3_RULES } from "../../cli/engine/send/storage-rules.js";
import type { PutRequest, Transport } from "../../cli/engine/send/transport.js";
import { MiB } from "../../functions/contract/limits.js";
import { partSizeFor } from "../../functions/contract/part-rules.js";
import type { StorageRules } from "../../functions/contract/storage.js";
import { FakeFiles, FakeServer, fakeManifest, md5, sha } from "./send-fakes.js";

const GENERIC: StorageRules = { ...S3_RULES, profile: "generic", partCheck: "md5", uniformParts: true };

const engine: EngineOptions = {
  concurrency: 8,
  transfers: 4,
  hashers: 4,
  memoryBudget: 128 * MiB,
  adaptive: true,
  partSize: 5 * MiB,
  retry: { maxRetries: 3, baseMs: 1, capMs: 2 },
};

/** The fake server, with `put` replaced (storage's side of a PUT stays the fake's). */
function withPut(
  server: FakeServer,
  put: (req: PutRequest, real: Transport["put"]) => Promise<{ etag: string }>,
) {
  const real = server.put.bind(server);
  return new Proxy(server, {
    get(target, key) {
      if (key === "put") return (req: PutRequest) => put(req, real);
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Transport;
}

function send(transport: Transport, files: FakeFiles, m: Manifest, over: Partial<EngineOptions> = {}) {
  const events: NewEvent[] = [];
  const done = sendBatch(
    m,
    { ...engine, ...over },
    {
      transport,
      files,
      emit: (e) => events.push(e),
      stop: new AbortController().signal,
      abort: new AbortController().signal,
      priority: "normal",
    },
  );
  return { done, events };
}

/** Every presigned part spec has the MD5 of the bytes it names. */
function md5sMatch(server: FakeServer, body: Buffer): boolean {
  return server.specs.every((p) => p.md5 === md5(body.subarray(p.offset, p.offset + p.size)));
}

describe("send under md5 storage with uniform parts (the generic profile)", () => {
  it("sends each part's and small file's MD5, at one part size, and storage holds the bytes", async () => {
    const server = new FakeServer();
    server.rules = GENERIC;
    const files = new FakeFiles();
    const big = randomBytes(47 * MiB + 12_345);
    const small = { "a.txt": randomBytes(1000), "b.bin": randomBytes(3 * MiB), empty: Buffer.alloc(0) };
    const m = fakeManifest(files, { "big.bin": big, ...small });
    const r = await send(server, files, m).done;
    expect(r.fatal).toBeUndefined();
    expect(r.files.map((f) => f.status)).toEqual(["done", "done", "done", "done"]);
    expect(server.calls.storage).toBe(1);
    // Storage refused nothing: every Content-MD5 it was given matched the bytes.
    expect(server.refused).toEqual({ sha256: 0, md5: 0 });
    expect(server.specs.length).toBeGreaterThan(0);
    expect(md5sMatch(server, big)).toBe(true);
    const t = server.transferByPath("big.bin");
    const ps = partSizeFor(big.length, engine.partSize, GENERIC);
    expect(t?.partSize).toBe(ps);
    const parts = [...(t?.recorded.values() ?? [])].sort((a, b) => a.partNumber - b.partNumber);
    expect(parts.map((p) => [p.offset, p.size])).toEqual(
      parts.map((_, i) => [i * ps, Math.min(ps, big.length - i * ps)]),
    );
    expect(sha(t?.object ?? Buffer.alloc(0))).toBe(sha(big));
    for (const [path, body] of Object.entries(small))
      expect(server.transferByPath(path)?.object?.equals(body)).toBe(true);
  });

  it("a part damaged on its way is refused by storage's MD5 check and sent again; the file is intact", async () => {
    const server = new FakeServer();
    server.rules = GENERIC;
    const files = new FakeFiles();
    const big = randomBytes(23 * MiB);
    const m = fakeManifest(files, { "big.bin": big, "small.bin": randomBytes(200_000) });
    let flipped = 0;
    const transport = withPut(server, (req, real) => {
      if (flipped < 2 && req.body.length > 100_000) {
        // One flipped byte on the way (a copy: the sender's buffer is untouched), for a part and the file.
        flipped++;
        const bad = Buffer.from(req.body);
        bad[77_777] = (bad[77_777] ?? 0) ^ 0x01;
        return real({ ...req, body: bad });
      }
      return real(req);
    });
    const r = await send(transport, files, m).done;
    expect(r.files.map((f) => f.status)).toEqual(["done", "done"]);
    expect(server.refused.md5).toBe(2);
    expect(sha(server.transferByPath("big.bin")?.object ?? Buffer.alloc(0))).toBe(sha(big));
  });

  it("a resume hinting another part size sends only what is missing, at the upload's recorded size", async () => {
    const server = new FakeServer();
    server.rules = GENERIC;
    const files = new FakeFiles();
    const big = randomBytes(61 * MiB + 3);
    const m = fakeManifest(files, { "big.bin": big });
    // The first run: storage refuses for good after a few parts (the file fails, resumable).
    let puts = 0;
    const failing = withPut(server, (req, real) => {
      if (++puts > 4) return Promise.reject(new CliError("AccessDenied", "denied", EXIT.REJECTED));
      return real(req);
    });
    const r1 = await send(failing, files, m, { concurrency: 1, transfers: 1 }).done;
    expect(r1.files[0]?.status).toBe("failed");
    const t = server.transferByPath("big.bin");
    const ps = partSizeFor(big.length, 5 * MiB, GENERIC);
    expect(t?.partSize).toBe(ps);
    const before = new Map(t?.stored);
    expect(before.size).toBeGreaterThan(0);
    expect(before.size).toBeLessThan(Math.ceil(big.length / ps));

    // The second run hints 16 MiB: the upload keeps its size, and what storage holds is not sent again.
    const r2 = await send(server, files, m, { partSize: 16 * MiB }).done;
    expect(r2.files[0]?.status).toBe("done");
    const after = server.transfers.get(t?.id ?? "");
    expect(after?.status).toBe("complete");
    for (const [n, p] of before) expect(after?.stored.get(n)).toBe(p);
    const parts = [...(after?.recorded.values() ?? [])].sort((a, b) => a.partNumber - b.partNumber);
    expect(parts.map((p) => [p.partNumber, p.offset, p.size])).toEqual(
      parts.map((_, i) => [i + 1, i * ps, Math.min(ps, big.length - i * ps)]),
    );
    expect(sha(after?.object ?? Buffer.alloc(0))).toBe(sha(big));
    expect(md5sMatch(server, big)).toBe(true);
  });
});

describe("send under sha256 storage", () => {
  for (const [name, rules] of [
    ["the aws profile", { ...S3_RULES }],
    ["a coordinator without GET /api/storage", undefined],
  ] as const)
    it(`${name}: no MD5 computed or sent, parts signed by SHA-256`, async () => {
      const server = new FakeServer();
      server.rules = rules;
      const files = new FakeFiles();
      const big = randomBytes(20 * MiB);
      const m = fakeManifest(files, { "big.bin": big, "small.bin": randomBytes(5000) });
      const headers: Record<string, string>[] = [];
      const transport = withPut(server, (req, real) => {
        headers.push(req.headers);
        return real(req);
      });
      const r = await send(transport, files, m).done;
      expect(r.files.map((f) => f.status)).toEqual(["done", "done"]);
      expect(server.specs.filter((p) => p.md5 !== undefined)).toEqual([]);
      expect(headers.every((h) => h["x-amz-checksum-sha256"] && !h["content-md5"])).toBe(true);
      expect(sha(server.transferByPath("big.bin")?.object ?? Buffer.alloc(0))).toBe(sha(big));
    });
});

describe("storage not serving transfers", () => {
  it("stops the send before any entry or PUT, with the probe's words and a non-zero exit", async () => {
    const server = new FakeServer();
    server.rules = GENERIC;
    server.notServing = true;
    const files = new FakeFiles();
    const m = fakeManifest(files, { "big.bin": randomBytes(12 * MiB), "small.bin": randomBytes(10) });
    const { done, events } = send(server, files, m);
    const r = await done;
    expect(r.fatal?.code).toBe("STORAGE_UNVERIFIED");
    expect(r.fatal?.exitCode).toBe(EXIT.NETWORK);
    expect(r.fatal?.message).toContain("storage accepted a damaged part");
    expect(r.files.every((f) => f.status === "failed")).toBe(true);
    expect(server.calls.createBatch ?? 0).toBe(0);
    expect(server.calls.addFiles ?? 0).toBe(0);
    expect(server.calls.put ?? 0).toBe(0);
    expect(server.transfers.size).toBe(0);
    expect(events.filter((e) => e.type === "error")).toHaveLength(1);
  });
});
