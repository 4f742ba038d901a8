/**
 * The bucket: every kind of public access blocked, HTTPS only, encrypted at rest (SSE-S3), CORS for the
 * dashboard's origin (browser PUTs of parts must read ETag and the checksum back), and a lifecycle rule
 * that aborts multipart uploads still incomplete after a number of days — the backstop behind the janitor.
 * The functions see it through the link `Storage` ({ name }); their S3 rights are granted in api.ts and
 * janitor.ts, action by action, not by the link.
 */
import { LINKS } from "../functions/api/sst-links.js";
import type { Settings } from "./stage.js";

/** The coordinator stores every object under this prefix (objects/<transferId>). */
export const OBJECT_PREFIX = "objects/";

export function bucketArgs(): sst.aws.BucketArgs {
  return {
    // No `access` and no `public`: nothing is readable without a signature.
    enforceHttps: true,
    versioning: false,
    // CORS needs the dashboard's address, known only once the site exists: see storageCors.
    cors: false,
    transform: {
      publicAccessBlock: {
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
    },
  };
}

export function encryptionRules(): aws.types.input.s3.BucketServerSideEncryptionConfigurationV2Rule[] {
  return [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }];
}

export function lifecycleRules(
  abortAfterDays: number,
): aws.types.input.s3.BucketLifecycleConfigurationV2Rule[] {
  return [
    {
      id: "abort-incomplete-multipart-uploads",
      status: "Enabled",
      filter: { prefix: "" },
      abortIncompleteMultipartUpload: { daysAfterInitiation: abortAfterDays },
    },
  ];
}

/** Browsers PUT parts straight to presigned URLs and must read back what storage says about them. */
export function corsRules(
  origins: $util.Input<string>[],
): aws.types.input.s3.BucketCorsConfigurationV2CorsRule[] {
  return [
    {
      allowedOrigins: origins,
      allowedMethods: ["GET", "PUT", "HEAD"],
      allowedHeaders: ["*"],
      exposeHeaders: ["ETag", "x-amz-checksum-sha256", "x-amz-request-id", "Retry-After"],
      maxAgeSeconds: 3600,
    },
  ];
}

export function storage(s: Pick<Settings, "abortIncompleteUploadsAfterDays">) {
  const bucket = new sst.aws.Bucket("Files", bucketArgs());
  new aws.s3.BucketServerSideEncryptionConfigurationV2("FilesEncryption", {
    bucket: bucket.name,
    rules: encryptionRules(),
  });
  new aws.s3.BucketLifecycleConfigurationV2("FilesLifecycle", {
    bucket: bucket.name,
    rules: lifecycleRules(s.abortIncompleteUploadsAfterDays),
  });
  const link = new sst.Linkable(LINKS.bucket, { properties: { name: bucket.name } });
  return {
    bucket,
    link,
    /** ARNs for IAM statements: the bucket itself, and the objects the coordinator writes. */
    arns: { bucket: bucket.arn, objects: $interpolate`${bucket.arn}/${OBJECT_PREFIX}*` },
  };
}

export type Storage = ReturnType<typeof storage>;

export function storageCors(bucket: sst.aws.Bucket, origins: $util.Input<string>[]) {
  return new aws.s3.BucketCorsConfigurationV2("FilesCors", {
    bucket: bucket.name,
    corsRules: corsRules(origins),
  });
}
