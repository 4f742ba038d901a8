/**
 * An old local table (made before batches, without index byBatch) keeps working: ensureTable adds the
 * index it lacks and keeps every item, so an old `.sfts-local/` needs nothing done by hand.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, describe, expect, inject, it } from "vitest";
import { INDEX_BY_BATCH, tableDefinition } from "../../functions/adapters/dynamo-table.js";
import { ensureTable } from "../../local/bootstrap.js";

const stack = inject("stack");
const table = "sfts-test-old-table";
const ddb = new DynamoDBClient({
  endpoint: stack.dynamodbEndpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
});
afterAll(async () => {
  await ddb.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  ddb.destroy();
});

describe("ensureTable on a table made before batches", () => {
  it("adds index byBatch and keeps the items", async () => {
    const def = tableDefinition(table);
    const old = {
      ...def,
      AttributeDefinitions: def.AttributeDefinitions?.filter((a) => !a.AttributeName?.startsWith("batch")),
      GlobalSecondaryIndexes: def.GlobalSecondaryIndexes?.filter((g) => g.IndexName !== INDEX_BY_BATCH),
    };
    await ddb.send(new CreateTableCommand(old));
    const key = { PK: { S: "T#tr_old" }, SK: { S: "META" } };
    await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key, name: { S: "kept" } } }));
    const before = await ddb.send(new DescribeTableCommand({ TableName: table }));
    expect(before.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName)).not.toContain(INDEX_BY_BATCH);

    await ensureTable(ddb, table);
    const after = await ddb.send(new DescribeTableCommand({ TableName: table }));
    const byBatch = after.Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === INDEX_BY_BATCH);
    expect(byBatch?.IndexStatus).toBe("ACTIVE");
    expect(byBatch?.KeySchema).toEqual(
      def.GlobalSecondaryIndexes?.find((g) => g.IndexName === INDEX_BY_BATCH)?.KeySchema,
    );
    expect(after.Table?.GlobalSecondaryIndexes).toHaveLength(def.GlobalSecondaryIndexes?.length ?? 0);
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: key }))).Item?.name?.S).toBe("kept");

    // Run again: nothing left to add, nothing fails.
    await ensureTable(ddb, table);
  });
});
