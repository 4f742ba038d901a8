/**
 * BatchRepo on the one DynamoDB table (layout in dynamo-table.ts): batch items, the digest pointer that
 * makes a manifest find its batch again, listings by index, counters; the bulk reads and writes of a
 * batch's files are dynamo-bulk.ts.
 * Lifecycle: built once per process around an injected DynamoDBDocumentClient; holds no other state.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { BatchStatus } from "../contract/batches.js";
import { AppError } from "../core/errors.js";
import type {
  BatchCounts,
  BatchRecord,
  BatchRepo,
  ListBatchesQuery,
  StoredObjectRecord,
  TransferRecord,
} from "../core/ports.js";
import { DynamoBulk } from "./dynamo-bulk.js";
import { dbError, detachCommand, sleep, strip } from "./dynamo-items.js";
import { batchSortKey, INDEX_BY_BATCH, INDEX_BY_CREATED, INDEX_BY_STATUS } from "./dynamo-table.js";

const bPk = (id: string) => `B#${id}`;
const tPk = (id: string) => `T#${id}`;
const digestKey = (digest: string) => ({ PK: `BD#${digest}`, SK: "BATCH" });
const META = "META";
const batchStatusPk = (s: BatchStatus) => `BATCH#${s}`;

const invalidCursor = () =>
  new AppError("INVALID_CURSOR", "The paging cursor is not valid for this listing; start again without it.");

/** Cursors are opaque to clients: base64url JSON of the few strings needed to rebuild the start key. */
function encodeCursor(v: Record<string, string>): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

function decodeCursor(cursor: string, fields: readonly string[]): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor();
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw invalidCursor();
  const o = parsed as Record<string, unknown>;
  if (Object.keys(o).length !== fields.length) throw invalidCursor();
  for (const f of fields) {
    const v = o[f];
    if (typeof v !== "string" || v.length === 0 || v.length > 300) throw invalidCursor();
  }
  return o as Record<string, string>;
}

function batchItem(b: BatchRecord): Record<string, unknown> {
  return {
    ...b,
    PK: bPk(b.id),
    SK: META,
    type: "batch",
    listPk: "BATCHES",
    listSk: `${b.createdAt}#${b.id}`,
    statusPk: batchStatusPk(b.status),
  };
}

