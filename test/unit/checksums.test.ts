import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  base64ToHex,
  compositeSha256,
  EMPTY_SHA256_HEX,
  hexToBase64,
} from "../../functions/core/checksums.js";

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data);
const digestHex = (data: string | Uint8Array) => sha256(data).digest("hex");

/** The S3 composite checksum, computed independently: SHA-256 over the concatenated raw part digests. */
function s3Composite(partDigestsHex: readonly string[]): string {
  const raw = Buffer.concat(partDigestsHex.map((h) => Buffer.from(h, "hex")));
  return `${createHash("sha256").update(raw).digest("base64")}-${partDigestsHex.length}`;
}

const digestArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));

describe("EMPTY_SHA256_HEX", () => {
  it("is the SHA-256 of zero bytes", () => {
    expect(EMPTY_SHA256_HEX).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(EMPTY_SHA256_HEX).toBe(digestHex(""));
  });
});

describe("hexToBase64 and base64ToHex", () => {
  it("convert the empty digest both ways", () => {
    expect(hexToBase64(EMPTY_SHA256_HEX)).toBe("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    expect(base64ToHex("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")).toBe(EMPTY_SHA256_HEX);
  });

  it("give what S3 would send for the digest of some bytes", () => {
    const hash = sha256("hello");
    const [hex, b64] = [hash.copy().digest("hex"), hash.digest("base64")];
    expect(hexToBase64(hex)).toBe(b64);
    expect(base64ToHex(b64)).toBe(hex);
  });

  it("accept upper-case hex", () => {
    expect(hexToBase64(EMPTY_SHA256_HEX.toUpperCase())).toBe(hexToBase64(EMPTY_SHA256_HEX));
  });

  it("round-trip any 32-byte digest (lower-case hex)", () => {
    fc.assert(
      fc.property(digestArb, (hex) => {
        const b64 = hexToBase64(hex);
        expect(b64).toHaveLength(44);
        expect(b64).toBe(Buffer.from(hex, "hex").toString("base64"));
        expect(base64ToHex(b64)).toBe(hex);
      }),
    );
  });
});

describe("compositeSha256", () => {
  it("matches the S3 definition for one part", () => {
    const d = digestHex("part one");
    expect(compositeSha256([d])).toBe(s3Composite([d]));
    expect(compositeSha256([d])).toMatch(/^[A-Za-z0-9+/]{43}=-1$/);
    // Not the part's own digest: S3 hashes the digest again.
    expect(compositeSha256([d])).not.toBe(`${hexToBase64(d)}-1`);
  });

  it("matches a hand-computed value for two known parts", () => {
    const a = digestHex("a");
    const b = digestHex("b");
    const expected = createHash("sha256")
      .update(Buffer.concat([Buffer.from(a, "hex"), Buffer.from(b, "hex")]))
      .digest("base64");
    expect(compositeSha256([a, b])).toBe(`${expected}-2`);
  });

  it("depends on part order", () => {
    const a = digestHex("a");
    const b = digestHex("b");
    expect(compositeSha256([a, b])).not.toBe(compositeSha256([b, a]));
  });

  it("hashes the raw digests, not their hex text", () => {
    const a = digestHex("a");
    const ofText = `${createHash("sha256").update(a, "utf8").digest("base64")}-1`;
    expect(compositeSha256([a])).not.toBe(ofText);
  });

  it("matches the S3 definition for any list of part digests", () => {
    fc.assert(
      fc.property(fc.array(digestArb, { minLength: 1, maxLength: 50 }), (digests) => {
        const c = compositeSha256(digests);
        expect(c).toBe(s3Composite(digests));
        expect(c.endsWith(`-${digests.length}`)).toBe(true);
      }),
    );
  });
});
