/**
 * Storage profiles as data: what each S3-compatible store enforces and needs, in one table, so no code
 * asks which store it runs on. The coordinator picks one by SFTS_STORAGE_PROFILE (config.ts) and reads
 * its fields; the probe (storage-probe.ts) then checks that storage really does what the profile says.
 *
 * Fields:
 *   partCheck          the digest signed into each presigned part and single PUT (contract/storage.ts):
 *                      sha256 where the store documents verifying x-amz-checksum-sha256 per part as AWS
 *                      does; md5 (Content-MD5, which every S3 implementation verifies) everywhere else,
 *                      including stores whose support depends on their release. The probe proves the
 *                      choice on the real store before any transfer is served
 *   uniformParts       every part but the last must have one size (CompleteMultipartUpload fails otherwise)
 *   listPartsChecksum  ListParts returns each part's ChecksumSHA256 (the part check then also compares it)
 *   partReupload       what an UploadPart of a number already uploaded does: "replaces" the earlier part
 *                      (S3's documented behaviour), or "keeps-each" upload, ListParts then listing every
 *                      one in no set order and CompleteMultipartUpload assembling the one whose ETag it is
 *                      given (SeaweedFS). Descriptive only (tests, docs): the coordinator's checks hold on
 *                      both without reading it (a record is held when ANY entry of its number matches it)
 *   limits             part sizes, part count, object size (never above the contract's S3 limits)
 *   addressing         path style (https://host/bucket/key) or virtual host (https://bucket.host/key),
 *                      the default when SFTS_S3_FORCE_PATH_STYLE is not set
 *   presign            longest presigned URL lifetime the store honours, and the signing region to use
 *                      when none is configured ("auto" for stores that ignore it)
 * Every profile presigns with SigV4, UNSIGNED-PAYLOAD, and no SDK-added checksums (the AWS SDKs' default
 * CRC32 broke R2, B2 and others in 2025: aws/aws-cli#9214, aws/aws-sdk-js-v3#6810); the checksum header
 * is the coordinator's own, signed and never hoisted into the query.
 */
import { MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, TiB } from "../contract/limits.js";
import type { PartCheck, StorageProfileName, StorageRules } from "../contract/storage.js";

export interface StorageProfile {
  name: StorageProfileName;
  label: string;
  partCheck: PartCheck;
  uniformParts: boolean;
  listPartsChecksum: boolean;
  partReupload: "replaces" | "keeps-each";
  limits: { minPartSize: number; maxPartSize: number; maxParts: number; maxObjectSize: number };
  addressing: "path" | "virtual-host";
  presign: { maxExpiresSeconds: number; defaultRegion?: string };
  /** What is known of the store, for the README's table and `sfts doctor`. */
  notes: string;
}

const WEEK = 7 * 24 * 60 * 60;
const S3_LIMITS = {
  minPartSize: MIN_PART_SIZE,
  maxPartSize: MAX_PART_SIZE,
  maxParts: MAX_PARTS,
  maxObjectSize: MAX_OBJECT_SIZE,
};

export const STORAGE_PROFILES: Readonly<Record<StorageProfileName, StorageProfile>> = {
  aws: {
    name: "aws",
    label: "Amazon S3",
    partCheck: "sha256",
    uniformParts: false,
    listPartsChecksum: true,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "virtual-host",
    presign: { maxExpiresSeconds: WEEK },
    notes: "The reference: verifies x-amz-checksum-sha256 on UploadPart and PutObject (BadDigest).",
  },
  versitygw: {
    name: "versitygw",
    label: "versitygw",
    partCheck: "sha256",
    uniformParts: false,
    listPartsChecksum: true,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK },
    notes: "The local stack's default; verifies x-amz-checksum-sha256 and returns it from ListParts.",
  },
  seaweedfs: {
    name: "seaweedfs",
    label: "SeaweedFS",
    partCheck: "sha256",
    uniformParts: false,
    listPartsChecksum: false,
    partReupload: "keeps-each",
    limits: S3_LIMITS,
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK },
    notes:
      "Verifies x-amz-checksum-sha256 (BadDigest) and Content-MD5; its ListParts returns no ChecksumSHA256, so parts are checked by size and ETag. It keeps every upload of a part number (ListParts lists each) and assembles the one whose ETag CompleteMultipartUpload names.",
  },
  minio: {
    name: "minio",
    label: "MinIO",
    partCheck: "md5",
    uniformParts: false,
    listPartsChecksum: false,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK },
    notes:
      "Flexible checksums depend on the release; Content-MD5 is verified by every release. Not tested here (AGPL).",
  },
  r2: {
    name: "r2",
    label: "Cloudflare R2",
    partCheck: "sha256",
    uniformParts: true,
    listPartsChecksum: false,
    partReupload: "replaces",
    limits: { ...S3_LIMITS, maxObjectSize: Math.floor(4.995 * TiB) },
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK, defaultRegion: "auto" },
    notes:
      "Every part but the last must have the same size, or CompleteMultipartUpload fails. R2's S3 API documents SHA-256 as a COMPOSITE (per-part) checksum and answers BadDigest on a mismatch; its part ETags are not MD5s.",
  },
  b2: {
    name: "b2",
    label: "Backblaze B2",
    partCheck: "md5",
    uniformParts: false,
    listPartsChecksum: false,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "virtual-host",
    presign: { maxExpiresSeconds: WEEK },
    notes: "Rejects x-amz-checksum-* headers; verifies Content-MD5.",
  },
  gcs: {
    name: "gcs",
    label: "Google Cloud Storage (XML API, HMAC keys)",
    partCheck: "md5",
    uniformParts: false,
    listPartsChecksum: false,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK, defaultRegion: "auto" },
    notes: "Takes no x-amz-checksum-* headers (it has x-goog-hash); verifies Content-MD5.",
  },
  wasabi: {
    name: "wasabi",
    label: "Wasabi",
    partCheck: "md5",
    uniformParts: false,
    listPartsChecksum: false,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK },
    notes: "Flexible checksums only partly supported; verifies Content-MD5.",
  },
  ceph: {
    name: "ceph",
    label: "Ceph RGW",
    partCheck: "md5",
    uniformParts: false,
    listPartsChecksum: false,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK },
    notes: "Flexible checksums arrived late and depend on the release; Content-MD5 is verified.",
  },
  generic: {
    name: "generic",
    label: "Any S3-compatible store",
    partCheck: "md5",
    uniformParts: true,
    listPartsChecksum: false,
    partReupload: "replaces",
    limits: S3_LIMITS,
    addressing: "path",
    presign: { maxExpiresSeconds: WEEK },
    notes:
      "The lowest common denominator: signed Content-MD5 and uniform parts, which every S3 implementation accepts.",
  },
};

export function storageProfile(name: StorageProfileName): StorageProfile {
  return STORAGE_PROFILES[name];
}

/** The part of a profile the contract carries to senders (GET /api/storage, init and batch answers). */
export function storageRules(p: StorageProfile): StorageRules {
  return {
    profile: p.name,
    partCheck: p.partCheck,
    uniformParts: p.uniformParts,
    ...p.limits,
  };
}
