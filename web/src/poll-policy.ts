/** When the dashboard asks the API again. Pure, so the policy is unit-tested apart from timers. */

/** Normal polling period while the page is visible and the API answers. */
export const POLL_MS = 3000;
/** A hidden tab polls rarely; it catches up at once when shown again. */
export const HIDDEN_POLL_MS = 30_000;
/** While the API is unreachable, waits double after each failure, up to this. */
export const MAX_BACKOFF_MS = 10_000;

/** Delay before the next poll, given consecutive failures to reach the API and whether the tab is hidden. */
export function nextPollDelay(failures: number, hidden: boolean): number {
  if (hidden) return HIDDEN_POLL_MS;
  if (failures <= 0) return POLL_MS;
  return Math.min(POLL_MS * 2 ** (failures - 1), MAX_BACKOFF_MS);
}
