/**
 * The bulk calls of one batch's run: every file's entry coalesced into POST /batch/{id}/files and every
 * single PUT's completion into POST /batch/{id}/complete (batcher.ts), each file getting its own answer
 * out of the call's (an answer missing for one is BAD_ANSWER for that file). `close(reason)` refuses
 * what waits (the run stopped or ended).
 */
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import type { BatchFileAnswer, BatchFileEntry, CompletedFile } from "../../../functions/contract/batches.js";
import { MAX_BATCH_CALL_FILES } from "../../../functions/contract/limits.js";
import { Batcher } from "./batcher.js";
import type { Coordinator } from "./types.js";

/** Entries and completions wait this long for others to join their call (at most MAX_WAIT_MS). */
const QUIET_MS = 20;
const MAX_WAIT_MS = 250;

export interface BatchCalls {
  readonly entries: Batcher<BatchFileEntry, BatchFileAnswer>;
  readonly completions: Batcher<string, CompletedFile>;
  close(reason: unknown): void;
}

export function batchCalls(coordinator: Coordinator, batchId: string): BatchCalls {
  const timing = { maxItems: MAX_BATCH_CALL_FILES, quietMs: QUIET_MS, maxWaitMs: MAX_WAIT_MS };
  const entries = new Batcher<BatchFileEntry, BatchFileAnswer>(async (es) => {
    const answers = await coordinator.addFiles(batchId, es);
    const byPath = new Map(answers.map((a) => [a.path, a]));
    return es.map((e) => {
      const a = byPath.get(e.path);
      if (!a) throw new CliError("BAD_ANSWER", `The server did not answer for ${e.path}`, EXIT.UNEXPECTED);
      return a;
    });
  }, timing);
  const completions = new Batcher<string, CompletedFile>(async (ids) => {
    const answers = await coordinator.completeFiles(batchId, ids);
    const byId = new Map(answers.map((a) => [a.transferId, a]));
    return ids.map((id) => {
      const a = byId.get(id);
      if (!a) throw new CliError("BAD_ANSWER", `The server did not answer for ${id}`, EXIT.UNEXPECTED);
      return a;
    });
  }, timing);
  return {
    entries,
    completions,
    close(reason) {
      entries.close(reason);
      completions.close(reason);
    },
  };
}
