/**
 * The phases of one file's transfer and the only moves allowed between them (TRANSITIONS, checked by
 * FileTransfer.enter), plus what the phases share: how often a file may go back a phase, and the
 * interrupt error.
 *
 *   queued ──▶ hashing ──▶ (waiting-duplicate ──▶) initialising ──▶ sending ──▶ finishing ──▶ done
 *   content pending (named while sending): sending | finishing ──▶ done | initialising | waiting-duplicate,
 *   waiting-duplicate ──▶ done
 *   any phase ──▶ failed | interrupted
 */
import { CliError, EXIT } from "../errors.js";

export type Phase =
  | "queued"
  | "hashing"
  | "waiting-duplicate"
  | "initialising"
  | "sending"
  | "finishing"
  | "done"
  | "failed"
  | "interrupted";

const ENDS: Phase[] = ["failed", "interrupted"];
export const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  queued: ["hashing", ...ENDS],
  hashing: ["waiting-duplicate", "initialising", ...ENDS],
  "waiting-duplicate": ["initialising", "done", ...ENDS],
  initialising: ["sending", "finishing", "done", ...ENDS],
  sending: ["initialising", "finishing", "waiting-duplicate", "done", ...ENDS],
  finishing: ["sending", "initialising", "waiting-duplicate", "done", ...ENDS],
  done: [],
  failed: [],
  interrupted: [],
};

/** How often a file goes back a phase (a spent URL, an object or parts storage lost) before it fails. */
export const PART_REPEATS = 3;

export const interrupted = () => new CliError("INTERRUPTED", "Interrupted", EXIT.INTERRUPTED);
