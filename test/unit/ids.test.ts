import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TransferId } from "../../functions/contract/schemas.js";
import { hashToken, newApiToken, newKeyId, newTransferId } from "../../functions/core/ids.js";

/** The pattern TransferId enforces in the contract. */
const TRANSFER_ID = /^tr_[0-9a-z]{26}$/;
/** Crockford's base32 (lower case): no i, l, o, u. */
const CROCKFORD = /^[0-9abcdefghjkmnpqrstvwxyz]+$/;

describe("newTransferId", () => {
  it("matches the contract's TransferId pattern and parses", () => {
    const id = newTransferId();
    expect(id).toMatch(TRANSFER_ID);
    expect(TransferId.parse(id)).toBe(id);
    expect(id.slice(3)).toMatch(CROCKFORD);
  });

  it("encodes the time in the first 10 characters", () => {
    expect(newTransferId(0).slice(0, 13)).toBe("tr_0000000000");
    expect(newTransferId(1).slice(0, 13)).toBe("tr_0000000001");
    expect(newTransferId(31).slice(0, 13)).toBe("tr_000000000z");
    expect(newTransferId(32).slice(0, 13)).toBe("tr_0000000010");
    // 2^48 − 1 ms, the largest ULID time: 48 bits fill 10 base32 characters as 7zzzzzzzzz.
    expect(newTransferId(2 ** 48 - 1).slice(0, 13)).toBe("tr_7zzzzzzzzz");
  });

  it("is unique over 10,000 draws at the same millisecond", () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newTransferId(1_800_000_000_000)));
    expect(ids.size).toBe(10_000);
  });

  it("is unique over 10,000 draws at the current time", () => {
    const ids = Array.from({ length: 10_000 }, () => newTransferId());
    expect(new Set(ids).size).toBe(10_000);
    expect(ids.every((id) => TRANSFER_ID.test(id))).toBe(true);
  });

  it("sorts by the time given", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 47 }),
        fc.integer({ min: 1, max: 2 ** 47 - 1 }),
        (earlier, delta) => {
          const a = newTransferId(earlier);
          const b = newTransferId(earlier + delta);
          expect(a < b).toBe(true);
        },
      ),
    );
  });

  it("a sorted list of ids is in time order", () => {
    const times = [5, 1_700_000_000_000, 31, 32, 0, 1_700_000_000_001, 2 ** 40];
    const ids = times.map((t) => ({ t, id: newTransferId(t) }));
    const byId = [...ids].sort((x, y) => (x.id < y.id ? -1 : 1)).map((x) => x.t);
    expect(byId).toEqual([...times].sort((x, y) => x - y));
  });
});

describe("newApiToken", () => {
  it("is sfts_ and 43 base64url characters: 256 random bits", () => {
    const token = newApiToken();
    expect(token).toMatch(/^sfts_[A-Za-z0-9_-]{43}$/);
    // 43 base64url characters carry 258 bits; the 32 random bytes decode back.
    expect(Buffer.from(token.slice(5), "base64url")).toHaveLength(32);
  });

  it("is unique over 10,000 draws", () => {
    expect(new Set(Array.from({ length: 10_000 }, () => newApiToken())).size).toBe(10_000);
  });
});

describe("newKeyId", () => {
  it("is key_ and 16 base32 characters, unique", () => {
    const ids = Array.from({ length: 1000 }, () => newKeyId());
    expect(ids.every((id) => /^key_[0-9abcdefghjkmnpqrstvwxyz]{16}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(1000);
  });
});

describe("hashToken", () => {
  it("is the SHA-256 hex of the token's UTF-8 bytes", () => {
    expect(hashToken("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashToken("café")).toBe(createHash("sha256").update(Buffer.from("café", "utf8")).digest("hex"));
  });

  it("hashes a fresh token to 64 hex characters, not the token itself", () => {
    const token = newApiToken();
    const h = hashToken(token);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).toBe(createHash("sha256").update(token).digest("hex"));
    expect(h).not.toContain(token.slice(5));
  });
});
