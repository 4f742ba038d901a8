/**
 * `sfts send` of big files moves bytes at once: the first parts are stored before the whole-file SHA-256
 * is known (its pass slowed down by the test-only SFTS_TEST_HASH_RATE, so the order does not depend on
 * the machine's speed: more than the first parts hashed before the init are on their way before the end), and a file stored already stops soon after its hash is known, having sent only
 * what was on its way. The CLI runs as a real process against versitygw and DynamoDB Local.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, MiB, sha256 } from "../helpers/api.js";
import { cliEnv, ofType, runCli } from "../helpers/cli.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "sfts-stream-"));
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function downloaded(id: string): Promise<Buffer> {
  const d = await apiClient(stack).get(`/download/${id}?redirect=false`);
  expect(d.status).toBe(200);
  return Buffer.from(await (await fetch(d.body.url)).arrayBuffer());
}

describe("sfts send hashes a big file while it sends it", () => {
  it("its bytes leave before the whole file is hashed, and the file arrives intact", async () => {
    const size = 128 * MiB;
    const data = randomBytes(size);
    const path = join(dir, "slow-hash.bin");
    await writeFile(path, data);
    // The whole-file pass at 16 MiB/s takes eight seconds; only the first 32 MiB are waited for.
    const env = await cliEnv(stack, { SFTS_TEST_HASH_RATE: String(16 * MiB) });
    const r = await runCli(["send", path, "--json", "--chunk-size", "8MiB"], env).done;
    expect(r.code).toBe(0);
    const hashed = r.events.findIndex((e) => e.type === "hash" && e.bytes === size);
    const start = r.events.findIndex((e) => e.type === "start");
    // Bytes storage received (stored or on their way), as the progress events report them.
    const moving = r.events.findIndex((e) => e.type === "progress" && e.bytesDone > 0);
    expect(hashed).toBeGreaterThan(0);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(moving).toBeGreaterThan(start);
    expect(moving).toBeLessThan(hashed);
    const beforeHash = r.events.slice(0, hashed).filter((e) => e.type === "progress");
    expect(Math.max(...beforeHash.map((e) => (e.type === "progress" ? e.bytesDone : 0)))).toBeGreaterThan(
      32 * MiB,
    );
    const done = ofType(r.events, "done")[0];
    expect(done?.sha256).toBe(sha256(data));
    expect(done?.bytesSent).toBe(size);
    expect((await downloaded(done?.transferId ?? "")).equals(data)).toBe(true);
  });

  it("a copy of a stored file is a dedupe once its hash is known: far less than the file is sent", async () => {
    const size = 128 * MiB;
    const data = randomBytes(size);
    const first = join(dir, "stored-first.bin");
    const copy = join(dir, "stored-copy.bin");
    await writeFile(first, data);
    await copyFile(first, copy);
    const env = await cliEnv(stack);
    const a = await runCli(["send", first, "--json"], env).done;
    expect(a.code).toBe(0);
    const origin = ofType(a.events, "done")[0]?.transferId;
    // Sending at 16 MiB/s, the file would take eight seconds; it stops when its hash is known.
    const b = await runCli(["send", copy, "--json", "--limit-rate", "16MiB/s"], env).done;
    expect(b.code).toBe(0);
    const done = ofType(b.events, "done")[0];
    expect(done?.deduplicated).toBe(true);
    expect(done?.sha256).toBe(sha256(data));
    expect(done?.bytesSent).toBeLessThan(size / 4);
    const info = await apiClient(stack).get(`/api/files/${done?.transferId}`);
    expect(info.body).toMatchObject({ status: "complete", deduplicatedFrom: origin, parts: [] });
    expect((await downloaded(done?.transferId ?? "")).equals(data)).toBe(true);
  });
});
