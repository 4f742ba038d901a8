import { describe, expect, it } from "vitest";
import { JANITOR_DEFAULTS, janitorLogFields, judge } from "../../functions/core/janitor.js";
import type { TransferRecord } from "../../functions/core/ports.js";

const HOUR = 3_600_000;
const opts = { abandonedAfterMs: 72 * HOUR, assemblingStuckAfterMs: 30 * 60_000 };
const now = Date.parse("2026-11-29T12:00:00.000Z");

const transfer = (status: TransferRecord["status"], idleMs: number): TransferRecord => ({
  id: "tr_00000000000000000000000000",
  name: "f",
  size: 10,
  sha256: "0".repeat(64),
  priority: "normal",
  status,
  objectKey: "objects/tr_00000000000000000000000000",
  partsDone: 0,
  bytesDone: 0,
  createdAt: new Date(now - idleMs - HOUR).toISOString(),
  updatedAt: new Date(now - idleMs).toISOString(),
});

describe("judge", () => {
  it("abandons an upload by how long it has been untouched, not by its age", () => {
    expect(judge(transfer("uploading", 72 * HOUR - 1), now, opts)).toBe("keep");
    expect(judge(transfer("uploading", 72 * HOUR), now, opts)).toBe("abandoned");
  });

  it("calls an assembly stuck after its own, shorter threshold", () => {
    expect(judge(transfer("assembling", 29 * 60_000), now, opts)).toBe("keep");
    expect(judge(transfer("assembling", 30 * 60_000), now, opts)).toBe("stuck");
  });

  it("never touches finished transfers, however old", () => {
    for (const status of ["complete", "aborted", "failed"] as const)
      expect(judge(transfer(status, 1000 * HOUR), now, opts)).toBe("keep");
  });

  it("leaves a record with an unreadable time alone", () => {
    expect(judge({ ...transfer("uploading", 0), updatedAt: "yesterday" }, now, opts)).toBe("keep");
  });

  it("has defaults that give a resumable upload days, and an assembly far more than a Lambda's 15 minutes", () => {
    expect(JANITOR_DEFAULTS.abandonedAfterHours).toBeGreaterThanOrEqual(24);
    expect(JANITOR_DEFAULTS.assemblingStuckAfterMinutes).toBeGreaterThan(15);
  });
});

describe("janitorLogFields", () => {
  it("counts outcomes and carries the bytes held", () => {
    const fields = janitorLogFields({
      startedAt: "t",
      seen: { uploading: 3, assembling: 1 },
      actions: [
        { transferId: "a", from: "uploading", outcome: "aborted", bytes: 5 },
        { transferId: "b", from: "assembling", outcome: "complete", bytes: 7 },
      ],
      bytesReleased: 5,
      bytesHeld: 11,
      openTransfers: 2,
      truncated: false,
    });
    expect(fields).toMatchObject({
      aborted: 1,
      completed: 1,
      failed: 0,
      errors: 0,
      bytesHeld: 11,
      bytesReleased: 5,
    });
  });
});
