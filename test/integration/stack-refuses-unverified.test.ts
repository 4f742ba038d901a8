/**
 * The local stack (what `npm start` runs) refuses to start on storage that accepts damaged bytes: the
 * probe runs at start, and a store made to ignore checksums (the test-only SFTS_TEST_STORAGE_IGNORES_CHECKSUM)
 * ends the start with a StackError that says why and what to do, its processes stopped. With
 * SFTS_ALLOW_UNVERIFIED_STORAGE=1 it starts, and says the store is unverified.
 */
import { describe, expect, it } from "vitest";
import { StackError } from "../../local/stack-error.js";
import { startTestStack } from "../helpers/stack.js";

describe("the local stack on storage that accepts damaged bytes", () => {
  it("refuses to start, saying why and what to do", async () => {
    const err = await startTestStack({ coordinatorEnv: { SFTS_TEST_STORAGE_IGNORES_CHECKSUM: "1" } }).then(
      async (s) => {
        await s.cleanup();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StackError);
    const e = err as StackError;
    expect(e.message).toMatch(/^The coordinator will not serve transfers on this storage/);
    expect(String(e.details)).toMatch(/accepted .*did not match/);
    expect(e.hint).toMatch(/SFTS_STORAGE_PROFILE.*SFTS_ALLOW_UNVERIFIED_STORAGE=1/);
  });

  it("starts when unverified storage is allowed, and its probe says unverified", async () => {
    const s = await startTestStack({
      coordinatorEnv: { SFTS_TEST_STORAGE_IGNORES_CHECKSUM: "1", SFTS_ALLOW_UNVERIFIED_STORAGE: "1" },
    });
    try {
      const health = (await (await fetch(`${s.apiUrl}/health`)).json()) as {
        storage: { probe: string; serving: boolean };
      };
      expect(health.storage).toMatchObject({ probe: "unverified", serving: true });
    } finally {
      await s.cleanup();
    }
  });
});
