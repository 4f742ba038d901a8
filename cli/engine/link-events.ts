/**
 * The link model's decisions (link-model.ts) as "link" events for --json, shared by sending and
 * receiving: the first at once, then the latest at most every half second; `flush` at the end.
 */
import type { NewEvent } from "./events.js";
import type { LinkDecision } from "./link-model.js";

/** Link-model decisions go out at most this often (the latest of a burst). */
export const LINK_EVENT_EVERY_MS = 500;

export function linkEvents(emit: (e: NewEvent) => void) {
  let pending: LinkDecision | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastAt = Number.NEGATIVE_INFINITY;
  const send = () => {
    timer = undefined;
    if (!pending) return;
    const { concurrency, partSize, reason, goodputBps, lossRate, dropsPerMinute } = pending;
    pending = undefined;
    lastAt = performance.now();
    emit({ type: "link", concurrency, partSize, reason, goodputBps, lossRate, dropsPerMinute });
  };
  return {
    push: (d: LinkDecision) => {
      pending = d;
      if (timer) return;
      const wait = lastAt + LINK_EVENT_EVERY_MS - performance.now();
      if (wait <= 0) send();
      else {
        timer = setTimeout(send, wait);
        timer.unref?.();
      }
    },
    flush: () => {
      if (timer) clearTimeout(timer);
      send();
    },
  };
}
