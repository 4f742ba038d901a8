/**
 * What clients must know of the store behind a coordinator: which per-part check storage enforces (so a
 * sender computes the digest that gets signed into each presigned PUT), whether every part but the last
 * must have one size, and what the coordinator's probe found storage really does with damaged bytes.
 * The profiles themselves (addressing, presign details, per-store notes) are server data in
 * functions/core/storage-profiles.ts; this is the part of them the contract carries.
 */
import { z } from "zod";

export const STORAGE_PROFILE_NAMES = [
  "aws",
  "versitygw",
  "seaweedfs",
  "minio",
  "r2",
  "b2",
  "gcs",
  "wasabi",
  "ceph",
  "generic",
] as const;
export const StorageProfileName = z.enum(STORAGE_PROFILE_NAMES);
export type StorageProfileName = z.infer<typeof StorageProfileName>;

/**
 * The digest storage checks a part's (or a single PUT's) bytes against, signed into its presigned URL:
 *   sha256  x-amz-checksum-sha256 (S3 flexible checksums): storage answers BadDigest on other bytes
 *   md5     Content-MD5 (RFC 1864), which every S3 implementation verifies: InvalidDigest / BadDigest
 * Whatever the check, senders still give each part's SHA-256 (recorded for receivers) and the whole
 * file's SHA-256 (recorded, checked at assembly and by every receiver).
 */
export const PartCheck = z.enum(["sha256", "md5"]);
export type PartCheck = z.infer<typeof PartCheck>;

/** MD5 of a part or a single-PUT object, base64 (24 characters), as Content-MD5 carries it. */
export const Md5Base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]{22}==$/, "must be an MD5 digest in base64 (24 characters)")
  .meta({ description: "MD5 digest, base64 (Content-MD5)", example: "1B2M2Y8AsgTpgAmY7PhCfg==" });

/** The upload rules a sender follows for this store. */
export const StorageRules = z
  .object({
    profile: StorageProfileName,
    partCheck: PartCheck.meta({
      description: "md5: every part spec and single-PUT entry must carry `md5` (Content-MD5 is signed)",
    }),
    uniformParts: z.boolean().meta({
      description:
        "Every part but the last has the upload's part size, and part n starts at (n-1) × that size; the size is fixed per upload (the init answer's partSize)",
    }),
    minPartSize: z.number().int(),
    maxPartSize: z.number().int(),
    maxParts: z.number().int(),
    maxObjectSize: z.number().int(),
  })
  .meta({ id: "StorageRules" });
export type StorageRules = z.infer<typeof StorageRules>;

/**
 * The probe's phases (storage-probe.ts):
 *   pending     not run yet for this configuration
 *   verified    storage refused damaged bytes under the profile's check (and a uniform upload assembled)
 *   unverified  storage accepted damaged bytes: the coordinator refuses transfers unless
 *               SFTS_ALLOW_UNVERIFIED_STORAGE=1, and then records say their parts were not storage-verified
 *   failed      the probe could not finish (storage unreachable, a correct part refused): transfers refused
 */
export const ProbeState = z.enum(["pending", "verified", "unverified", "failed"]);
export type ProbeState = z.infer<typeof ProbeState>;

export const StorageProbe = z
  .object({
    state: ProbeState,
    checkedAt: z.string().optional(),
    /** The check that was tried (the profile's). */
    partCheck: PartCheck,
    /** What storage answered to a part whose bytes do not match the signed digest (e.g. "400 BadDigest"). */
    damagedPart: z.string().optional(),
    /** The same for a single PutObject. */
    damagedObject: z.string().optional(),
    /** Uniform-parts profiles: an upload cut by the rule assembled. */
    uniformAssembled: z.boolean().optional(),
    /** Storage's clock minus the coordinator's, from storage's Date header, in milliseconds. */
    clockSkewMs: z.number().optional(),
    /** One sentence for a person: what was found, and what follows from it. */
    message: z.string(),
  })
  .meta({ id: "StorageProbe" });
export type StorageProbe = z.infer<typeof StorageProbe>;

/** GET /api/storage: the rules senders follow, and whether the coordinator serves transfers. */
export const StorageInfo = z
  .object({
    rules: StorageRules,
    label: z.string().meta({ description: "The profile's name for a person, e.g. Cloudflare R2" }),
    probe: StorageProbe,
    /** SFTS_ALLOW_UNVERIFIED_STORAGE=1. */
    allowUnverified: z.boolean(),
    /** Transfers are served: the probe verified storage, or it did not and unverified storage is allowed. */
    serving: z.boolean(),
    /** The address presigned URLs point at (clients measure clock skew against it). */
    endpoint: z.string(),
  })
  .meta({ id: "StorageInfo" });
export type StorageInfo = z.infer<typeof StorageInfo>;

/** What health and /api/stats say of storage (the dashboard shows it). */
export const StorageSummary = z
  .object({
    profile: StorageProfileName,
    label: z.string(),
    partCheck: PartCheck,
    uniformParts: z.boolean(),
    probe: ProbeState,
    serving: z.boolean(),
    message: z.string(),
  })
  .meta({ id: "StorageSummary" });
export type StorageSummary = z.infer<typeof StorageSummary>;
