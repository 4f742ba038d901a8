/**
 * The part records of one file's multipart upload in the browser, after the CLI's: every part this page
 * knows storage accepted (kept across runs of the file: a pause, going offline), and those the
 * coordinator has not recorded yet. Unrecorded records ride on the next presign call, go alone soon
 * after (a presign call of records alone) or on a stop, and the last are handed to the assemble call.
 *
 * Each plan (parts.ts) starts a new generation: a call of an earlier run that fails must not hand its
 * records back into the new plan's list (the init answer reconciled them already).
 *
 * Every call carrying records is kept until it settles (`carry`), and a run asks the coordinator what
 * storage holds only once they have (`settled`, within a bound). A stopped run's call waits for the
 * link like any other, so without this it could land after the next run's init answer and record a
 * part that run then plans elsewhere (its presign refused: the part overlaps the stale record, and the
 * file failed).
 */
import { MAX_RECORD_BATCH } from "../../../functions/contract/limits.js";
import type { FileSummary, PartRecordSpec } from "../../../functions/contract/schemas.js";
import { abortable } from "./abortable.js";
import type { Coordinator } from "./types.js";

/**
 * Records no presign call took go alone this soon (the CLI's figure): the dashboard's progress wants
 * them, and a reload may come at any moment (a part stored but not recorded is read back and hashed
 * after it, or, when a part before it was cut in flight, sent again).
 */
const RECORD_WITHIN_MS = 250;

/** Some records taken for a call, and the generation they belong to (to give them back on failure). */
export interface TakenRecords {
  readonly gen: number;
  readonly records: PartRecordSpec[];
}

export class PartRecords {
  /** Parts storage holds that the coordinator has not recorded yet. */
  private unsent: PartRecordSpec[] = [];
  /** Every part this page knows storage accepted for the upload, by number (adopted without reading). */
  private readonly known = new Map<number, PartRecordSpec>();
  /** Bumped by each plan: a call of an earlier run must not hand its records back. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private recording: Promise<void> | undefined;
  /** The plan the record call on its way belongs to (one of an earlier run is not waited for). */
  private recordingGen = 0;
  /** Calls carrying records that have not settled (any run's). */
  private readonly carrying = new Set<Promise<unknown>>();

  /** `transferId()`: the file's upload (records go nowhere before it is known). */
  constructor(private readonly transferId: () => string | undefined) {}

  /** A new plan: what was unsent is reconciled by the coordinator's answer that planned it. */
  newPlan(): void {
    this.generation++;
    this.stopTimer();
    this.unsent = [];
  }

  get gen(): number {
    return this.generation;
  }

  /** `call` carries records: kept until it settles (answered or failed), for `settled`. */
  carry<T>(call: Promise<T>): Promise<T> {
    this.carrying.add(call);
    const forget = () => this.carrying.delete(call);
    call.then(forget, forget);
    return call;
  }

  /**
   * Every call carrying records has settled, so what the coordinator answers now includes them; or
   * `withinMs` has passed (a call that hangs is not waited for longer: a plan it then contradicts is
   * refused by the coordinator, and the file fails rather than waiting for ever).
   */
  async settled(withinMs: number): Promise<void> {
    if (this.carrying.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => {
      timer = setTimeout(r, withinMs);
    });
    const all = (async () => {
      while (this.carrying.size > 0) await Promise.allSettled([...this.carrying]);
    })();
    try {
      await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The coordinator recorded this part: the page's own record of it is not needed any more. */
  recorded(partNumber: number): void {
    this.known.delete(partNumber);
  }

  /** The record this page keeps of a part storage accepted, if any. */
  mine(partNumber: number): PartRecordSpec | undefined {
    return this.known.get(partNumber);
  }

  /** Storage holds this part (PUT by this page, or adopted): it waits for a call to record it. */
  add(record: PartRecordSpec): void {
    this.known.set(record.partNumber, record);
    this.unsent.push(record);
  }

  /**
   * Up to one call's worth of records (`all`: every one), for a call of the plan `gen` (the current by
   * default), given back with `giveBack` if the call fails.
   */
  take(all = false, gen = this.generation): TakenRecords {
    return { gen, records: this.unsent.splice(0, all ? this.unsent.length : MAX_RECORD_BATCH) };
  }

  /** The call failed: its records wait for the next one (unless a new plan came meanwhile). */
  giveBack(taken: TakenRecords): void {
    if (taken.gen === this.generation) this.unsent.unshift(...taken.records);
  }

  /** A part was stored: its record goes alone soon if no presign call takes it first. */
  soon(coordinator: Coordinator): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick(coordinator);
    }, RECORD_WITHIN_MS);
  }

  stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Records go alone (a presign call of no parts) whenever no record call is on its way. */
  kick(coordinator: Coordinator): void {
    this.stopTimer();
    const id = this.transferId();
    if (this.recording || this.unsent.length === 0 || !id) return;
    const taken = this.take();
    this.recordingGen = taken.gen;
    this.recording = this.carry(coordinator.presign(id, [], taken.records)).then(
      () => {
        this.recording = undefined;
        // Parts stored while this call was on its way go next, not when the next part is stored.
        if (this.unsent.length > 0) this.soon(coordinator);
      },
      // Kept for the next presign or the assemble call, which surface a lasting failure.
      () => {
        this.recording = undefined;
        this.giveBack(taken);
      },
    );
  }

  /** Every part is stored: the records beyond one call's worth go first, the rest with the assemble call. */
  async assemble(coordinator: Coordinator, signal: AbortSignal): Promise<FileSummary> {
    this.stopTimer();
    const gen = this.generation;
    if (this.recordingGen === gen) await abortable(this.recording ?? Promise.resolve(), signal);
    const id = this.transferId() as string;
    while (this.unsent.length > MAX_RECORD_BATCH) {
      const taken = this.take(false, gen);
      try {
        await abortable(this.carry(coordinator.presign(id, [], taken.records)), signal);
      } catch (err) {
        this.giveBack(taken);
        throw err;
      }
    }
    const last = this.take(true, gen);
    try {
      return await abortable(this.carry(coordinator.assemble(id, last.records)), signal);
    } catch (err) {
      this.giveBack(last);
      throw err;
    }
  }
}
