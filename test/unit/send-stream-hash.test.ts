/**
 * Big files are sent while they are hashed: the first parts leave before the whole-file SHA-256 is known
 * (the fake's "whole" gate holds it back, so the order is shown without any timing), and once it is
 * known the coordinator's answer is followed at once: continue, done (stored already: the parts stop),
 * switch (another unfinished upload of the same content goes on), or wait for a file of the same batch.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../cli/engine/errors.js";
import type { NewEvent } from "../../cli/engine/events.js";
import { type EngineOptions, sendBatch } from "../../cli/engine/send/batch-sender.js";
import type { FileTransfer } from "../../cli/engine/send/file-transfer.js";
import type { Manifest } from "../../cli/engine/send/manifest.js";
import { MiB } from "../../functions/contract/limits.js";
import { FakeFiles, FakeServer, fakeManifest, sha } from "./send-fakes.js";

const engine: EngineOptions = {
  concurrency: 2,
  transfers: 8,
  hashers: 4,
  memoryBudget: 64 * MiB,
  adaptive: false,
  partSize: 5 * MiB,
  retry: { maxRetries: 2, baseMs: 1, capMs: 2 },
};

type Journal = NonNullable<Parameters<typeof sendBatch>[2]["journal"]>;

function start(
  server: FakeServer,
  files: FakeFiles,
  manifest: Manifest,
  over: Partial<EngineOptions> = {},
  journal?: Journal,
) {
  const stop = new AbortController();
  const events: NewEvent[] = [];
  let transfers: FileTransfer[] = [];
  const done = sendBatch(
    manifest,
    { ...engine, ...over },
    {
      transport: server,
      files,
      emit: (e) => events.push(e),
      stop: stop.signal,
      abort: new AbortController().signal,
      priority: "normal",
      journal,
      onTransfers: (t) => {
        transfers = t;
      },
    },
  );
  return {
    done,
    events,
    interrupt: () => stop.abort(new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED)),
    get transfers() {
      return transfers;
    },
  };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("a big file is sent while it is hashed", () => {
  it("its first parts are stored before its whole-file SHA-256 is known; assembly waits for the name", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const body = randomBytes(24 * MiB);
    const m = fakeManifest(files, { "big.bin": body });
    const whole = files.gate("whole");
    const run = start(server, files, m);
    await until(() => server.bytesPut >= 5 * MiB);
    expect(files.wholeHashed).toBe(0);
    expect(server.named).toEqual([]);
    whole.open();
    const r = await run.done;
    expect(r.files[0]?.status).toBe("done");
    expect(r.files[0]?.sha256).toBe(sha(body));
    expect(server.named).toEqual([
      { transferId: r.files[0]?.transferId, sha256: sha(body), action: "continue" },
    ]);
    expect(sha(server.transferByPath("big.bin")?.object ?? Buffer.alloc(0))).toBe(sha(body));
    expect(server.bytesPut).toBe(body.length);
  });

  it("stored already: the parts stop at once when the hash is known, and the file is a dedupe", async () => {
    const server = new FakeServer();
    server.putDelayMs = 30;
    const files = new FakeFiles();
    const body = randomBytes(60 * MiB);
    expect(
      (await start(server, files, fakeManifest(files, { "first.bin": body })).done).files[0]?.status,
    ).toBe("done");
    const before = server.bytesPut;
    const whole = files.gate("whole");
    const run = start(server, files, fakeManifest(files, { "again.bin": Buffer.from(body) }));
    await until(() => server.bytesPut > before);
    whole.open();
    const r = await run.done;
    const f = r.files[0];
    expect(f?.status).toBe("done");
    expect(f?.deduplicated).toBe(true);
    // What was on its way when the answer came, at most: two part slots, and a part stored before.
    expect(server.bytesPut - before).toBeLessThanOrEqual(3 * 5 * MiB);
    expect(f?.bytesSent).toBeLessThan(body.length / 2);
    expect(run.transfers[0]?.history).toEqual(["queued", "hashing", "initialising", "sending", "done"]);
    const t = server.transferByPath("again.bin");
    expect(t?.status).toBe("complete");
    expect(sha(t?.object ?? Buffer.alloc(0))).toBe(sha(body));
  });

  it("an unfinished upload of the same content (no journal): the file switches to it and sends what it misses", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const body = randomBytes(40 * MiB);
    const m = fakeManifest(files, { "big.bin": body });
    const puts = server.gate("put");
    const first = start(server, files, m, { concurrency: 1 });
    await puts.reached;
    first.interrupt();
    puts.open();
    expect((await first.done).files[0]?.status).toBe("interrupted");
    const old = server.transferByPath("big.bin");
    const held = [...(old?.recorded.values() ?? [])].reduce((n, p) => n + p.size, 0);
    expect(held).toBeGreaterThan(0);
    server.gates.clear();
    server.putDelayMs = 30;
    const before = server.bytesPut;
    const whole = files.gate("whole");
    const again = start(server, files, m, { concurrency: 1 });
    await until(() => server.bytesPut > before);
    whole.open();
    const r = await again.done;
    expect(r.files[0]?.status).toBe("done");
    expect(r.files[0]?.transferId).toBe(old?.id);
    expect(server.named.at(-1)?.action).toBe("switch");
    expect(again.transfers[0]?.history.filter((p) => p === "initialising")).toHaveLength(2);
    expect(sha(server.transfers.get(old?.id ?? "")?.object ?? Buffer.alloc(0))).toBe(sha(body));
    // The missing bytes, plus what went to the upload left behind before the hash was known (a part or two).
    expect(server.bytesPut - before).toBeLessThanOrEqual(body.length - held + 2 * 5 * MiB);
  });

  it("two files of one batch with the same content: the later one waits, then is a dedupe", async () => {
    const server = new FakeServer();
    const files = new FakeFiles();
    const body = randomBytes(20 * MiB);
    const m = fakeManifest(files, { "a.bin": body, "b.bin": Buffer.from(body) });
    const run = start(server, files, m);
    const r = await run.done;
    expect(r.files.map((f) => f.status)).toEqual(["done", "done"]);
    expect(r.files.filter((f) => f.deduplicated)).toHaveLength(1);
    const waited = run.transfers.filter((t) => t.history.includes("waiting-duplicate"));
    expect(waited).toHaveLength(1);
    expect(waited[0]?.history.at(-1)).toBe("done");
    for (const f of m.files)
      expect(sha(server.transferByPath(f.path)?.object ?? Buffer.alloc(0))).toBe(sha(body));
  });

  it("stopped before its hash is known: the journal keeps its transfer id, and the resume goes on with it", async () => {
    const server = new FakeServer();
    server.putDelayMs = 30;
    const files = new FakeFiles();
    const body = randomBytes(30 * MiB);
    const m = fakeManifest(files, { "big.bin": body });
    const saved = new Map<string, { sha256?: string; transferId?: string }>();
    const journal: Journal = {
      batchId: undefined,
      lookup: (f) => saved.get(f.path),
      record: (f, sha256, transferId) => {
        const old = saved.get(f.path);
        const known = sha256 ?? old?.sha256;
        saved.set(f.path, {
          ...(known !== undefined && { sha256: known }),
          ...(transferId !== undefined && { transferId }),
        });
      },
      flush: () => {},
      remove: () => saved.clear(),
    };
    files.gate("whole"); // never opened in the first run
    const first = start(server, files, m, {}, journal);
    await until(() => server.bytesPut >= 5 * MiB);
    first.interrupt();
    expect((await first.done).files[0]?.status).toBe("interrupted");
    const id = saved.get("big.bin")?.transferId;
    expect(id).toBeDefined();
    expect(saved.get("big.bin")?.sha256).toBeUndefined();
    const held = [...(server.transfers.get(id ?? "")?.recorded.values() ?? [])].reduce(
      (n, p) => n + p.size,
      0,
    );
    files.gates.clear();
    const before = server.bytesPut;
    const again = start(server, files, m, {}, journal);
    const r = await again.done;
    expect(r.files[0]?.status).toBe("done");
    expect(r.files[0]?.transferId).toBe(id);
    expect(server.named.at(-1)).toMatchObject({ transferId: id, action: "continue" });
    expect(server.bytesPut - before).toBeLessThanOrEqual(body.length - held);
    expect(sha(server.transfers.get(id ?? "")?.object ?? Buffer.alloc(0))).toBe(sha(body));
  });
});
