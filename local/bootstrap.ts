/**
 * Makes the emulators ready for the coordinator: the bucket (with CORS so the dashboard and browsers can
 * PUT parts and read ETag and checksum headers), the table, and one development API key.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTableCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { tableDefinition } from "../functions/adapters/dynamo-table.js";
import { hashToken, newApiToken, newKeyId } from "../functions/core/ids.js";
import type { TransferRepo } from "../functions/core/ports.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function ensureBucket(
  s3: S3Client,
  bucket: string,
  allowedOrigins: readonly string[],
): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
  await s3.send(
    new PutBucketCorsCommand({
      Bucket: bucket,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedOrigins: [...allowedOrigins],
            AllowedMethods: ["GET", "PUT", "HEAD"],
            AllowedHeaders: ["*"],
            ExposeHeaders: ["ETag", "x-amz-checksum-sha256", "x-amz-request-id", "Retry-After"],
            MaxAgeSeconds: 3600,
          },
        ],
      },
    }),
  );
}

/**
 * Creates the table if missing; on a table made by an older version (an old `.sfts-local/`), adds the
 * indexes it lacks, one UpdateTable each (DynamoDB creates one GSI per call), waiting until each is active.
 */
export async function ensureTable(ddb: DynamoDBClient, table: string): Promise<void> {
  const def = tableDefinition(table);
  let existing: Awaited<ReturnType<typeof describe>> | undefined;
  try {
    existing = await describe(ddb, table);
  } catch (err) {
    if (!(err instanceof Error && err.name === "ResourceNotFoundException")) throw err;
  }
  if (!existing) {
    await ddb.send(new CreateTableCommand(def));
    await waitActive(ddb, table);
    return;
  }
  const have = new Set((existing.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
  for (const gsi of def.GlobalSecondaryIndexes ?? []) {
    if (!gsi.IndexName || have.has(gsi.IndexName) || !gsi.KeySchema || !gsi.Projection) continue;
    const used = new Set(gsi.KeySchema.map((k) => k.AttributeName));
    await ddb.send(
      new UpdateTableCommand({
        TableName: table,
        AttributeDefinitions: (def.AttributeDefinitions ?? []).filter((a) => used.has(a.AttributeName)),
        GlobalSecondaryIndexUpdates: [
          { Create: { IndexName: gsi.IndexName, KeySchema: gsi.KeySchema, Projection: gsi.Projection } },
        ],
      }),
    );
    await waitActive(ddb, table);
  }
}

async function describe(ddb: DynamoDBClient, table: string) {
  const d = await ddb.send(new DescribeTableCommand({ TableName: table }));
  if (!d.Table) throw Object.assign(new Error(`no table ${table}`), { name: "ResourceNotFoundException" });
  return d.Table;
}

/** The table and every index active (an index being built answers no queries yet). */
async function waitActive(ddb: DynamoDBClient, table: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const t = await describe(ddb, table);
    const building = (t.GlobalSecondaryIndexes ?? []).some((g) => g.IndexStatus !== "ACTIVE");
    if (t.TableStatus === "ACTIVE" && !building) return;
    await sleep(100);
  }
}

/** Returns a working development token: the one given if the table still knows it, else a new one. */
export async function ensureDevKey(repo: TransferRepo, existing: string | undefined): Promise<string> {
  if (existing) {
    const key = await repo.getApiKey(hashToken(existing));
    if (key && !key.revokedAt) return existing;
  }
  const token = newApiToken();
  // Admin, so the local developer can also manage keys (sfts keys …); listed and revocable like any key.
  await repo.createApiKey(hashToken(token), {
    keyId: newKeyId(),
    name: "local development",
    role: "admin",
    createdAt: new Date().toISOString(),
  });
  return token;
}
