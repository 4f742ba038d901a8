/**
 * The page's link watch (cli/engine/link-watch.ts, shared with the CLI) with the browser's probe: a
 * HEAD of the endpoint that failed, `mode: "no-cors"` so any origin can be probed without CORS rules (the
 * answer is opaque, but that it came at all is what counts), never from the cache. Resolved → the link
 * is up (any HTTP answer); rejected or timed out → dark. An outage lasts up to 7 days before retries give
 * up: the page keeps waiting for the link (a laptop closed overnight), and the user can cancel. Timers
 * are the browser's own.
 */
import { type Clock, LinkWatch, type Probe } from "../../../cli/engine/link-watch.js";

/** Dark this long, the uploads waiting for the link fail with LINK_DOWN (the user can cancel before). */
export const BROWSER_OUTAGE_LIMIT_MS = 7 * 24 * 60 * 60_000;

export const fetchProbe: Probe = async (endpoint, timeoutMs) => {
  try {
    await fetch(endpoint, {
      method: "HEAD",
      mode: "no-cors",
      cache: "no-store",
      credentials: "omit",
      signal: AbortSignal.timeout(timeoutMs),
    });
    return true;
  } catch {
    return false;
  }
};

const browserClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};

export function browserLinkWatch(o: { probe?: Probe } = {}): LinkWatch {
  return new LinkWatch({
    probe: o.probe ?? fetchProbe,
    outageLimitMs: BROWSER_OUTAGE_LIMIT_MS,
    clock: browserClock,
  });
}
