/**
 * The page's one upload engine, wired to the browser: the coordinator over fetch (the API at API_BASE,
 * the page's token), storage PUTs over XMLHttpRequest, whole-file SHA-256 in a Web Worker, part digests
 * by WebCrypto (MD5 by hash-wasm, loaded only when storage wants it), unfinished uploads in IndexedDB,
 * and one link watch (fetch probes) shared by the coordinator's retries and the engine's PUTs. Built on
 * first use and kept for the page's life, so the view can unmount and mount again without losing the
 * queue; the window's online/offline events tell it when the browser knows the link is gone or back.
 */
import { DEFAULT_RETRY, type RetryPolicy } from "../../../cli/engine/retry.js";
import { API_BASE } from "../api.js";
import { workerHasher } from "./content-hasher.js";
import { httpCoordinator } from "./coordinator-http.js";
import { UploadEngine } from "./engine.js";
import { browserLinkWatch } from "./link.js";
import { browserDigests } from "./part-digest.js";
import { indexedDbResumeStore } from "./resume-store.js";
import { xhrStorage } from "./storage-xhr.js";

let engine: UploadEngine | undefined;

export function createBrowserEngine(getToken: () => string | null): UploadEngine {
  if (engine) return engine;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, link: browserLinkWatch() };
  const e = new UploadEngine({
    coordinator: httpCoordinator({ base: API_BASE || window.location.origin, getToken, retry }),
    storage: xhrStorage(),
    hasher: workerHasher(),
    digests: browserDigests(),
    resume: indexedDbResumeStore(),
    retry,
  });
  const onLine = () => e.setOnline(navigator.onLine);
  window.addEventListener("online", onLine);
  window.addEventListener("offline", onLine);
  if (!navigator.onLine) e.setOnline(false);
  engine = e;
  return e;
}
