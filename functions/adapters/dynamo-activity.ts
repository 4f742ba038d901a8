/**
 * ActivityLog on the transfers table:
 *   T#<id> / E#<time>#<rand>        a transfer's timeline entry
 *   ERRORS / <time>#<rand>          recent failures across transfers (kept 7 days by TTL)
 *   SERIES / <yyyy-mm-ddThh:mm>     per-minute counters (kept 7 days by TTL)
 * Lifecycle: built once per process around the injected document client, like the transfer repo.
 */
import { randomBytes } from "node:crypto";
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { SeriesPoint, TransferEvent } from "../contract/monitor.js";
import { type ActivityLog, ERROR_KINDS, type SeriesDelta } from "../core/activity.js";

const WEEK_SECONDS = 7 * 24 * 3600;
const ttl = () => Math.floor(Date.now() / 1000) + WEEK_SECONDS;
const clean = (item: Record<string, unknown>): TransferEvent => {
  const { PK: _pk, SK: _sk, type: _t, ttl: _ttl, ...rest } = item;
  return rest as TransferEvent;
};

export class DynamoActivityLog implements ActivityLog {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async record(event: TransferEvent): Promise<void> {
    const sk = `${event.at}#${randomBytes(3).toString("hex")}`;
    const writes = [
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { PK: `T#${event.transferId}`, SK: `E#${sk}`, type: "event", ...event },
        }),
      ),
    ];
    if (ERROR_KINDS.has(event.kind))
      writes.push(
        this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { PK: "ERRORS", SK: sk, type: "error", ttl: ttl(), ...event },
          }),
        ),
      );
    await Promise.all(writes);
  }

  async timeline(transferId: string): Promise<TransferEvent[]> {
    const r = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :e)",
        ExpressionAttributeValues: { ":pk": `T#${transferId}`, ":e": "E#" },
        Limit: 500,
      }),
    );
    return (r.Items ?? []).map(clean);
  }

  async recentErrors(limit: number): Promise<TransferEvent[]> {
    const r = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "PK = :pk",
        ExpressionAttributeValues: { ":pk": "ERRORS" },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map(clean);
  }

  async addToMinute(minute: string, delta: SeriesDelta): Promise<void> {
    const entries = Object.entries(delta).filter(([, v]) => v);
    if (!entries.length) return;
    const names: Record<string, string> = { "#ttl": "ttl" };
    const values: Record<string, number> = { ":ttl": ttl() };
    entries.forEach(([k, v], i) => {
      names[`#a${i}`] = k;
      values[`:a${i}`] = v as number;
    });
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { PK: "SERIES", SK: minute },
        UpdateExpression: `SET #ttl = :ttl ADD ${entries.map((_, i) => `#a${i} :a${i}`).join(", ")}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async series(from: string, to: string): Promise<SeriesPoint[]> {
    const out: SeriesPoint[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "PK = :pk AND SK BETWEEN :from AND :to",
          ExpressionAttributeValues: { ":pk": "SERIES", ":from": from, ":to": to },
          ExclusiveStartKey: start,
        }),
      );
      for (const i of r.Items ?? [])
        out.push({
          minute: `${String(i.SK)}:00.000Z`,
          bytes: Number(i.bytes ?? 0),
          parts: Number(i.parts ?? 0),
          completed: Number(i.completed ?? 0),
          failed: Number(i.failed ?? 0),
        });
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
