/**
 * The browser upload engine (web/src/upload/engine.ts) over in-memory fakes of its ports
 * (test/helpers/upload-fakes.ts): files small and large stored intact, a fresh page resuming what
 * another left (only the missing bytes sent), damaged bytes refused and sent again, spent URLs renewed,
 * pause/resume, cancel, going offline and back, priority shares, md5 mode, an unreadable file failing
 * alone, the memory budget, storage that is not serving, and the resume store's list and discard.
 */
import { setMaxListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { manifestText } from "../../functions/contract/manifest.js";
import type { BatchPhase, PickedFile } from "../../web/src/upload/types.js";
import { batchOf, engineBench, KiB, PART, phase, selection, until } from "../helpers/upload-engine.js";
import { bytesOf, picked, sha256Hex } from "../helpers/upload-fakes.js";

// Every part waiting for a slot listens to its run's signal: many listeners are expected.
setMaxListeners(0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the browser upload engine", () => {
  it("stores small and large files intact and forgets the batch once complete", async () => {
    const { coordinator, resume, make } = engineBench();
    const files = [
      picked("photos/a.txt", bytesOf(1_000, 1)),
      picked("photos/b.bin", bytesOf(100 * KiB, 2)),
      picked("photos/big.bin", bytesOf(700 * KiB + 123, 3)),
      picked("photos/empty", bytesOf(0, 4)),
    ];
    const e = make();
    const seen: BatchPhase[] = [];
    e.subscribe((s) => {
      const p = s.batches[0]?.phase;
      if (p && seen[seen.length - 1] !== p) seen.push(p);
    });
    const key = e.add(selection("photos", files), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(seen).toEqual(["preparing", "running", "complete"]);
    for (const f of files) {
      const v = b.files.find((x) => x.path === f.path);
      expect(v?.phase).toBe("complete");
      expect(v?.sha256).toBe(sha256Hex(new Uint8Array(await f.file.arrayBuffer())));
      const stored = coordinator.storedFile(v?.transferId as string);
      expect(Buffer.from(stored as Uint8Array).equals(Buffer.from(await f.file.arrayBuffer()))).toBe(true);
    }
    expect(b.doneBytes).toBe(b.totalBytes);
    expect(b.uploadedBytes).toBe(b.totalBytes);
    // The digest is the manifest's, the small files went in one entry call with the large one or two.
    const created = coordinator.calls.find((c) => c.method === "createBatch")?.args[0] as { digest: string };
    expect(created.digest).toBe(sha256Hex(new TextEncoder().encode(manifestText(files))));
    expect(coordinator.count("addFiles")).toBeLessThanOrEqual(2);
    expect(coordinator.count("storage")).toBe(1);
    expect(resume.items.size).toBe(0);
    // The large file's parts: several, each presigned with its SHA-256, recorded before assembly.
    expect(coordinator.count("assemble")).toBe(1);
  });

  it("resumes another page's upload after a stop: only the missing bytes are sent", async () => {
    const { storage, coordinator, resume, make } = engineBench({ engine: { concurrency: 2 } });
    const data = bytesOf(1024 * KiB, 7);
    const files = [picked("big.bin", data)];
    const first = make();
    let parts = 0;
    let key = "";
    storage.beforePut = () => {
      if (++parts === 7) first.pause(key);
    };
    key = first.add(selection("big.bin", files), "normal");
    await phase(first, key, ["paused"]);
    await sleep(30);
    storage.beforePut = undefined;
    const tid = batchOf(first, key).files[0]?.transferId as string;
    const held = storage.heldBytes(tid);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(data.byteLength);
    expect(resume.items.size).toBe(1);

    // A fresh page: the same pick again, another engine over the same server and storage.
    const second = make();
    expect((await second.unfinished()).map((u) => u.name)).toEqual(["big.bin"]);
    const before = storage.bytesStored;
    const key2 = second.add(selection("big.bin", [picked("big.bin", data)]), "normal");
    const b = await phase(second, key2, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const sent = storage.bytesStored - before;
    expect(sent).toBe(data.byteLength - held);
    expect(b.files[0]?.skippedBytes).toBe(held);
    expect(b.files[0]?.transferId).toBe(tid);
    expect(coordinator.batches.size).toBe(1);
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
    expect(resume.items.size).toBe(0);
  });

  it("remembers each file's transfer as soon as it is known; the same pick on a fresh page names it", async () => {
    const { storage, coordinator, resume, make } = engineBench();
    storage.delayMs = 40;
    const data = bytesOf(2048 * KiB, 8);
    const first = make();
    const key = first.add(selection("k.bin", [picked("k.bin", data)]), "normal");
    // A reload may come at any moment: the store has the transfer while the upload runs.
    await until(
      () => [...resume.items.values()][0]?.files[0]?.transferId !== undefined,
      "the transfer remembered",
    );
    const tid = batchOf(first, key).files[0]?.transferId;
    expect([...resume.items.values()][0]?.files[0]?.transferId).toBe(tid);
    first.pause(key);
    await phase(first, key, ["paused"]);
    storage.delayMs = 0;
    const second = make();
    const key2 = second.add(selection("k.bin", [picked("k.bin", data)]), "normal");
    const b = await phase(second, key2, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const entries = coordinator.calls
      .filter((c) => c.method === "addFiles")
      .flatMap((c) => c.args[1] as { resumeId?: string }[]);
    expect(entries.map((en) => en.resumeId)).toEqual([undefined, tid]);
    expect(b.files[0]?.transferId).toBe(tid);
  });

  it("sends a part again when storage refuses its damaged bytes, and the file is intact", async () => {
    const { storage, coordinator, make } = engineBench();
    const data = bytesOf(300 * KiB, 9);
    storage.flipNext = 2;
    const e = make();
    const key = e.add(selection("d.bin", [picked("d.bin", data)]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(storage.log.filter((l) => l.code === "BadDigest")).toHaveLength(2);
    expect(b.retries).toBe(2);
    expect(b.files[0]?.retries).toBe(2);
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("renews a URL storage calls expired, and one about to expire before using it", async () => {
    const { storage, coordinator, make } = engineBench();
    const data = bytesOf(200 * KiB, 11);
    const small = bytesOf(10 * KiB, 12);
    storage.expireNext = 2;
    coordinator.shortLived = 1;
    const e = make();
    const key = e.add(selection("x", [picked("x/small", small), picked("x/big", data)]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(storage.log.filter((l) => l.code === "URL_EXPIRED")).toHaveLength(2);
    for (const f of b.files) {
      const want = f.path === "x/big" ? data : small;
      expect(
        Buffer.from(coordinator.storedFile(f.transferId as string) as Uint8Array).equals(Buffer.from(want)),
      ).toBe(true);
    }
    // The URL presigned with 10 s to live was renewed before its PUT: every PUT had over a minute left.
    expect(coordinator.shortLived).toBe(0);
    for (const l of storage.log) expect(l.lifeMs).toBeGreaterThan(60_000);
    // Parts asked for: the big file's 3, the 2 refused, the short-lived one.
    const specs = coordinator.calls
      .filter((c) => c.method === "presign")
      .flatMap((c) => c.args[1] as unknown[]);
    const renewedSingle = coordinator.count("addFiles") - 1;
    expect(specs.length + renewedSingle).toBe(3 + 2 + 1);
  });

  it("pauses (nothing moves) and resumes without hashing again", async () => {
    const { storage, coordinator, hasher, make } = engineBench();
    const data = bytesOf(1024 * KiB, 13);
    const e = make();
    let key = "";
    let puts = 0;
    storage.beforePut = () => {
      if (++puts === 5) e.pause(key);
    };
    key = e.add(selection("p.bin", [picked("p.bin", data)]), "high");
    await phase(e, key, ["paused"]);
    await sleep(20);
    const stored = storage.bytesStored;
    const logged = storage.log.length;
    await sleep(50);
    expect(storage.log.length).toBe(logged);
    expect(batchOf(e, key).speedBps).toBe(0);
    storage.beforePut = undefined;
    e.resume(key);
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(hasher.calls).toBe(1);
    // Only what was cut in flight went twice.
    expect(storage.bytesStored - stored).toBeLessThanOrEqual(data.byteLength - stored + 12 * PART);
    expect(storage.bytesStored).toBeLessThan(data.byteLength + 12 * PART);
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("cancels: the batch is deleted on the server and forgotten", async () => {
    const { storage, coordinator, resume, make } = engineBench();
    const e = make();
    let key = "";
    let puts = 0;
    let cancelled: Promise<void> | undefined;
    storage.beforePut = () => {
      if (++puts === 3) cancelled = e.cancel(key);
    };
    key = e.add(selection("c.bin", [picked("c.bin", bytesOf(800 * KiB, 14))]), "normal");
    await until(() => cancelled !== undefined, "the cancel");
    await cancelled;
    const b = batchOf(e, key);
    expect(b.phase).toBe("cancelled");
    expect(b.files[0]?.phase).toBe("cancelled");
    expect(coordinator.calls.filter((c) => c.method === "cancelBatch").map((c) => c.args[0])).toEqual([
      b.batchId,
    ]);
    expect(resume.items.size).toBe(0);
    expect(await e.unfinished()).toEqual([]);
    e.dismiss(key);
    expect(e.snapshot().batches).toHaveLength(0);
  });

  it("goes offline (its run stopped) and finishes by itself once back online", async () => {
    const { storage, coordinator, make } = engineBench();
    const e = make();
    const data = bytesOf(900 * KiB, 15);
    let puts = 0;
    storage.beforePut = () => {
      if (++puts === 4) e.setOnline(false);
    };
    const key = e.add(selection("o.bin", [picked("o.bin", data)]), "normal");
    await phase(e, key, ["offline"]);
    expect(e.snapshot().online).toBe(false);
    await sleep(30);
    const logged = storage.log.length;
    await sleep(40);
    expect(storage.log.length).toBe(logged);
    storage.beforePut = undefined;
    e.setOnline(true);
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("a record call still waiting for the link when the run stops lands before the next run asks what is recorded", async () => {
    const { coordinator, make } = engineBench();
    const e = make({ recordSettleMs: 10_000 });
    const data = bytesOf(900 * KiB, 17);
    const order: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let holding = false;
    const presign = coordinator.presign.bind(coordinator);
    coordinator.presign = async (id, parts, done) => {
      if (done.length > 0 && !holding) {
        // The first call carrying records meets a dark link: it waits (as withRetries does), and the
        // browser says offline meanwhile.
        holding = true;
        e.setOnline(false);
        await held;
        order.push("records landed");
      }
      return presign(id, parts, done);
    };
    const addFiles = coordinator.addFiles.bind(coordinator);
    coordinator.addFiles = async (batchId, files) => {
      order.push("entries");
      return addFiles(batchId, files);
    };
    const key = e.add(selection("r.bin", [picked("r.bin", data)]), "normal");
    await phase(e, key, ["offline"]);
    e.setOnline(true);
    await sleep(50);
    // The next run waits for the call: its entry's answer must include what that call records.
    expect(order).toEqual(["entries"]);
    expect(batchOf(e, key).phase).toBe("running");
    release();
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase, b.error).toBe("complete");
    expect(order.slice(0, 3)).toEqual(["entries", "records landed", "entries"]);
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("a failing coordinator link makes the batch offline until the link is back", async () => {
    const { storage, coordinator, make } = engineBench();
    const e = make();
    const data = bytesOf(400 * KiB, 16);
    const presign = coordinator.presign.bind(coordinator);
    let failing = true;
    const { NetworkError } = await import("../../cli/engine/classify.js");
    coordinator.presign = async (...args) => {
      if (failing) throw new NetworkError("NETWORK", "Cannot reach the SFTS server", 7, "http://api.test");
      return presign(...args);
    };
    const key = e.add(selection("l.bin", [picked("l.bin", data)]), "normal");
    const off = await phase(e, key, ["offline", "failed"]);
    expect(off.phase).toBe("offline");
    expect(off.error).toContain("Cannot reach");
    failing = false;
    e.setOnline(false);
    e.setOnline(true);
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(storage.bytesStored).toBeGreaterThanOrEqual(data.byteLength);
  });

  it("gives high priority more part slots than low when both compete", async () => {
    const { storage, make } = engineBench({ engine: { concurrency: 5 } });
    storage.delayMs = 3;
    const e = make();
    const samples = { high: 0, low: 0 };
    let highId = "";
    let lowId = "";
    storage.beforePut = () => {
      if (!highId || !lowId) return;
      // Only while both are sending parts (once one is done, the other takes every slot).
      const both = [hi, lo].every((k) => batchOf(e, k).files[0]?.phase === "sending");
      if (!both) return;
      samples.high += storage.inFlight.get(highId) ?? 0;
      samples.low += storage.inFlight.get(lowId) ?? 0;
    };
    const hi = e.add(selection("hi.bin", [picked("hi.bin", bytesOf(1536 * KiB, 17))]), "high");
    const lo = e.add(selection("lo.bin", [picked("lo.bin", bytesOf(1536 * KiB, 18))]), "low");
    await until(() => {
      highId = batchOf(e, hi).files[0]?.transferId ?? "";
      lowId = batchOf(e, lo).files[0]?.transferId ?? "";
      return highId !== "" && lowId !== "";
    }, "both transfers");
    await phase(e, hi, ["complete"]);
    await phase(e, lo, ["complete"]);
    expect(samples.low).toBeGreaterThan(0);
    expect(samples.high).toBeGreaterThan(samples.low * 2);
    expect(storage.peak).toBeLessThanOrEqual(5);
  });

  it("md5 mode: every part spec and every single entry carries its MD5, checked by storage", async () => {
    const { coordinator, storage, make } = engineBench({ coordinator: { partCheck: "md5" } });
    const e = make();
    const files = [picked("m/small", bytesOf(5 * KiB, 19)), picked("m/big", bytesOf(333 * KiB, 20))];
    storage.flipNext = 1;
    const key = e.add(selection("m", files), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const specs = coordinator.calls
      .filter((c) => c.method === "presign")
      .flatMap((c) => c.args[1] as { md5?: string }[]);
    expect(specs.length).toBeGreaterThan(0);
    for (const s of specs) expect(s.md5).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    const entries = coordinator.calls
      .filter((c) => c.method === "addFiles")
      .flatMap((c) => c.args[1] as { upload: string; md5?: string }[]);
    for (const en of entries.filter((x) => x.upload === "single")) expect(en.md5).toMatch(/==$/);
    expect(storage.log.some((l) => l.code === "BadDigest")).toBe(true);
    for (const f of b.files) expect(coordinator.storedFile(f.transferId as string)).toBeDefined();
  });

  it("the uniform rule: parts of the upload's one size, where it puts them", async () => {
    const { coordinator, make } = engineBench({ coordinator: { uniformParts: true } });
    const e = make();
    const data = bytesOf(500 * KiB + 7, 21);
    const key = e.add(selection("u.bin", [picked("u.bin", data)]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const tid = b.files[0]?.transferId as string;
    const size = coordinator.transfers.get(tid)?.partSize as number;
    const specs = coordinator.calls
      .filter((c) => c.method === "presign")
      .flatMap((c) => c.args[1] as { partNumber: number; offset: number }[]);
    for (const s of specs) expect(s.offset).toBe((s.partNumber - 1) * size);
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("an unreadable file fails alone with a clear sentence; the others complete and the batch is kept", async () => {
    const { coordinator, resume, make } = engineBench();
    const e = make();
    const broken = picked("f/gone.txt", bytesOf(2 * KiB, 22));
    broken.file = {
      size: broken.size,
      slice: () => ({
        arrayBuffer: () => Promise.reject(new DOMException("The file could not be read", "NotReadableError")),
      }),
    } as unknown as Blob;
    const changed: PickedFile = { ...picked("f/changed.bin", bytesOf(300 * KiB, 23)), size: 310 * KiB };
    const ok = [picked("f/a.txt", bytesOf(3 * KiB, 24)), picked("f/big.bin", bytesOf(400 * KiB, 25))];
    const key = e.add(selection("f", [broken, ok[0] as PickedFile, changed, ok[1] as PickedFile]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("failed");
    expect(b.error).toBe("2 of 4 files failed; the others are stored");
    const gone = b.files.find((f) => f.path === "f/gone.txt");
    expect(gone?.phase).toBe("failed");
    expect(gone?.error).toMatch(/^f\/gone\.txt changed or vanished while it was read; pick it again/);
    expect(b.files.find((f) => f.path === "f/changed.bin")?.error).toContain("changed or vanished");
    for (const p of ["f/a.txt", "f/big.bin"]) {
      const v = b.files.find((f) => f.path === p);
      expect(v?.phase).toBe("complete");
      expect(coordinator.storedFile(v?.transferId as string)).toBeDefined();
    }
    expect([...resume.items.values()].map((u) => u.kind)).toEqual(["folder"]);
  });

  it("never holds more part and body bytes than the memory budget", async () => {
    const budget = 256 * KiB;
    const { make } = engineBench({ engine: { memory: budget } });
    const e = make();
    const files = [
      picked("a.bin", bytesOf(600 * KiB, 26)),
      picked("b.bin", bytesOf(500 * KiB, 27)),
      picked("c.bin", bytesOf(120 * KiB, 28)),
      picked("d.bin", bytesOf(90 * KiB, 29)),
    ];
    const key = e.add(selection("a.bin", files), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const peak = e.sharedScheduler.peak.memory;
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(budget);
  });

  it("storage that does not refuse damaged bytes: every batch is refused with the probe's sentence", async () => {
    const { coordinator, storage, make } = engineBench({ coordinator: { serving: false } });
    const e = make();
    const key = e.add(selection("s", [picked("s", bytesOf(10, 30))]), "normal");
    const b = await phase(e, key, ["failed", "complete"]);
    expect(b.phase).toBe("failed");
    expect(b.error).toContain("Storage accepted damaged bytes");
    expect(e.snapshot().refused).toBe(b.error);
    expect(coordinator.count("createBatch")).toBe(0);
    expect(storage.log).toHaveLength(0);
    // Fixed meanwhile: the next batch asks again and goes.
    coordinator.serving = true;
    const next = e.add(selection("t", [picked("t", bytesOf(10, 31))]), "normal");
    expect((await phase(e, next, ["failed", "complete"])).phase).toBe("complete");
    expect(e.snapshot().refused).toBeUndefined();
  });

  it("lists what another page left unfinished and discards it on the server", async () => {
    const { storage, coordinator, resume, make } = engineBench();
    const first = make();
    let key = "";
    let puts = 0;
    storage.beforePut = () => {
      if (++puts === 2) first.pause(key);
    };
    key = first.add(selection("left", [picked("left/x.bin", bytesOf(600 * KiB, 31))]), "low");
    await phase(first, key, ["paused"]);
    expect(await first.unfinished()).toEqual([]);
    const second = make();
    const [u] = await second.unfinished();
    expect(u).toMatchObject({ name: "left", fileCount: 1, kind: "folder", totalBytes: 600 * KiB });
    expect(u?.files[0]?.path).toBe("left/x.bin");
    await second.discard(u?.digest as string);
    expect(coordinator.calls.filter((c) => c.method === "cancelBatch").map((c) => c.args[0])).toEqual([
      u?.batchId,
    ]);
    expect(resume.items.size).toBe(0);
    // Gone already on the server: discarding again only forgets.
    await resume.put(u as NonNullable<typeof u>);
    await second.discard(u?.digest as string);
    expect(resume.items.size).toBe(0);
  });

  it("retries network failures of storage and counts them", async () => {
    const { storage, coordinator, make } = engineBench();
    storage.failNetwork = 3;
    const e = make();
    const data = bytesOf(256 * KiB, 32);
    const key = e.add(selection("n.bin", [picked("n.bin", data)]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(b.retries).toBe(3);
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });
});

describe("the browser upload engine when things are lost", () => {
  it("adopts parts storage holds that were never recorded (read back and hashed), sending only the rest", async () => {
    const { storage, coordinator, make } = engineBench({ engine: { concurrency: 2 } });
    const data = bytesOf(1024 * KiB, 40);
    // The first page's records never reach the server (it crashed between its PUTs and their records).
    const forgetful: typeof coordinator = Object.create(coordinator);
    forgetful.presign = async (id, parts, _done) =>
      parts.length ? coordinator.presign(id, parts, []) : { parts: [] };
    forgetful.assemble = async () => {
      throw new Error("the page was closed");
    };
    const first = make({ coordinator: forgetful });
    let key = "";
    let puts = 0;
    storage.beforePut = () => {
      if (++puts === 8) first.pause(key);
    };
    key = first.add(selection("r.bin", [picked("r.bin", data)]), "normal");
    await phase(first, key, ["paused"]);
    await sleep(30);
    storage.beforePut = undefined;
    const tid = batchOf(first, key).files[0]?.transferId as string;
    expect(coordinator.transfers.get(tid)?.records.size).toBe(0);
    const held = storage.heldBytes(tid);
    expect(held).toBeGreaterThanOrEqual(4 * PART);

    const second = make();
    const before = storage.bytesStored;
    const key2 = second.add(selection("r.bin", [picked("r.bin", data)]), "normal");
    const b = await phase(second, key2, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const sent = storage.bytesStored - before;
    // Parts after a hole (one cut in flight) have no known offset: those may go again, nothing before.
    expect(sent).toBeLessThan(data.byteLength - 4 * PART + 1);
    expect(b.files[0]?.skippedBytes).toBe(data.byteLength - sent);
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("records parts stored while a record call was on its way at once after it, not when the next part is stored", async () => {
    const { storage, coordinator, make } = engineBench({ engine: { concurrency: 4 } });
    const data = bytesOf(6 * PART, 41);
    // Part 1's record goes alone 250 ms after it is stored and takes 600 ms; parts 2–4 are stored
    // meanwhile (at 300 ms), and their own 250 ms go by while it is still on its way; later parts are
    // held back, so no part is stored after them to carry their records.
    const slowRecords: typeof coordinator = Object.create(coordinator);
    slowRecords.presign = async (id, parts, done) => {
      if (parts.length === 0) await sleep(600);
      return coordinator.presign(id, parts, done);
    };
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    storage.beforePut = async (_req, key) => {
      const n = Number(key.split("/")[1]?.replace(/\D/g, ""));
      if (n >= 2 && n <= 4) await sleep(300);
      if (n >= 5) await held;
    };
    const e = make({ coordinator: slowRecords });
    const key = e.add(selection("r.bin", [picked("r.bin", data)]), "normal");
    await until(() => (batchOf(e, key)?.files[0]?.transferId ?? "") !== "", "the transfer");
    const tid = batchOf(e, key).files[0]?.transferId as string;
    await until(() => (coordinator.transfers.get(tid)?.records.size ?? 0) >= 4, "parts 1-4 recorded", 3_000);
    release();
    expect((await phase(e, key, ["complete", "failed"])).phase).toBe("complete");
  });

  it("sends parts again that storage lost after they were recorded", async () => {
    const { storage, coordinator, make } = engineBench();
    const data = bytesOf(400 * KiB, 41);
    const assemble = coordinator.assemble.bind(coordinator);
    let lost = 0;
    coordinator.assemble = async (id, parts) => {
      if (lost++ === 0) storage.objects.delete(`${id}/2`);
      return assemble(id, parts);
    };
    const e = make();
    const key = e.add(selection("g.bin", [picked("g.bin", data)]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.files[0]?.error).toBeUndefined();
    expect(b.phase).toBe("complete");
    expect(coordinator.count("missing")).toBe(1);
    expect(coordinator.count("assemble")).toBe(2);
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("PUTs a small file again when storage does not hold it at completion", async () => {
    const { storage, coordinator, make } = engineBench();
    const data = bytesOf(20 * KiB, 42);
    const complete = coordinator.completeFiles.bind(coordinator);
    let first = true;
    coordinator.completeFiles = async (id, ids) => {
      if (first) for (const t of ids) storage.objects.delete(`${t}/object`);
      first = false;
      return complete(id, ids);
    };
    const e = make();
    const key = e.add(selection("s.txt", [picked("s.txt", data)]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(coordinator.count("completeFiles")).toBe(2);
    expect(storage.log.filter((l) => l.ok)).toHaveLength(2);
    expect(
      Buffer.from(coordinator.storedFile(b.files[0]?.transferId as string) as Uint8Array).equals(
        Buffer.from(data),
      ),
    ).toBe(true);
  });

  it("content stored already is not sent again (deduplicated: every byte skipped)", async () => {
    const { storage, make } = engineBench();
    const big = bytesOf(300 * KiB, 43);
    const small = bytesOf(3 * KiB, 44);
    const e = make();
    const k1 = e.add(selection("one", [picked("one/big", big), picked("one/small", small)]), "normal");
    await phase(e, k1, ["complete"]);
    const before = storage.log.length;
    const k2 = e.add(selection("two", [picked("two/big", big), picked("two/small", small)]), "normal");
    const b = await phase(e, k2, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    expect(storage.log.length).toBe(before);
    expect(b.files.map((f) => f.skippedBytes)).toEqual([big.byteLength, small.byteLength]);
    expect(b.uploadedBytes).toBe(0);
  });
});

describe("the browser upload engine's runs", () => {
  it("a pause does not wait for a coordinator call that hangs; the resumed run finishes without it", async () => {
    const { storage, coordinator, make } = engineBench({ engine: { concurrency: 1 } });
    storage.delayMs = 2;
    const presign = coordinator.presign.bind(coordinator);
    let calls = 0;
    let hang = true;
    let hung = 0;
    coordinator.presign = (...args) => {
      if (hang && ++calls === 3) {
        hung++;
        return new Promise(() => {}); // the link went dark under this call: it never answers
      }
      return presign(...args);
    };
    const e = make();
    const data = bytesOf(600 * KiB, 50);
    const key = e.add(selection("h.bin", [picked("h.bin", data)]), "normal");
    await until(() => hung > 0, "a presign call hanging");
    await sleep(20);
    e.pause(key);
    expect(batchOf(e, key).phase).toBe("paused");
    hang = false;
    e.resume(key);
    const b = await phase(e, key, ["complete", "failed"], 3_000);
    expect(b.phase).toBe("complete");
    const tid = b.files[0]?.transferId as string;
    expect(Buffer.from(coordinator.storedFile(tid) as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it("a batch of empty folders only is created and complete", async () => {
    const { coordinator, make } = engineBench();
    const e = make();
    const key = e.add(selection("empty", [], ["empty", "empty/inner"]), "normal");
    const b = await phase(e, key, ["complete", "failed"]);
    expect(b.phase).toBe("complete");
    const req = coordinator.calls.find((c) => c.method === "createBatch")?.args[0] as { dirs: string[] };
    expect(req.dirs).toEqual(["empty", "empty/inner"]);
  });
});
