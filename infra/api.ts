/**
 * The coordinator API: an API Gateway HTTP API whose one $default route invokes one Lambda function, the
 * Hono app (functions/api/lambda.ts), which does its own routing, validation and auth. The function is
 * linked to the bucket, the table and the first admin key (names and the secret's value), and may do
 * exactly the S3 and DynamoDB actions the code performs, on the objects it writes and on the table.
 */

import { LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, nodejsOptions } from "./lambda.js";
import type { Storage } from "./storage.js";
import type { Table } from "./table.js";

type Permission = sst.aws.FunctionPermissionArgs;
type Arn = $util.Input<string>;

/**
 * S3 actions, by the call that needs them: CreateMultipartUpload, UploadPart (presigned, so signed with
 * this role), CompleteMultipartUpload and PutObject need PutObject; HeadObject and presigned GETs need
 * GetObject; ListParts needs ListMultipartUploadParts; HeadBucket (/health) needs ListBucket, which also
 * makes HeadObject of a missing key answer 404 rather than 403; DeleteObject removes a given-up single PUT
 * and the storage probe's object.
 */
export const API_S3_OBJECT_ACTIONS = [
  "s3:PutObject",
  "s3:GetObject",
  "s3:DeleteObject",
  "s3:ListMultipartUploadParts",
  "s3:AbortMultipartUpload",
];
/** DynamoDB actions the repository uses (TransactWriteItems is checked as the Put/Update/Delete inside). */
export const DYNAMODB_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:Query",
];

export function apiPermissions(arns: { bucket: Arn; objects: Arn; table: Arn; indexes: Arn }): Permission[] {
  return [
    { actions: API_S3_OBJECT_ACTIONS, resources: [arns.objects] },
    { actions: ["s3:ListBucket"], resources: [arns.bucket] },
    { actions: DYNAMODB_ACTIONS, resources: [arns.table, arns.indexes] },
  ];
}

/**
 * The coordinator's version for this deploy: the package's, plus when it was deployed. The storage probe
 * keeps its verdict per configuration, version included, so each deploy probes storage once.
 */
export function deployVersion(packageVersion: string, deployedAt: Date): string {
  return `${packageVersion}+${deployedAt.toISOString().replace(/[-:]|\.\d+/g, "")}`;
}

export function coordinatorFunctionArgs(
  links: { bucket: unknown; table: unknown; adminKey: unknown },
  arns: Parameters<typeof apiPermissions>[0],
  version = "0.1.0",
): sst.aws.FunctionArgs {
  return {
    description: "SFTS coordinator API",
    handler: "functions/api/lambda.handler",
    runtime: LAMBDA_RUNTIME,
    architecture: LAMBDA_ARCHITECTURE,
    nodejs: nodejsOptions(),
    memory: "512 MB",
    // API Gateway gives up on an integration after 30 s.
    timeout: "29 seconds",
    link: [links.bucket, links.table, links.adminKey],
    permissions: apiPermissions(arns),
    // The bucket sst deploy creates is Amazon S3: its profile (storage-profiles.ts), probed once per deploy.
    environment: { SFTS_LOG_LEVEL: "info", SFTS_STORAGE_PROFILE: "aws", SFTS_VERSION: version },
    logging: { retention: "1 month" },
  };
}

/**
 * CORS for the dashboard's calls. Any origin: the API authenticates by a bearer token that a page must
 * be given, never by a cookie, so a foreign page gains nothing (and the dashboard's address is only known
 * after this API exists, since the dashboard is built with the API's URL).
 */
export function apiArgs(): sst.aws.ApiGatewayV2Args {
  return {
    cors: {
      allowOrigins: ["*"],
      allowMethods: ["GET", "POST", "DELETE"],
      allowHeaders: ["authorization", "content-type", "x-request-id"],
      exposeHeaders: ["x-request-id", "retry-after"],
      maxAge: "1 day",
    },
    accessLog: { retention: "1 month" },
  };
}

export function coordinatorApi(deps: {
  files: Storage;
  transfers: Table;
  adminKey: sst.Secret;
  /** The package's version (package.json). */
  version: string;
}) {
  const fn = new sst.aws.Function(
    "Coordinator",
    coordinatorFunctionArgs(
      { bucket: deps.files.link, table: deps.transfers.link, adminKey: deps.adminKey },
      { ...deps.files.arns, ...deps.transfers.arns },
      deployVersion(deps.version, new Date()),
    ),
  );
  const api = new sst.aws.ApiGatewayV2("Api", apiArgs());
  api.route("$default", fn.arn);
  return { api, fn, url: api.url };
}
