/**
 * The single DynamoDB table's shape, used by the local stack to create it and by infra/ to declare it.
 *   T#<id> / META          a transfer            (listPk, listSk → index byCreated; statusPk → byStatus;
 *                                                  openKey while uploading → sparse index open)
 *   T#<id> / P#<00001>     a recorded part
 *   SHA#<sha256>#<size> / OBJ   the stored object for whole-file dedupe
 *   KEY#<sha256(token)> / KEY   an API key (only the token's hash is stored)
 *   S#<sha256(token)> / SHARE   a share link (only the token's hash is stored), with its download counter
 *   T#<id> / SH#<shareId>  pointer from a file to its share links
 *   STATS / TOTALS         advisory counters for /api/stats
 *   B#<bt> / META          a batch (listPk "BATCHES", listSk → byCreated; statusPk "BATCH#<status>" → byStatus)
 *   BD#<digest> / BATCH    the batch holding a manifest digest (put-if-absent: one batch per manifest)
 *   T#<bt> / SH#<shareId>  pointer from a batch to its share links (the share's fileId is the bt_ id)
 *   PROBE#<configKey> / PROBE   the storage probe's result for one configuration (dynamo-probe-results.ts)
 * A transfer of a batch also carries batchPk "B#<bt>" and batchSk (its path) → sparse index byBatch,
 * which lists a batch's files by path.
 */
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

export const INDEX_BY_CREATED = "byCreated";
export const INDEX_BY_STATUS = "byStatus";
export const INDEX_OPEN = "open";
export const INDEX_BY_BATCH = "byBatch";

export function tableDefinition(tableName: string): CreateTableCommandInput {
  const all = { ProjectionType: "ALL" as const };
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "PK", AttributeType: "S" },
      { AttributeName: "SK", AttributeType: "S" },
      { AttributeName: "listPk", AttributeType: "S" },
      { AttributeName: "listSk", AttributeType: "S" },
      { AttributeName: "statusPk", AttributeType: "S" },
      { AttributeName: "openKey", AttributeType: "S" },
      { AttributeName: "batchPk", AttributeType: "S" },
      { AttributeName: "batchSk", AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: "PK", KeyType: "HASH" },
      { AttributeName: "SK", KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: INDEX_BY_CREATED,
        KeySchema: [
          { AttributeName: "listPk", KeyType: "HASH" },
          { AttributeName: "listSk", KeyType: "RANGE" },
        ],
        Projection: all,
      },
      {
        IndexName: INDEX_BY_STATUS,
        KeySchema: [
          { AttributeName: "statusPk", KeyType: "HASH" },
          { AttributeName: "listSk", KeyType: "RANGE" },
        ],
        Projection: all,
      },
      {
        IndexName: INDEX_OPEN,
        KeySchema: [
          { AttributeName: "openKey", KeyType: "HASH" },
          { AttributeName: "listSk", KeyType: "RANGE" },
        ],
        Projection: all,
      },
      {
        IndexName: INDEX_BY_BATCH,
        KeySchema: [
          { AttributeName: "batchPk", KeyType: "HASH" },
          { AttributeName: "batchSk", KeyType: "RANGE" },
        ],
        Projection: all,
      },
    ],
  };
}

/** DynamoDB refuses an item whose index sort key is over 1,024 bytes. */
const MAX_INDEX_SORT_KEY_BYTES = 1024;

/**
 * A file's sort key in index byBatch: its path, cut to 1,024 UTF-8 bytes at a character boundary (paths
 * may be 4,096 characters; the full path stays in `path`). Paths that share their first 1,024 bytes
 * sort among themselves in no particular order.
 */
export function batchSortKey(path: string): string {
  if (Buffer.byteLength(path, "utf8") <= MAX_INDEX_SORT_KEY_BYTES) return path;
  let bytes = 0;
  let end = 0;
  for (const ch of path) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > MAX_INDEX_SORT_KEY_BYTES) break;
    bytes += n;
    end += ch.length;
  }
  return path.slice(0, end);
}

/** Attribute DynamoDB's TTL deletes items by (epoch seconds). */
export const TTL_ATTRIBUTE = "ttl";
