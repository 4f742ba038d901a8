/**
 * ResumeStore over IndexedDB (no library): the unfinished uploads this browser remembers, so the view
 * lists them after a reload or a crash with "resume" (pick the same files again) and "discard".
 * Database "sfts-uploads", version 1, object store "unfinished" keyed by the manifest digest. The
 * database is opened once, on first use. Where IndexedDB is missing or refuses to open (some private
 * modes, storage disabled, a blocked upgrade), the store degrades to memory for this page's life: the
 * uploads still run, they are just not remembered across reloads. Nothing here throws into the page: a
 * failed write is dropped, a failed read lists what memory holds.
 */
import type { ResumeStore, UnfinishedUpload } from "./types.js";

const DB_NAME = "sfts-uploads";
const STORE = "unfinished";

const request = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === "undefined") {
      reject(new Error("IndexedDB is not available"));
      return;
    }
    let r: IDBOpenDBRequest;
    try {
      r = indexedDB.open(DB_NAME, 1);
    } catch (err) {
      reject(err);
      return;
    }
    r.onupgradeneeded = () => {
      if (!r.result.objectStoreNames.contains(STORE))
        r.result.createObjectStore(STORE, { keyPath: "digest" });
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error("IndexedDB upgrade blocked by another tab"));
  });
}

export function indexedDbResumeStore(): ResumeStore {
  /** Always current: what this page wrote; the fallback when IndexedDB fails. */
  const memory = new Map<string, UnfinishedUpload>();
  let db: Promise<IDBDatabase | undefined> | undefined;
  const database = () => {
    db ??= open().then(
      (d) => {
        // Another tab upgrading (a later version of the page) asks this one to let go.
        d.onversionchange = () => {
          d.close();
          db = undefined;
        };
        return d;
      },
      () => undefined,
    );
    return db;
  };
  const store = async (mode: IDBTransactionMode): Promise<IDBObjectStore | undefined> => {
    const d = await database();
    try {
      return d?.transaction(STORE, mode).objectStore(STORE);
    } catch {
      return undefined;
    }
  };
  return {
    async list() {
      try {
        const s = await store("readonly");
        if (!s) return [...memory.values()];
        const stored = await request(s.getAll() as IDBRequest<UnfinishedUpload[]>);
        const byDigest = new Map(stored.map((u) => [u.digest, u]));
        for (const [digest, u] of memory) byDigest.set(digest, u);
        return [...byDigest.values()];
      } catch {
        return [...memory.values()];
      }
    },
    async put(u) {
      memory.set(u.digest, u);
      try {
        const s = await store("readwrite");
        if (s) await request(s.put(u));
      } catch {
        // Remembered in memory only (quota, private mode): the upload itself goes on.
      }
    },
    async remove(digest) {
      memory.delete(digest);
      try {
        const s = await store("readwrite");
        if (s) await request(s.delete(digest));
      } catch {
        // Gone from memory; IndexedDB refused: listed again after a reload, discard again then.
      }
    },
  };
}
