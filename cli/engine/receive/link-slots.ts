/**
 * The ranged GETs' slots, sized by the link model (link-model.ts): as many GETs run at once as the
 * controller's limit says, one controller for a whole receive (all the files of a batch together).
 * A slot is held only while a GET runs, not through its retry backoff, so a failed range waiting to be
 * tried again leaves its slot to the others (under random loss, more streams keep the link full).
 * Every GET reports to the controller: started, bytes as they flow, succeeded, or failed with its kind;
 * the link watch (retry.ts's policy.link) tells it of outages through outage()/back(). Its decisions go
 * out as "link" events, at most twice a second (`linkEvents` in ../link-events.ts).
 */
import { type LinkController, type LossKind, lossKind } from "../link-model.js";
import type { LinkListener } from "../link-watch.js";

export class LinkSlots implements LinkListener {
  private active = 0;
  private readonly waiting: { go: () => void; stop: () => void; signal: AbortSignal }[] = [];

  constructor(readonly controller: LinkController) {}

  get limit(): number {
    return this.controller.limit;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.active < this.controller.limit && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const w = {
        signal,
        go: () => {
          signal.removeEventListener("abort", w.stop);
          resolve();
        },
        stop: () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener("abort", w.stop, { once: true });
      this.waiting.push(w);
    });
  }

  release(): void {
    this.active--;
    this.wake();
  }

  started(): void {
    this.controller.started();
  }

  progress(bytes: number): void {
    this.controller.progress(bytes);
    if (this.waiting.length) this.wake();
  }

  succeeded(bytes: number, seconds: number): void {
    this.controller.succeeded(bytes, seconds);
    this.wake();
  }

  /** A GET failed with this error code (classify.ts's); not the link's doing counts as a reset. */
  failed(code: string | undefined, kind?: LossKind): void {
    this.controller.failed(kind ?? lossKind(code) ?? "reset");
    this.wake();
  }

  outage(): void {
    this.controller.outage();
  }

  back(): void {
    this.controller.back();
    this.wake();
  }

  /** Lets waiters in while the limit (which may have grown) has room. */
  private wake(): void {
    while (this.active < this.controller.limit && this.waiting.length) {
      this.active++;
      (this.waiting.shift() as { go: () => void }).go();
    }
  }
}
