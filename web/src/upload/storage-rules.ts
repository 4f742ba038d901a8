/**
 * The storage rules (GET /api/storage) as the engine's batches share them: asked once per engine (a
 * failed ask is asked again by the next batch); storage not serving transfers refuses the batch with the
 * probe's sentence, which the page shows (EngineSnapshot.refused) until a batch finds storage serving
 * again, and the rules are asked again for the next batch (storage may be fixed meanwhile: the page need
 * not reload).
 */
import type { StorageInfo } from "../../../functions/contract/storage.js";
import type { Coordinator } from "./types.js";

export class StorageRulesCache {
  private asked: Promise<StorageInfo> | undefined;
  /** The probe's sentence of the last refusal, until storage serves again. */
  refused: string | undefined;

  constructor(private readonly coordinator: Coordinator) {}

  get(): Promise<StorageInfo> {
    if (!this.asked) {
      const asked = this.coordinator.storage();
      this.asked = asked;
      asked.catch(() => {
        if (this.asked === asked) this.asked = undefined;
      });
    }
    return this.asked;
  }

  /** What a batch found: storage refuses with `info.probe.message` (returned), or serves (undefined). */
  found(info: StorageInfo): string | undefined {
    if (info.serving) {
      this.refused = undefined;
      return undefined;
    }
    this.asked = undefined;
    this.refused = info.probe.message;
    return this.refused;
  }
}
