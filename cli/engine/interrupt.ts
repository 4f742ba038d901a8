/**
 * Ctrl-C (or SIGTERM) in two steps for long transfers: the first asks for a soft stop (start nothing new,
 * let work in flight finish) and, after a grace period, aborts it; a second one aborts at once.
 */
import { CliError, EXIT } from "./errors.js";

export interface Interrupt {
  /** Aborted on the first signal. */
  stop: AbortSignal;
  /** Aborted on the second signal, or when the grace period after the first runs out. */
  abort: AbortSignal;
  /** Removes the handlers; call when the work is over. */
  dispose(): void;
}

export function onInterrupt(opts: { graceMs?: number; onFirst?: () => void } = {}): Interrupt {
  const stop = new AbortController();
  const abort = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const handler = () => {
    const reason = new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);
    if (stop.signal.aborted) return abort.abort(reason);
    stop.abort(reason);
    opts.onFirst?.();
    grace = setTimeout(() => abort.abort(reason), opts.graceMs ?? 10_000);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    stop: stop.signal,
    abort: abort.signal,
    dispose() {
      clearTimeout(grace);
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
