/**
 * TransferRepo on one DynamoDB table (layout in dynamo-table.ts).
 * Lifecycle: built once per process around an injected DynamoDBDocumentClient; holds no other state.
 * Part records and the transfer's counters change together in one transaction, so counters stay exact
 * under any number of parallel calls; transaction conflicts are retried here. SDK failures become AppErrors.
 */
import { randomInt } from "node:crypto";
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { MAX_PARTS, MIN_PART_NUMBER } from "../contract/limits.js";
import { PRIORITIES, type Priority, TRANSFER_STATUSES, type TransferStatus } from "../contract/schemas.js";
import { AppError } from "../core/errors.js";
import { RECORD_TRANSACTION_PARTS } from "../core/part-math.js";
import type {
  ApiKeyRecord,
  ClientMetrics,
  CountDownloadOutcome,
  ListTransfersQuery,
  PartRecord,
  RecordPartOutcome,
  RecordPartsOutcome,
  ShareRecord,
  StatsCounters,
  StatsDelta,
  StoredObjectRecord,
  TransferRecord,
  TransferRepo,
} from "../core/ports.js";
import { CONTENT_PENDING } from "../core/ports.js";
import { dbError, detachCommand, sleep, strip } from "./dynamo-items.js";
import { batchSortKey, INDEX_BY_CREATED, INDEX_BY_STATUS, INDEX_OPEN } from "./dynamo-table.js";

const tPk = (id: string) => `T#${id}`;
const META = "META";
const partSk = (n: number) => `P#${String(n).padStart(5, "0")}`;
const shaPk = (sha256: string, size: number) => `SHA#${sha256}#${size}`;
/**
 * Stats live in STATS_SHARDS items (PK STATS, SK TOTALS#<n>), each update going to a random one, so no
 * single item takes every transfer's writes; reads sum every item under PK STATS, the legacy TOTALS too.
 */
export const STATS_SHARDS = 16;
const STATS_PK = "STATS";
const statsShardKey = () => ({ PK: STATS_PK, SK: `TOTALS#${randomInt(STATS_SHARDS)}` });

/**
 * A transfer's META item: the one shape every writer of transfers uses (this repo, the batch repo's
 * bulk writes). Files of a batch also feed the sparse index byBatch (batchPk, batchSk = path).
 */
export function transferItem(t: TransferRecord): Record<string, unknown> {
  return {
    ...t,
    PK: tPk(t.id),
    SK: META,
    type: "transfer",
    listPk: "FILES",
    listSk: `${t.createdAt}#${t.id}`,
    statusPk: `STATUS#${t.status}`,
    // Content pending: no content lookup may find it until it is named.
    ...(t.status === "uploading" && t.sha256 !== CONTENT_PENDING && { openKey: shaPk(t.sha256, t.size) }),
    ...(t.batchId !== undefined &&
      t.path !== undefined && {
        batchPk: `B#${t.batchId}`,
        batchSk: batchSortKey(t.path),
      }),
  };
}

function reasons(err: unknown): { Code?: string | undefined; Item?: Record<string, unknown> | undefined }[] {
  return err instanceof TransactionCanceledException
    ? ((err.CancellationReasons ?? []) as { Code?: string; Item?: Record<string, unknown> }[])
    : [];
}

export interface CursorCodec {
  encode(index: string, key: Record<string, unknown>): string;
  decode(index: string, cursor: string): Record<string, unknown>;
}

/** Cursors are opaque to clients: the index they belong to plus DynamoDB's LastEvaluatedKey, base64url JSON. */
const cursors: CursorCodec = {
  encode: (index, key) => Buffer.from(JSON.stringify({ i: index, k: key })).toString("base64url"),
  decode: (index, cursor) => {
    try {
      const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as {
        i?: unknown;
        k?: unknown;
      };
      const k = parsed.k as Record<string, unknown> | undefined;
      if (parsed.i !== index || !k || typeof k !== "object" || Array.isArray(k)) throw new Error("shape");
      const entries = Object.entries(k);
      if (
        entries.length === 0 ||
        entries.length > 6 ||
        entries.some(([, v]) => typeof v !== "string" || v.length > 300)
      )
        throw new Error("shape");
      return k;
    } catch {
      throw new AppError(
        "INVALID_CURSOR",
        "The paging cursor is not valid for this listing; start again without it.",
      );
    }
  },
};

