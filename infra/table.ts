/**
 * The table, declared from the one definition the local stack creates (functions/adapters/dynamo-table.ts):
 * the same keys and GSIs, on-demand, TTL on `ttl`. Point-in-time recovery and deletion protection in
 * production. The functions see it through the link `Database` ({ name }); rights are granted in api.ts
 * and janitor.ts.
 */
import { TTL_ATTRIBUTE, tableDefinition } from "../functions/adapters/dynamo-table.js";
import { LINKS } from "../functions/api/sst-links.js";
import type { Settings } from "./stage.js";

type KeySchema = { AttributeName?: string | undefined; KeyType?: string | undefined }[] | undefined;

function key(schema: KeySchema, type: "HASH" | "RANGE"): string | undefined {
  return schema?.find((k) => k.KeyType === type)?.AttributeName;
}

function hashKey(schema: KeySchema, what: string): string {
  const name = key(schema, "HASH");
  if (!name) throw new Error(`dynamo-table.ts: ${what} has no hash key`);
  return name;
}

const FIELD_TYPES = { S: "string", N: "number", B: "binary" } as const;

export function tableArgs(s: Pick<Settings, "production">): sst.aws.DynamoArgs {
  const def = tableDefinition("unused");
  const rangeKey = key(def.KeySchema, "RANGE");
  const globalIndexes: Record<
    string,
    { hashKey: string; rangeKey?: string; projection: "all" | "keys-only" }
  > = {};
  for (const gsi of def.GlobalSecondaryIndexes ?? []) {
    if (!gsi.IndexName) continue;
    const range = key(gsi.KeySchema, "RANGE");
    globalIndexes[gsi.IndexName] = {
      hashKey: hashKey(gsi.KeySchema, gsi.IndexName),
      ...(range !== undefined && { rangeKey: range }),
      projection: gsi.Projection?.ProjectionType === "KEYS_ONLY" ? "keys-only" : "all",
    };
  }
  return {
    fields: Object.fromEntries(
      (def.AttributeDefinitions ?? []).map((a) => [
        a.AttributeName ?? "",
        FIELD_TYPES[a.AttributeType ?? "S"],
      ]),
    ),
    primaryIndex: {
      hashKey: hashKey(def.KeySchema, "the table"),
      ...(rangeKey !== undefined && { rangeKey }),
    },
    globalIndexes,
    ttl: TTL_ATTRIBUTE,
    deletionProtection: s.production,
    transform: {
      // SST turns point-in-time recovery on for every stage; it is billed per GB, so only production keeps it.
      table: { billingMode: "PAY_PER_REQUEST", pointInTimeRecovery: { enabled: s.production } },
    },
  };
}

export function table(s: Pick<Settings, "production">) {
  const transfers = new sst.aws.Dynamo("Transfers", tableArgs(s));
  const link = new sst.Linkable(LINKS.table, { properties: { name: transfers.name } });
  return {
    table: transfers,
    link,
    /** ARNs for IAM statements: the table, and its indexes (queries on a GSI name the index). */
    arns: { table: transfers.arn, indexes: $interpolate`${transfers.arn}/index/*` },
  };
}

export type Table = ReturnType<typeof table>;
