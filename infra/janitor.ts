/**
 * The janitor: a scheduled function (functions/api/janitor-lambda.ts) that aborts transfers abandoned by
 * state, re-assembles stuck ones and logs the bytes held in incomplete uploads. Linked to the bucket and the
 * table only (not the admin key); its S3 rights lack what only the API needs (presigning reads, /health).
 */
import { DYNAMODB_ACTIONS } from "./api.js";
import { LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, nodejsOptions } from "./lambda.js";
import type { Settings } from "./stage.js";
import type { Storage } from "./storage.js";
import type { Table } from "./table.js";

type Arn = $util.Input<string>;

/**
 * AbortMultipartUpload (abort); ListMultipartUploadParts, PutObject (CompleteMultipartUpload) and GetObject
 * (HeadObject, when an upload storage already completed is finished) for re-assembly; ListBucket so that a
 * missing object answers 404.
 */
export const JANITOR_S3_OBJECT_ACTIONS = [
  "s3:AbortMultipartUpload",
  "s3:ListMultipartUploadParts",
  "s3:PutObject",
  "s3:GetObject",
];

export function janitorPermissions(arns: {
  bucket: Arn;
  objects: Arn;
  table: Arn;
  indexes: Arn;
}): sst.aws.FunctionPermissionArgs[] {
  return [
    { actions: JANITOR_S3_OBJECT_ACTIONS, resources: [arns.objects] },
    { actions: ["s3:ListBucket"], resources: [arns.bucket] },
    { actions: DYNAMODB_ACTIONS, resources: [arns.table, arns.indexes] },
  ];
}

export function janitorFunctionArgs(
  links: { bucket: unknown; table: unknown },
  arns: Parameters<typeof janitorPermissions>[0],
  s: Pick<Settings, "abandonedAfterHours" | "assemblingStuckAfterMinutes">,
): sst.aws.FunctionArgs {
  return {
    description: "SFTS janitor: aborts abandoned transfers, reports bytes held",
    handler: "functions/api/janitor-lambda.handler",
    runtime: LAMBDA_RUNTIME,
    architecture: LAMBDA_ARCHITECTURE,
    nodejs: nodejsOptions(),
    memory: "256 MB",
    timeout: "5 minutes",
    link: [links.bucket, links.table],
    permissions: janitorPermissions(arns),
    environment: {
      SFTS_LOG_LEVEL: "info",
      SFTS_ABANDONED_AFTER_HOURS: String(s.abandonedAfterHours),
      SFTS_ASSEMBLING_STUCK_MINUTES: String(s.assemblingStuckAfterMinutes),
    },
    logging: { retention: "1 month" },
  };
}

export function janitorCronArgs(
  fn: sst.aws.FunctionArgs,
  s: Pick<Settings, "janitorSchedule">,
): sst.aws.CronArgs {
  return { schedule: s.janitorSchedule, function: fn };
}

export function janitor(deps: { files: Storage; transfers: Table; settings: Settings }) {
  const fn = janitorFunctionArgs(
    { bucket: deps.files.link, table: deps.transfers.link },
    { ...deps.files.arns, ...deps.transfers.arns },
    deps.settings,
  );
  return new sst.aws.Cron("Janitor", janitorCronArgs(fn, deps.settings));
}