export class DynamoTransferRepo implements TransferRepo {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return dbError(err);
    }
  }

  /** Runs a transaction, retrying when DynamoDB cancels it for a conflict with a concurrent one. */
  private async transact(
    items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]>,
  ) {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (err) {
        const conflict =
          reasons(err).some((r) => r.Code === "TransactionConflict") ||
          (err instanceof Error && err.name === "TransactionConflictException");
        if (!conflict || attempt >= 12) throw err;
        await sleep(Math.random() * Math.min(1000, 10 * 2 ** attempt));
      }
    }
  }

  async createTransfer(t: TransferRecord): Promise<void> {
    await this.run(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: transferItem(t),
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      ),
    );
  }

  async getTransfer(id: string): Promise<TransferRecord | undefined> {
    const r = await this.run(() =>
      this.doc.send(
        new GetCommand({ TableName: this.table, Key: { PK: tPk(id), SK: META }, ConsistentRead: true }),
      ),
    );
    return r.Item ? strip<TransferRecord>(r.Item) : undefined;
  }

  async transition(
    id: string,
    from: readonly TransferStatus[],
    to: TransferStatus,
    patch: Partial<TransferRecord>,
    now: string,
  ): Promise<TransferRecord | undefined> {
    const names: Record<string, string> = {
      "#status": "status",
      "#updatedAt": "updatedAt",
      "#statusPk": "statusPk",
    };
    const values: Record<string, unknown> = { ":to": to, ":now": now, ":statusPk": `STATUS#${to}` };
    const sets = ["#status = :to", "#updatedAt = :now", "#statusPk = :statusPk"];
    Object.entries(patch).forEach(([k, v], i) => {
      if (v === undefined) return;
      names[`#p${i}`] = k;
      values[`:p${i}`] = v;
      sets.push(`#p${i} = :p${i}`);
    });
    const fromKeys = from.map((_, i) => `:f${i}`);
    from.forEach((f, i) => {
      values[`:f${i}`] = f;
    });
    let update = `SET ${sets.join(", ")}`;
    if (to !== "uploading") {
      names["#openKey"] = "openKey";
      update += " REMOVE #openKey";
    }
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: tPk(id), SK: META },
          UpdateExpression: update,
          ConditionExpression: `#status IN (${fromKeys.join(", ")})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      const item = r.Attributes as Record<string, unknown>;
      if (to === "uploading" && !item.openKey && item.sha256 !== CONTENT_PENDING) {
        const t = strip<TransferRecord>(item);
        await this.run(() =>
          this.doc.send(
            new UpdateCommand({
              TableName: this.table,
              Key: { PK: tPk(id), SK: META },
              UpdateExpression: "SET openKey = :k",
              ExpressionAttributeValues: { ":k": shaPk(t.sha256, t.size) },
            }),
          ),
        );
      }
      return strip<TransferRecord>(item);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      return dbError(err);
    }
  }

  async recordPart(
    id: string,
    part: PartRecord,
    metrics: ClientMetrics | undefined,
    now: string,
  ): Promise<RecordPartOutcome> {
    const names: Record<string, string> = { "#status": "status", "#updatedAt": "updatedAt" };
    const values: Record<string, unknown> = {
      ":one": 1,
      ":size": part.size,
      ":now": now,
      ":uploading": "uploading",
    };
    const sets = ["#updatedAt = :now"];
    for (const k of ["retries", "speedBps", "lastError"] as const) {
      const v = metrics?.[k];
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    try {
      await this.transact([
        {
          Put: {
            TableName: this.table,
            Item: { PK: tPk(id), SK: partSk(part.partNumber), type: "part", ...part },
            ConditionExpression: "attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          },
        },
        {
          Update: {
            TableName: this.table,
            Key: { PK: tPk(id), SK: META },
            UpdateExpression: `SET ${sets.join(", ")} ADD partsDone :one, bytesDone :size`,
            ConditionExpression: "#status = :uploading",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
        },
      ]);
    } catch (err) {
      const [partReason, metaReason] = reasons(err);
      if (partReason?.Code === "ConditionalCheckFailed" && partReason.Item)
        return { outcome: "existing", existing: strip<PartRecord>(unmarshall(partReason.Item as never)) };
      if (metaReason?.Code === "ConditionalCheckFailed") return { outcome: "not-uploading" };
      return dbError(err);
    }
    const t = await this.getTransfer(id);
    return { outcome: "new", partsDone: t?.partsDone ?? 0, bytesDone: t?.bytesDone ?? 0 };
  }

  async recordParts(
    id: string,
    parts: readonly PartRecord[],
    metrics: ClientMetrics | undefined,
    now: string,
  ): Promise<RecordPartsOutcome> {
    if (parts.length === 0) return { outcome: "new" };
    if (parts.length > RECORD_TRANSACTION_PARTS)
      throw new AppError("INTERNAL", `recordParts takes at most ${RECORD_TRANSACTION_PARTS} parts at once.`);
    const names: Record<string, string> = { "#status": "status", "#updatedAt": "updatedAt" };
    const values: Record<string, unknown> = {
      ":count": parts.length,
      ":bytes": parts.reduce((a, p) => a + p.size, 0),
      ":now": now,
      ":uploading": "uploading",
    };
    const sets = ["#updatedAt = :now"];
    for (const k of ["retries", "speedBps", "lastError"] as const) {
      const v = metrics?.[k];
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    try {
      await this.transact([
        ...parts.map((part) => ({
          Put: {
            TableName: this.table,
            Item: { PK: tPk(id), SK: partSk(part.partNumber), type: "part", ...part },
            ConditionExpression: "attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
          },
        })),
        {
          Update: {
            TableName: this.table,
            Key: { PK: tPk(id), SK: META },
            UpdateExpression: `SET ${sets.join(", ")} ADD partsDone :count, bytesDone :bytes`,
            ConditionExpression: "#status = :uploading",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
        },
      ]);
      return { outcome: "new" };
    } catch (err) {
      const rs = reasons(err);
      if (rs.length === 0) return dbError(err);
      const existing: PartRecord[] = [];
      rs.slice(0, parts.length).forEach((r) => {
        if (r.Code === "ConditionalCheckFailed" && r.Item)
          existing.push(strip<PartRecord>(unmarshall(r.Item as never)));
      });
      if (existing.length) return { outcome: "existing", existing };
      if (rs[parts.length]?.Code === "ConditionalCheckFailed") return { outcome: "not-uploading" };
      return dbError(err);
    }
  }

  async nameContent(
    id: string,
    sha256: string,
    size: number,
    now: string,
  ): Promise<TransferRecord | undefined> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: tPk(id), SK: META },
          UpdateExpression: "SET sha256 = :sha, openKey = :k, #updatedAt = :now",
          ConditionExpression: "#status = :uploading AND (sha256 = :pending OR sha256 = :sha)",
          ExpressionAttributeNames: { "#status": "status", "#updatedAt": "updatedAt" },
          ExpressionAttributeValues: {
            ":sha": sha256,
            ":pending": CONTENT_PENDING,
            ":uploading": "uploading",
            ":now": now,
            ":k": shaPk(sha256, size),
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return strip<TransferRecord>(r.Attributes as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      return dbError(err);
    }
  }

  async detachFromBatch(id: string, now: string): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand(detachCommand(this.table, id, now)));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      return dbError(err);
    }
  }

  async dropParts(id: string): Promise<void> {
    for (const p of await this.listParts(id))
      await this.run(() =>
        this.doc.send(
          new DeleteCommand({ TableName: this.table, Key: { PK: tPk(id), SK: partSk(p.partNumber) } }),
        ),
      );
  }

  async adoptIntoBatch(
    id: string,
    batchId: string,
    path: string,
    now: string,
  ): Promise<TransferRecord | undefined> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: tPk(id), SK: META },
          UpdateExpression:
            "SET batchId = :b, #path = :p, batchPk = :bpk, batchSk = :bsk, #upload = :multipart, #updatedAt = :now",
          ConditionExpression: "#status = :uploading AND attribute_not_exists(batchId)",
          ExpressionAttributeNames: {
            "#path": "path",
            "#upload": "upload",
            "#status": "status",
            "#updatedAt": "updatedAt",
          },
          ExpressionAttributeValues: {
            ":b": batchId,
            ":p": path,
            ":bpk": `B#${batchId}`,
            ":bsk": batchSortKey(path),
            ":multipart": "multipart",
            ":uploading": "uploading",
            ":now": now,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return strip<TransferRecord>(r.Attributes as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      return dbError(err);
    }
  }

  async replacePart(id: string, old: PartRecord, next: PartRecord, now: string): Promise<boolean> {
    try {
      await this.transact([
        {
          Put: {
            TableName: this.table,
            Item: { PK: tPk(id), SK: partSk(next.partNumber), type: "part", ...next },
            ConditionExpression: "sha256 = :oldSha AND #size = :oldSize AND #offset = :oldOffset",
            ExpressionAttributeNames: { "#size": "size", "#offset": "offset" },
            ExpressionAttributeValues: {
              ":oldSha": old.sha256,
              ":oldSize": old.size,
              ":oldOffset": old.offset,
            },
          },
        },
        {
          Update: {
            TableName: this.table,
            Key: { PK: tPk(id), SK: META },
            UpdateExpression: "SET #updatedAt = :now ADD bytesDone :delta",
            ConditionExpression: "#status = :uploading",
            ExpressionAttributeNames: { "#status": "status", "#updatedAt": "updatedAt" },
            ExpressionAttributeValues: {
              ":now": now,
              ":delta": next.size - old.size,
              ":uploading": "uploading",
            },
          },
        },
      ]);
      return true;
    } catch (err) {
      if (reasons(err).some((r) => r.Code === "ConditionalCheckFailed")) return false;
      return dbError(err);
    }
  }

  async forgetParts(id: string, parts: readonly PartRecord[], now: string): Promise<void> {
    for (const p of parts) {
      try {
        await this.transact([
          {
            Delete: {
              TableName: this.table,
              Key: { PK: tPk(id), SK: partSk(p.partNumber) },
              ConditionExpression: "sha256 = :sha",
              ExpressionAttributeValues: { ":sha": p.sha256 },
            },
          },
          {
            Update: {
              TableName: this.table,
              Key: { PK: tPk(id), SK: META },
              UpdateExpression: "SET #updatedAt = :now ADD partsDone :minusOne, bytesDone :minusSize",
              ExpressionAttributeNames: { "#updatedAt": "updatedAt" },
              ExpressionAttributeValues: { ":now": now, ":minusOne": -1, ":minusSize": -p.size },
            },
          },
        ]);
      } catch (err) {
        if (reasons(err).some((r) => r.Code === "ConditionalCheckFailed")) continue; // already forgotten
        dbError(err);
      }
    }
  }

  async listParts(id: string): Promise<PartRecord[]> {
    return this.queryAll<PartRecord>({
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
      ExpressionAttributeValues: { ":pk": tPk(id), ":p": "P#" },
      ConsistentRead: true,
    });
  }

  async partNeighbours(id: string, partNumber: number): Promise<PartRecord[]> {
    const nearest = async (from: number, to: number, forward: boolean) => {
      if (from > to) return [];
      const r = await this.doc
        .send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: "PK = :pk AND SK BETWEEN :from AND :to",
            ExpressionAttributeValues: { ":pk": tPk(id), ":from": partSk(from), ":to": partSk(to) },
            ScanIndexForward: forward,
            Limit: 1,
            ConsistentRead: true,
          }),
        )
        .catch(dbError);
      return (r.Items ?? []) as PartRecord[];
    };
    const [below, above] = await Promise.all([
      nearest(MIN_PART_NUMBER, partNumber - 1, false),
      nearest(partNumber + 1, MAX_PARTS, true),
    ]);
    return [...below, ...above];
  }

  /** Every item a query matches, following LastEvaluatedKey page by page. */
  private async queryAll<T>(input: Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey">): Promise<T[]> {
    const out: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.run(() =>
        this.doc.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: start })),
      );
      for (const item of r.Items ?? []) out.push(strip<T>(item));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async findStoredObject(sha256: string, size: number): Promise<StoredObjectRecord | undefined> {
    const r = await this.run(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { PK: shaPk(sha256, size), SK: "OBJ" } })),
    );
    return r.Item ? strip<StoredObjectRecord>(r.Item) : undefined;
  }

  async putStoredObject(obj: StoredObjectRecord): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { PK: shaPk(obj.sha256, obj.size), SK: "OBJ", type: "object", ...obj },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return;
      dbError(err);
    }
  }

  async findOpenTransfers(sha256: string, size: number): Promise<TransferRecord[]> {
    const r = await this.run(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: INDEX_OPEN,
          KeyConditionExpression: "openKey = :k",
          ExpressionAttributeValues: { ":k": shaPk(sha256, size) },
          ScanIndexForward: false,
        }),
      ),
    );
    return (r.Items ?? []).map((i) => strip<TransferRecord>(i)).filter((t) => t.status === "uploading");
  }

  async listTransfers(q: ListTransfersQuery): Promise<{ items: TransferRecord[]; cursor?: string }> {
    const index = q.status ? INDEX_BY_STATUS : INDEX_BY_CREATED;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    let keyCondition: string;
    if (q.status) {
      keyCondition = "statusPk = :pk";
      values[":pk"] = `STATUS#${q.status}`;
    } else {
      keyCondition = "listPk = :pk";
      values[":pk"] = "FILES";
    }
    const filters: string[] = [];
    if (q.priority) {
      names["#priority"] = "priority";
      values[":priority"] = q.priority;
      filters.push("#priority = :priority");
    }
    if (q.sha256) {
      values[":sha"] = q.sha256;
      filters.push("sha256 = :sha");
    }
    if (q.size !== undefined) {
      names["#size"] = "size";
      values[":size"] = q.size;
      filters.push("#size = :size");
    }
    let start = q.cursor ? cursors.decode(index, q.cursor) : undefined;
    const items: TransferRecord[] = [];
    // Limit caps the items DynamoDB evaluates, so asking only for what is still wanted never overshoots
    // and LastEvaluatedKey stays an exact resume point even with filters.
    for (let round = 0; round < 25 && items.length < q.limit; round++) {
      const input: QueryCommandInput = {
        TableName: this.table,
        IndexName: index,
        KeyConditionExpression: keyCondition,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        Limit: q.limit - items.length,
        ExclusiveStartKey: start,
      };
      if (filters.length) input.FilterExpression = filters.join(" AND ");
      if (Object.keys(names).length) input.ExpressionAttributeNames = names;
      const r = await this.run(() => this.doc.send(new QueryCommand(input)));
      for (const item of r.Items ?? []) items.push(strip<TransferRecord>(item));
      start = r.LastEvaluatedKey;
      if (!start) break;
    }
    return start ? { items, cursor: cursors.encode(index, start) } : { items };
  }

  async addStats(delta: StatsDelta): Promise<void> {
    const adds: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, number> = {};
    const add = (attr: string, v: number | undefined) => {
      if (!v) return;
      const i = adds.length;
      names[`#a${i}`] = attr;
      values[`:a${i}`] = v;
      adds.push(`#a${i} :a${i}`);
    };
    for (const [s, v] of Object.entries(delta.status ?? {})) add(`s_${s}`, v);
    for (const [p, v] of Object.entries(delta.priority ?? {})) add(`p_${p}`, v);
    add("bytesStored", delta.bytesStored);
    add("bytesReceived", delta.bytesReceived);
    add("bytesDeduplicated", delta.bytesDeduplicated);
    add("dedupeHits", delta.dedupeHits);
    add("uploadedBytes", delta.uploadedBytes);
    add("uploadMillis", delta.uploadMillis);
    if (adds.length === 0) return;
    await this.run(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: statsShardKey(),
          UpdateExpression: `ADD ${adds.join(", ")}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async getStats(): Promise<StatsCounters> {
    // Every shard and the legacy TOTALS item: at most STATS_SHARDS + 1 small items, one page.
    const items = await this.queryAll<Record<string, unknown>>({
      KeyConditionExpression: "PK = :pk",
      ExpressionAttributeValues: { ":pk": STATS_PK },
      ConsistentRead: true,
    });
    const sum = (k: string) =>
      items.reduce((a, i) => a + (typeof i[k] === "number" ? (i[k] as number) : 0), 0);
    const n = (k: string) => Math.max(0, sum(k));
    return {
      byStatus: Object.fromEntries(TRANSFER_STATUSES.map((s) => [s, n(`s_${s}`)])) as Record<
        TransferStatus,
        number
      >,
      byPriority: Object.fromEntries(PRIORITIES.map((p) => [p, n(`p_${p}`)])) as Record<Priority, number>,
      bytesStored: n("bytesStored"),
      bytesReceived: n("bytesReceived"),
      bytesDeduplicated: n("bytesDeduplicated"),
      dedupeHits: n("dedupeHits"),
      uploadedBytes: n("uploadedBytes"),
      uploadMillis: n("uploadMillis"),
    };
  }

  async createShare(share: ShareRecord): Promise<void> {
    const ttl = Math.floor(Date.parse(share.expiresAt) / 1000) + 7 * 24 * 3600;
    await this.run(() =>
      this.transact([
        {
          Put: {
            TableName: this.table,
            Item: { PK: `S#${share.tokenHash}`, SK: "SHARE", type: "share", ttl, ...share },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: {
              PK: tPk(share.fileId),
              SK: `SH#${share.shareId}`,
              type: "share-ref",
              tokenHash: share.tokenHash,
              ttl,
            },
          },
        },
      ]),
    );
  }

  async getShare(tokenHash: string): Promise<ShareRecord | undefined> {
    const r = await this.run(() =>
      this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { PK: `S#${tokenHash}`, SK: "SHARE" },
          ConsistentRead: true,
        }),
      ),
    );
    return r.Item ? strip<ShareRecord>(r.Item) : undefined;
  }

  async countShareDownload(tokenHash: string, now: string): Promise<CountDownloadOutcome> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: `S#${tokenHash}`, SK: "SHARE" },
          UpdateExpression: "SET downloads = downloads + :one, lastDownloadAt = :now",
          ConditionExpression:
            "attribute_exists(PK) AND attribute_not_exists(revokedAt) AND expiresAt > :now AND " +
            "(attribute_not_exists(maxDownloads) OR downloads < maxDownloads)",
          ExpressionAttributeValues: { ":one": 1, ":now": now },
        }),
      );
      return "counted";
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return "refused";
      return dbError(err);
    }
  }

  async listShares(fileId: string): Promise<ShareRecord[]> {
    const refs = await this.run(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
          ExpressionAttributeValues: { ":pk": tPk(fileId), ":p": "SH#" },
        }),
      ),
    );
    const shares = await Promise.all(
      (refs.Items ?? []).map((i) => this.getShare(String((i as { tokenHash: string }).tokenHash))),
    );
    return shares.filter((s): s is ShareRecord => s !== undefined);
  }

  async revokeShare(tokenHash: string, now: string): Promise<ShareRecord | undefined> {
    return this.markRevoked<ShareRecord>({ PK: `S#${tokenHash}`, SK: "SHARE" }, now);
  }

  /** Sets revokedAt once (the first time wins) on an existing item; undefined if there is none. */
  private async markRevoked<T>(key: { PK: string; SK: string }, now: string): Promise<T | undefined> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: "SET revokedAt = if_not_exists(revokedAt, :now)",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":now": now },
          ReturnValues: "ALL_NEW",
        }),
      );
      return strip<T>(r.Attributes as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      return dbError(err);
    }
  }

  async shareTokenHash(fileId: string, shareId: string): Promise<string | undefined> {
    const r = await this.run(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { PK: tPk(fileId), SK: `SH#${shareId}` } })),
    );
    return r.Item ? String((r.Item as { tokenHash: string }).tokenHash) : undefined;
  }

  async getApiKey(tokenHash: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.run(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { PK: `KEY#${tokenHash}`, SK: "KEY" } })),
    );
    return r.Item ? strip<ApiKeyRecord>(r.Item) : undefined;
  }

  async ping(): Promise<void> {
    await this.run(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { PK: "HEALTH", SK: "HEALTH" } })),
    );
  }

  // ---- managed API keys: KEY#<hash>/KEY listed through index byCreated (listPk KEYS), KEYID#<id>/KEY → hash

  async createApiKey(tokenHash: string, key: ApiKeyRecord): Promise<boolean> {
    try {
      await this.transact([
        {
          Put: {
            TableName: this.table,
            Item: {
              ...key,
              PK: `KEY#${tokenHash}`,
              SK: "KEY",
              type: "key",
              listPk: "KEYS",
              listSk: `${key.createdAt}#${key.keyId}`,
            },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: { PK: `KEYID#${key.keyId}`, SK: "KEY", type: "key-ref", tokenHash },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
      ]);
      return true;
    } catch (err) {
      if (reasons(err).some((r) => r.Code === "ConditionalCheckFailed")) return false;
      return dbError(err);
    }
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.queryAll<ApiKeyRecord>({
      IndexName: INDEX_BY_CREATED,
      KeyConditionExpression: "listPk = :pk",
      ExpressionAttributeValues: { ":pk": "KEYS" },
      ScanIndexForward: false,
    });
  }

  async revokeApiKey(keyId: string, now: string): Promise<ApiKeyRecord | undefined> {
    const ref = await this.run(() =>
      this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { PK: `KEYID#${keyId}`, SK: "KEY" },
          ConsistentRead: true,
        }),
      ),
    );
    const tokenHash = (ref.Item as { tokenHash?: string } | undefined)?.tokenHash;
    if (!tokenHash) return undefined;
    return this.markRevoked<ApiKeyRecord>({ PK: `KEY#${tokenHash}`, SK: "KEY" }, now);
  }
}
