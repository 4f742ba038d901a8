/**
 * The storage probe's kept results (core/probe-results.ts) in the coordinator's table:
 *   PROBE#<configKey> / PROBE   { probe (the StorageProbe), config (what it was run against), keptAt }
 * One item per configuration; put-if-absent so concurrent cold starts keep one result. Lifecycle: one per
 * coordinator, over the process's DynamoDB document client.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { StorageProbe } from "../contract/storage.js";
import type { ProbeConfiguration, ProbeResults } from "../core/probe-results.js";
import { dbError } from "./dynamo-items.js";

const keyOf = (configKey: string) => ({ PK: `PROBE#${configKey}`, SK: "PROBE" });

export class DynamoProbeResults implements ProbeResults {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(configKey: string): Promise<StorageProbe | undefined> {
    const r = await this.doc
      .send(new GetCommand({ TableName: this.table, Key: keyOf(configKey), ConsistentRead: true }))
      .catch(dbError);
    // An item this version cannot read is no result: the probe runs again and replaces it.
    const parsed = StorageProbe.safeParse(r.Item?.probe);
    return parsed.success ? parsed.data : undefined;
  }

  async putIfAbsent(
    configKey: string,
    probe: StorageProbe,
    config: ProbeConfiguration,
  ): Promise<StorageProbe> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keyOf(configKey), probe, config, keptAt: new Date().toISOString() },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
      return probe;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) return dbError(err);
      return (await this.get(configKey)) ?? probe;
    }
  }

  async put(configKey: string, probe: StorageProbe, config: ProbeConfiguration): Promise<void> {
    await this.doc
      .send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keyOf(configKey), probe, config, keptAt: new Date().toISOString() },
        }),
      )
      .catch(dbError);
  }
}