export class DynamoBatchRepo implements BatchRepo {
  private readonly bulk: DynamoBulk;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    this.bulk = new DynamoBulk(doc, table);
  }

  getTransfers(ids: readonly string[]): Promise<TransferRecord[]> {
    return this.bulk.getTransfers(ids);
  }

  findStoredObjects(
    keys: readonly { sha256: string; size: number }[],
  ): Promise<Map<string, StoredObjectRecord>> {
    return this.bulk.findStoredObjects(keys);
  }

  createTransfers(ts: readonly TransferRecord[]): Promise<Set<string>> {
    return this.bulk.createTransfers(ts);
  }

  completeTransfers(ts: readonly TransferRecord[], now: string): Promise<Set<string>> {
    return this.bulk.completeTransfers(ts, now);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return dbError(err);
    }
  }

  async createOrFindBatch(b: BatchRecord): Promise<{ batch: BatchRecord; created: boolean }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const pointer = await this.run(() =>
        this.doc.send(
          new GetCommand({ TableName: this.table, Key: digestKey(b.digest), ConsistentRead: true }),
        ),
      );
      const heldBy = (pointer.Item as { batchId?: string } | undefined)?.batchId;
      const held = heldBy !== undefined ? await this.getBatch(heldBy) : undefined;
      // A cancelled batch does not come back: sending the same manifest again starts a new one.
      if (held && held.status !== "aborted") return { batch: held, created: false };
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.table,
                  Item: { ...digestKey(b.digest), type: "batch-digest", batchId: b.id },
                  ...(heldBy === undefined
                    ? { ConditionExpression: "attribute_not_exists(PK)" }
                    : {
                        ConditionExpression: "batchId = :held",
                        ExpressionAttributeValues: { ":held": heldBy },
                      }),
                },
              },
              {
                Put: {
                  TableName: this.table,
                  Item: batchItem(b),
                  ConditionExpression: "attribute_not_exists(PK)",
                },
              },
            ],
          }),
        );
        return { batch: b, created: true };
      } catch (err) {
        // Another create of the same manifest won (or is being written): read again who holds it.
        const codes =
          err instanceof TransactionCanceledException
            ? (err.CancellationReasons ?? []).map((r) => r.Code ?? "None")
            : [];
        const lost =
          codes.some((c) => c === "ConditionalCheckFailed" || c === "TransactionConflict") ||
          (err instanceof Error && err.name === "TransactionConflictException");
        if (!lost) return dbError(err);
        await sleep(20 + Math.random() * 50 * (attempt + 1));
      }
    }
    throw new AppError("DATABASE_UNAVAILABLE", "The batch could not be created; try again shortly.");
  }

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    const r = await this.run(() =>
      this.doc.send(
        new GetCommand({ TableName: this.table, Key: { PK: bPk(id), SK: META }, ConsistentRead: true }),
      ),
    );
    return r.Item ? strip<BatchRecord>(r.Item) : undefined;
  }

  async listBatches(q: ListBatchesQuery): Promise<{ items: BatchRecord[]; cursor?: string }> {
    const index = q.status ? INDEX_BY_STATUS : INDEX_BY_CREATED;
    const hash = q.status ? "statusPk" : "listPk";
    const hashValue = q.status ? batchStatusPk(q.status) : "BATCHES";
    let start: Record<string, unknown> | undefined;
    if (q.cursor) {
      const c = decodeCursor(q.cursor, ["b", "s"]);
      if (!/^bt_[0-9a-z]{26}$/.test(c.b as string)) throw invalidCursor();
      start = { PK: bPk(c.b as string), SK: META, [hash]: hashValue, listSk: c.s };
    }
    const r = await this.run(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: index,
          KeyConditionExpression: `${hash} = :pk`,
          ExpressionAttributeValues: { ":pk": hashValue },
          ScanIndexForward: false,
          Limit: q.limit,
          ExclusiveStartKey: start,
        }),
      ),
    );
    const items = (r.Items ?? []).map((i) => strip<BatchRecord>(i));
    const last = r.LastEvaluatedKey as { PK?: string; listSk?: string } | undefined;
    if (!last?.PK || !last.listSk) return { items };
    return { items, cursor: encodeCursor({ b: last.PK.slice(2), s: last.listSk }) };
  }

  async listBatchFiles(
    batchId: string,
    q: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: TransferRecord[]; cursor?: string }> {
    let start: Record<string, unknown> | undefined;
    if (q.cursor) {
      // A path may be 4,096 characters: the cursor names the last transfer, whose path is read back.
      const { t } = decodeCursor(q.cursor, ["t"]);
      if (!/^tr_[0-9a-z]{26}$/.test(t as string)) throw invalidCursor();
      const last = await this.run(() =>
        this.doc.send(new GetCommand({ TableName: this.table, Key: { PK: tPk(t as string), SK: META } })),
      );
      const item = last.Item as { batchPk?: string; batchSk?: string } | undefined;
      if (item?.batchPk !== bPk(batchId) || item.batchSk === undefined) throw invalidCursor();
      start = { PK: tPk(t as string), SK: META, batchPk: item.batchPk, batchSk: item.batchSk };
    }
    const input: QueryCommandInput = {
      TableName: this.table,
      IndexName: INDEX_BY_BATCH,
      KeyConditionExpression: "batchPk = :pk",
      ExpressionAttributeValues: { ":pk": bPk(batchId) },
      Limit: q.limit,
      ExclusiveStartKey: start,
    };
    const r = await this.run(() => this.doc.send(new QueryCommand(input)));
    const items = (r.Items ?? []).map((i) => strip<TransferRecord>(i));
    const last = r.LastEvaluatedKey as { PK?: string } | undefined;
    if (!last?.PK) return { items };
    return { items, cursor: encodeCursor({ t: last.PK.slice(2) }) };
  }

  async listedAtPath(batchId: string, path: string): Promise<TransferRecord[]> {
    const r = await this.run(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: INDEX_BY_BATCH,
          KeyConditionExpression: "batchPk = :pk AND batchSk = :sk",
          ExpressionAttributeValues: { ":pk": bPk(batchId), ":sk": batchSortKey(path) },
        }),
      ),
    );
    // A long path's sort key is cut short: others may share it.
    return (r.Items ?? []).map((i) => strip<TransferRecord>(i)).filter((t) => t.path === path);
  }

  async detachFromBatch(transferId: string, now: string): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand(detachCommand(this.table, transferId, now)));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      return dbError(err);
    }
  }

  async addToBatch(id: string, counts: BatchCounts, now: string): Promise<BatchRecord | undefined> {
    let b: BatchRecord;
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: bPk(id), SK: META },
          UpdateExpression: "SET updatedAt = :now ADD filesComplete :fc, bytesComplete :bc, filesFailed :ff",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: {
            ":now": now,
            ":fc": counts.filesComplete ?? 0,
            ":bc": counts.bytesComplete ?? 0,
            ":ff": counts.filesFailed ?? 0,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      b = strip<BatchRecord>(r.Attributes as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      return dbError(err);
    }
    if (b.status === "open" && b.filesComplete >= b.fileCount)
      return (await this.setBatchStatus(id, ["open"], "complete", now)) ?? (await this.getBatch(id));
    return b;
  }

  async setBatchStatus(
    id: string,
    from: readonly BatchStatus[],
    to: BatchStatus,
    now: string,
  ): Promise<BatchRecord | undefined> {
    const values: Record<string, unknown> = { ":to": to, ":pk": batchStatusPk(to), ":now": now };
    from.forEach((f, i) => {
      values[`:f${i}`] = f;
    });
    const sets = ["#status = :to", "statusPk = :pk", "updatedAt = :now"];
    if (to === "complete") sets.push("completedAt = :now");
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: bPk(id), SK: META },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: `#status IN (${from.map((_, i) => `:f${i}`).join(", ")})`,
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return strip<BatchRecord>(r.Attributes as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      return dbError(err);
    }
  }
}
