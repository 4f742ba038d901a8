/**
 * Makes the emulators ready for the coordinator: the bucket (with CORS so the dashboard and browsers can
 * PUT parts and read ETag and checksum headers), the table, and one development API key.
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
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
            ExposeHeaders: ["ETag", "x-amz-checksum-sha256", "x-amz-request-id"],
            MaxAgeSeconds: 3600,
          },
        ],
      },
    }),
  );
}

export async function ensureTable(ddb: DynamoDBClient, table: string): Promise<void> {
  try {
    await ddb.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (err) {
    if (!(err instanceof Error && err.name === "ResourceNotFoundException")) throw err;
  }
  await ddb.send(new CreateTableCommand(tableDefinition(table)));
  for (let i = 0; i < 50; i++) {
    const d = await ddb.send(new DescribeTableCommand({ TableName: table }));
    if (d.Table?.TableStatus === "ACTIVE") return;
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
