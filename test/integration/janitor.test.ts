/**
 * The janitor against the emulators: transfers are made through the API, aged by writing their updatedAt
 * (and, for a stuck assembly, their status) straight into the table, then the janitor runs as the
 * scheduled Lambda runs it (core runJanitor over the real repository and service).
 */
import { AbortMultipartUploadCommand, ListPartsCommand } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../functions/api/config.js";
import { createCoordinator } from "../../functions/api/coordinator.js";
import { JANITOR_DEFAULTS, type JanitorReport, runJanitor } from "../../functions/core/janitor.js";
import {
  type Api,
  apiClient,
  initTransfer,
  MiB,
  planParts,
  randomFile,
  sendParts,
  sha256,
} from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
let c: ReturnType<typeof createCoordinator>;
let doc: DynamoDBDocumentClient;
const HOUR = 3_600_000;

beforeAll(() => {
  api = apiClient(stack);
  c = createCoordinator(loadConfig(stack.env));
  doc = DynamoDBDocumentClient.from(c.adapters.dynamodb);
});
afterAll(() => c.adapters.destroy());

const meta = (id: string) => ({ PK: `T#${id}`, SK: "META" });

async function record(id: string) {
  const r = await doc.send(new GetCommand({ TableName: stack.table, Key: meta(id), ConsistentRead: true }));
  return r.Item as { status: string; uploadId: string; objectKey: string; bytesDone: number };
}

/** Makes a transfer look untouched for `ms` (and, if given, puts it in another state, as a crash would leave it). */
async function age(id: string, ms: number, status?: "assembling") {
  const updatedAt = new Date(Date.now() - ms).toISOString();
  await doc.send(
    new UpdateCommand({
      TableName: stack.table,
      Key: meta(id),
      UpdateExpression: status
        ? "SET updatedAt = :u, #s = :s, statusPk = :sp REMOVE openKey"
        : "SET updatedAt = :u",
      ...(status && { ExpressionAttributeNames: { "#s": "status" } }),
      ExpressionAttributeValues: {
        ":u": updatedAt,
        ...(status && { ":s": status, ":sp": `STATUS#${status}` }),
      },
    }),
  );
}

async function listParts(id: string) {
  const t = await record(id);
  return c.adapters.s3.send(
    new ListPartsCommand({ Bucket: stack.bucket, Key: t.objectKey, UploadId: t.uploadId }),
  );
}

const runOnce = () =>
  runJanitor(
    { repo: c.adapters.repo, actions: c.service },
    {
      abandonedAfterMs: JANITOR_DEFAULTS.abandonedAfterHours * HOUR,
      assemblingStuckAfterMs: JANITOR_DEFAULTS.assemblingStuckAfterMinutes * 60_000,
    },
  );

const actionFor = (r: JanitorReport, id: string) => r.actions.find((a) => a.transferId === id);

describe("janitor", () => {
  it("aborts an upload abandoned for longer than the threshold, so storage releases its parts, and keeps a live one", async () => {
    const data = randomFile(6 * MiB + 100);
    const parts = planParts(data, [6 * MiB, 100]);
    const abandoned = (await initTransfer(api, data)).transferId;
    await sendParts(api, abandoned, data, parts.slice(0, 1));
    const live = (await initTransfer(api, randomFile(6 * MiB + 1))).transferId;
    expect((await listParts(abandoned)).Parts).toHaveLength(1);
    await age(abandoned, (JANITOR_DEFAULTS.abandonedAfterHours + 1) * HOUR);
    await age(live, (JANITOR_DEFAULTS.abandonedAfterHours - 1) * HOUR);

    const report = await runOnce();

    expect(actionFor(report, abandoned)).toMatchObject({
      outcome: "aborted",
      from: "uploading",
      bytes: 6 * MiB,
    });
    expect(actionFor(report, live)).toBeUndefined();
    expect((await record(abandoned)).status).toBe("aborted");
    expect((await record(live)).status).toBe("uploading");
    await expect(listParts(abandoned)).rejects.toMatchObject({ name: "NoSuchUpload" });
    expect(report.bytesReleased).toBeGreaterThanOrEqual(6 * MiB);
    expect(report.seen.uploading).toBeGreaterThanOrEqual(2);
    expect(report.openTransfers).toBeGreaterThanOrEqual(1);
  });

  it("counts the bytes held by uploads still open", async () => {
    const data = randomFile(5 * MiB + 10);
    const { transferId } = await initTransfer(api, data);
    await sendParts(api, transferId, data, planParts(data, [5 * MiB]));
    const report = await runOnce();
    expect(actionFor(report, transferId)).toBeUndefined();
    // Other tests leave uploads open in the same stack: this one's 5 MiB are among the bytes held.
    expect(report.bytesHeld).toBeGreaterThanOrEqual(5 * MiB);
    expect(report.openTransfers).toBeGreaterThanOrEqual(1);
  });

  it("assembles again a transfer stuck assembling (a crash mid-assemble), and it downloads intact", async () => {
    const data = randomFile(6 * MiB + 7);
    const { transferId } = await initTransfer(api, data);
    await sendParts(api, transferId, data, planParts(data, [6 * MiB, 7]));
    await age(transferId, (JANITOR_DEFAULTS.assemblingStuckAfterMinutes + 5) * 60_000, "assembling");

    const report = await runOnce();

    expect(actionFor(report, transferId)).toMatchObject({ outcome: "complete", from: "assembling" });
    expect((await record(transferId)).status).toBe("complete");
    const d = await api.get(`/download/${transferId}?redirect=false`);
    expect(sha256(Buffer.from(await (await fetch(d.body.url)).arrayBuffer()))).toBe(sha256(data));
  });

  it("marks failed a stuck assembly whose upload storage no longer has", async () => {
    const data = randomFile(5 * MiB + 3);
    const { transferId } = await initTransfer(api, data);
    await sendParts(api, transferId, data, planParts(data, [5 * MiB, 3]));
    const t = await record(transferId);
    await c.adapters.s3.send(
      new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: t.objectKey, UploadId: t.uploadId }),
    );
    await age(transferId, 2 * HOUR, "assembling");

    const report = await runOnce();

    expect(actionFor(report, transferId)).toMatchObject({ outcome: "failed" });
    expect((await record(transferId)).status).toBe("failed");
  });

  it("leaves a recently active assembly alone", async () => {
    const data = randomFile(5 * MiB + 1);
    const { transferId } = await initTransfer(api, data);
    await sendParts(api, transferId, data, planParts(data, [5 * MiB, 1]));
    await age(transferId, 60_000, "assembling");
    const report = await runOnce();
    expect(actionFor(report, transferId)).toBeUndefined();
    expect((await record(transferId)).status).toBe("assembling");
  });
});
