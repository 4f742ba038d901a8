/**
 * Batches made straight through the API, as the CLI's sender makes them (POST /batch with the files →
 * PUT each presigned URL, or each part of a multipart file → POST /batch/{id}/complete, POST /assemble),
 * and a compromised table: a batch file's path rewritten in DynamoDB Local with the SDK (the API itself
 * refuses such paths), to show that receivers do not trust the server.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { manifestText } from "../../functions/contract/batches.js";
import { type Api, planParts, sha256 } from "./api.js";
import type { StackInfo } from "./stack.js";

export interface BatchFile {
  path: string;
  data: Buffer;
  /** Part sizes: sent as a multipart upload in these parts (default: one single PUT). */
  parts?: number[];
  /** Left unsent (the file stays uploading). */
  unsent?: boolean;
}

export interface MadeBatch {
  id: string;
  /** Transfer id by path. */
  ids: Map<string, string>;
}

export async function makeBatch(
  api: Api,
  name: string,
  files: BatchFile[],
  dirs: string[] = [],
): Promise<MadeBatch> {
  const entries = files.map((f) => ({
    path: f.path,
    size: f.data.length,
    sha256: sha256(f.data),
    ...(f.parts && { upload: "multipart", parts: planParts(f.data, f.parts) }),
  }));
  const created = await api.post("/batch", {
    name,
    digest: sha256(Buffer.from(manifestText(entries, dirs))),
    fileCount: files.length,
    totalBytes: files.reduce((n, f) => n + f.data.length, 0),
    priority: "normal",
    ...(dirs.length > 0 && { dirs }),
    files: entries,
  });
  if (created.status !== 200)
    throw new Error(`POST /batch: ${created.status} ${JSON.stringify(created.body)}`);
  const batchId = created.body.batchId as string;
  const answers = created.body.files as {
    action: string;
    path: string;
    transferId: string;
    put?: { url: string; headers: Record<string, string> };
    init?: { presigned: { partNumber: number; url: string; headers: Record<string, string> }[] };
  }[];
  const byPath = new Map(answers.map((a) => [a.path, a]));
  const toComplete: string[] = [];
  for (const f of files) {
    const a = byPath.get(f.path);
    if (!a) throw new Error(`no answer for ${f.path}`);
    if (f.unsent || a.action === "done") continue;
    if (a.action === "put" && a.put) {
      const put = await fetch(a.put.url, { method: "PUT", headers: a.put.headers, body: f.data });
      if (put.status !== 200) throw new Error(`PUT ${f.path}: ${put.status} ${await put.text()}`);
      toComplete.push(a.transferId);
    } else if (a.action === "multipart" && a.init && f.parts) {
      const planned = planParts(f.data, f.parts);
      const records = [];
      for (const p of planned) {
        const signed = a.init.presigned.find((s) => s.partNumber === p.partNumber);
        if (!signed) throw new Error(`${f.path}: part ${p.partNumber} was not presigned`);
        const put = await fetch(signed.url, {
          method: "PUT",
          headers: signed.headers,
          body: f.data.subarray(p.offset, p.offset + p.size),
        });
        if (put.status !== 200) throw new Error(`PUT ${f.path} part ${p.partNumber}: ${put.status}`);
        records.push({ ...p, etag: put.headers.get("etag") ?? "" });
      }
      const done = await api.post(`/assemble/${a.transferId}`, { parts: records });
      if (done.status !== 200)
        throw new Error(`assemble ${f.path}: ${done.status} ${JSON.stringify(done.body)}`);
    } else throw new Error(`${f.path}: unexpected answer ${a.action}`);
  }
  for (let i = 0; i < toComplete.length; i += 500) {
    const done = await api.post(`/batch/${batchId}/complete`, {
      files: toComplete.slice(i, i + 500).map((transferId) => ({ transferId })),
    });
    if (done.status !== 200) throw new Error(`complete: ${done.status} ${JSON.stringify(done.body)}`);
    for (const c of done.body.files as { status: string; transferId: string }[])
      if (c.status !== "complete") throw new Error(`complete ${c.transferId}: ${JSON.stringify(c)}`);
  }
  return { id: batchId, ids: new Map(answers.map((a) => [a.path, a.transferId])) };
}

/** A compromised table: the file's path (and its byBatch sort key) set to anything, bypassing the API. */
export async function rewritePath(stack: StackInfo, transferId: string, path: string): Promise<void> {
  const ddb = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.dynamodbEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
  );
  await ddb.send(
    new UpdateCommand({
      TableName: stack.table,
      Key: { PK: `T#${transferId}`, SK: "META" },
      UpdateExpression: "SET #path = :p, batchSk = :p, #name = :p",
      ConditionExpression: "attribute_exists(PK)",
      ExpressionAttributeNames: { "#path": "path", "#name": "name" },
      ExpressionAttributeValues: { ":p": path },
    }),
  );
  ddb.destroy();
}
