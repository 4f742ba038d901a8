/**
 * The S3 servers the local stack can run (`storage`): versitygw (the default) and SeaweedFS, two
 * independent implementations. Each entry says which storage profile the coordinator runs under on it
 * (SFTS_STORAGE_PROFILE), how it is built and how it is started; the stack reads these fields and never
 * compares server names.
 */
import type { StorageProfileName } from "../functions/contract/storage.js";
import type { ManagedProcess } from "./managed-process.js";
import { ensureSeaweedfs, SEAWEEDFS_VERSION, startSeaweedfs } from "./seaweedfs.js";
import { StackError } from "./stack-error.js";
import { ensureVersitygw, startVersitygw, VERSITYGW_VERSION } from "./versitygw.js";

export const LOCAL_STORAGES = ["versitygw", "seaweedfs"] as const;
export type LocalStorage = (typeof LOCAL_STORAGES)[number];

/** What every local S3 server is started with (each server's options add their own). */
export interface S3StartOptions {
  /** From the server's `ensure`. */
  binary: string;
  host: string;
  /** The S3 port. */
  port: number;
  /** The server's data folder; created if missing. */
  dataDir: string;
  accessKey: string;
  secretKey: string;
  region: string;
  logFile: string;
  /** For the pid registry (`reapOrphans`). */
  stateDir: string;
  /** Hint shown when the port is taken, e.g. which flag or variable sets it. */
  portHint?: string;
}

export interface LocalS3Server {
  /** Its storage profile (functions/core/storage-profiles.ts). */
  profile: StorageProfileName;
  label: string;
  version: string;
  /** `npm start`'s data folder, from the repository root (a data folder belongs to one server). */
  defaultDataDir: string;
  /** Log file name under the stack's logs folder. */
  logName: string;
  /** The binary, built into `cacheDir` on first use. */
  ensure(cacheDir: string, log: (line: string) => void): Promise<string>;
  start(options: S3StartOptions): Promise<ManagedProcess & { endpoint: string }>;
}

export const LOCAL_S3_SERVERS: Readonly<Record<LocalStorage, LocalS3Server>> = {
  versitygw: {
    profile: "versitygw",
    label: "versitygw",
    version: VERSITYGW_VERSION,
    defaultDataDir: ".sfts-local",
    logName: "versitygw.log",
    ensure: (cacheDir, log) => ensureVersitygw(cacheDir, log),
    start: (o) => startVersitygw(o),
  },
  seaweedfs: {
    profile: "seaweedfs",
    label: "SeaweedFS",
    version: SEAWEEDFS_VERSION,
    defaultDataDir: ".sfts-local/seaweedfs",
    logName: "seaweedfs.log",
    ensure: (cacheDir, log) => ensureSeaweedfs(cacheDir, log),
    // SeaweedFS takes any region in a signature; it has no region flag.
    start: ({ region: _region, ...o }) => startSeaweedfs(o),
  },
};

/** `value` as a LocalStorage; a StackError naming `source` (the flag or variable) when it is none. */
export function parseLocalStorage(value: string, source: string): LocalStorage {
  const known: readonly string[] = LOCAL_STORAGES;
  if (known.includes(value)) return value as LocalStorage;
  throw new StackError(`${source} must be one of ${LOCAL_STORAGES.join(", ")}, not "${value}"`);
}
