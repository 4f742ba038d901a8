/** The dashboard's words for storage (web/src/storage-health.ts): every probe state, never colour alone. */
import { describe, expect, it } from "vitest";
import type { StorageSummary } from "../../functions/contract/storage.js";
import { storageView } from "../../web/src/storage-health.js";

const summary = (over: Partial<StorageSummary> = {}): StorageSummary => ({
  profile: "versitygw",
  label: "versitygw",
  partCheck: "sha256",
  uniformParts: false,
  probe: "verified",
  serving: true,
  message: "Storage refused a damaged part (400 BadDigest) and a damaged object (400 BadDigest).",
  ...over,
});

describe("dashboard: storage in words", () => {
  it("verified: OK, the profile and what storage checks, no banner", () => {
    const v = storageView(summary());
    expect(v).toEqual({
      state: "ok",
      word: "Verified",
      detail: "versitygw (profile versitygw) · storage checks each part's SHA-256",
    });
  });

  it("md5 and uniform parts are named", () => {
    const v = storageView(
      summary({ profile: "generic", label: "Any S3-compatible store", partCheck: "md5", uniformParts: true }),
    );
    expect(v.detail).toBe(
      "Any S3-compatible store (profile generic) · storage checks each part's MD5 · uniform parts",
    );
  });

  it("refused: the word, a few words on the row, and a page banner with the probe's sentence", () => {
    const message = "Storage accepted a part whose bytes did not match its signed digest.";
    const v = storageView(summary({ probe: "unverified", serving: false, message }));
    expect(v.state).toBe("down");
    expect(v.word).toBe("Refused");
    expect(v.detail).toBe("versitygw (profile versitygw) · parts signed with SHA-256");
    expect(v.message).toBe("Storage accepted damaged bytes.");
    expect(v.banner).toEqual({ title: "Transfers are refused", text: message });
    expect(storageView(summary({ probe: "failed", serving: false })).message).toBe(
      "Storage could not be probed.",
    );
    expect(storageView(summary({ probe: "pending", serving: false })).message).toBe(
      "Storage has not been probed yet.",
    );
  });

  it("served unverified by choice: a warning and a banner saying only the file's SHA-256 protects it", () => {
    const v = storageView(summary({ probe: "unverified", serving: true, message: "allowed" }));
    expect(v.state).toBe("warn");
    expect(v.word).toBe("Unverified");
    expect(v.banner?.text).toMatch(/only each file's SHA-256/);
  });

  it("pending while serving is a warning; no summary (an older coordinator) is unknown", () => {
    expect(
      storageView(summary({ probe: "pending", message: "The storage probe has not run yet." })),
    ).toMatchObject({
      state: "warn",
      word: "Not probed",
      message: "The storage probe has not run yet.",
    });
    expect(storageView(undefined)).toMatchObject({ state: "unknown", word: "Unknown" });
  });
});
