/**
 * The DynamoDB observer (buildAdapters' onDynamoCall, which bench/load.ts counts writes with): every request
 * the repository sends is reported once per attempt, with its marshalled input and, if it failed, the error.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildAdapters, type DynamoCall } from "../../functions/adapters/clients.js";
import { loadConfig } from "../../functions/api/config.js";
import { newTransferId } from "../../functions/core/ids.js";
import type { TransferRecord } from "../../functions/core/ports.js";
import { ensureTable } from "../../local/bootstrap.js";

const stack = inject("stack");
const calls: DynamoCall[] = [];
// A table of its own on the shared DynamoDB Local, so the record written here shows up in no other test.
const config = loadConfig({ ...stack.env, SFTS_TABLE: "sfts-test-observer" });
const adapters = buildAdapters(config, { onDynamoCall: (c) => calls.push(c) });
beforeAll(() => ensureTable(adapters.dynamodb, config.table));
afterAll(() => adapters.destroy());

describe("onDynamoCall", () => {
  it("reports each request with its operation, marshalled input and outcome", async () => {
    const now = new Date().toISOString();
    const t: TransferRecord = {
      id: newTransferId(Date.now()),
      name: "observed.bin",
      size: 1,
      sha256: "0".repeat(64),
      priority: "normal",
      status: "uploading",
      objectKey: "objects/observed",
      uploadId: "u",
      partsDone: 0,
      bytesDone: 0,
      createdAt: now,
      updatedAt: now,
    };
    await adapters.repo.createTransfer(t);
    // The same id again fails its attribute_not_exists condition: reported with the error's name.
    await expect(adapters.repo.createTransfer(t)).rejects.toThrow();
    expect(await adapters.repo.getTransfer(t.id)).toMatchObject({ id: t.id });

    const mine = calls.filter((c) => JSON.stringify(c.input).includes(t.id));
    expect(mine.map((c) => [c.operation, c.error])).toEqual([
      ["PutItem", undefined],
      ["PutItem", "ConditionalCheckFailedException"],
      ["GetItem", undefined],
    ]);
    expect(mine[0]?.input.Item).toMatchObject({ PK: { S: `T#${t.id}` }, SK: { S: "META" } });
    for (const c of mine) expect(c.ms).toBeGreaterThan(0);
  });
});
