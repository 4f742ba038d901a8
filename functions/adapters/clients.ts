/**
 * Builds the SDK clients once per process from the typed config, and the adapters around them.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { AppConfig } from "../api/config.js";
import { DynamoActivityLog } from "./dynamo-activity.js";
import { DynamoBatchRepo } from "./dynamo-batch-repo.js";
import { DynamoTransferRepo } from "./dynamo-repo.js";
import { S3ObjectStore } from "./s3-store.js";

export interface Adapters {
  repo: DynamoTransferRepo;
  batches: DynamoBatchRepo;
  activity: DynamoActivityLog;
  store: S3ObjectStore;
  s3: S3Client;
  dynamodb: DynamoDBClient;
  destroy(): void;
}

/** One request the coordinator sent to DynamoDB: every attempt, so retried requests count each time. */
export interface DynamoCall {
  /** The API operation, e.g. "TransactWriteItems". */
  operation: string;
  /** The request as sent, in DynamoDB's attribute-value form. */
  input: Readonly<Record<string, unknown>>;
  /** From sending the request to its parsed answer, in milliseconds. */
  ms: number;
  /** The error's name, if the request failed. */
  error?: string;
}

export interface AdapterOptions {
  /** Told about every DynamoDB request (benchmarks count writes with it); absent, nothing is observed. */
  onDynamoCall?: (call: DynamoCall) => void;
}

const handler = () => new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: 30_000 });

export function buildS3Client(config: AppConfig, endpoint = config.s3.endpoint): S3Client {
  const c: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.s3.forcePathStyle,
    // Checksums are ours to choose (the profile's SHA-256 or MD5, signed per part); no SDK-added CRC32.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: handler(),
  };
  if (endpoint) c.endpoint = endpoint;
  if (config.s3.credentials) c.credentials = config.s3.credentials;
  return new S3Client(c);
}

/** Reports each attempt after the SDK's retry step, with the marshalled input and the outcome. */
function observeDynamo(client: DynamoDBClient, observe: (call: DynamoCall) => void): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? "").replace(/Command$/, "");
      const input = args.input as Record<string, unknown>;
      const started = performance.now();
      const out = await next(args).catch((err: unknown) => {
        const ms = performance.now() - started;
        observe({ operation, input, ms, error: err instanceof Error ? err.name : "Error" });
        throw err;
      });
      observe({ operation, input, ms: performance.now() - started });
      return out;
    },
    { step: "finalizeRequest", priority: "low", name: "sftsObserveDynamo" },
  );
}

export function buildAdapters(config: AppConfig, options: AdapterOptions = {}): Adapters {
  const s3 = buildS3Client(config);
  const presign =
    config.s3.publicEndpoint && config.s3.publicEndpoint !== config.s3.endpoint
      ? buildS3Client(config, config.s3.publicEndpoint)
      : s3;
  const dynamodb = new DynamoDBClient({
    region: config.region,
    maxAttempts: 3,
    requestHandler: handler(),
    ...(config.dynamodb.endpoint && { endpoint: config.dynamodb.endpoint }),
    ...(config.dynamodb.credentials && { credentials: config.dynamodb.credentials }),
  });
  if (options.onDynamoCall) observeDynamo(dynamodb, options.onDynamoCall);
  const doc = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  return {
    repo: new DynamoTransferRepo(doc, config.table),
    batches: new DynamoBatchRepo(doc, config.table),
    activity: new DynamoActivityLog(doc, config.table),
    store: new S3ObjectStore(s3, config.bucket, presign, {
      partCheck: config.storage.profile.partCheck,
      ignoreChecksumForTests: config.storage.ignoreChecksumForTests,
    }),
    s3,
    dynamodb,
    destroy() {
      s3.destroy();
      if (presign !== s3) presign.destroy();
      dynamodb.destroy();
    },
  };
}
