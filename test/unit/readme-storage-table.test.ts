/**
 * The README's storage compatibility table says what the profiles say: one row per profile, its per-part
 * check and its part rule read from functions/core/storage-profiles.ts, so the table cannot drift from
 * the data the coordinator runs on.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STORAGE_PROFILE_NAMES } from "../../functions/contract/storage.js";
import { STORAGE_PROFILES } from "../../functions/core/storage-profiles.js";

const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");

/** The rows of the table whose header starts with "| Store |", as cells. */
function storageRows(): string[][] {
  const lines = readme.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| Store ") && l.includes("SFTS_STORAGE_PROFILE"));
  expect(start, "the README has the storage table").toBeGreaterThan(-1);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split("|")
        .map((c) => c.trim()),
    );
  }
  return rows;
}

describe("the README's storage table", () => {
  it("has one row per profile, with the profile's check and part rule", () => {
    const rows = storageRows();
    const byProfile = new Map(rows.map((r) => [r[1]?.replaceAll("`", ""), r]));
    expect([...byProfile.keys()].sort()).toEqual([...STORAGE_PROFILE_NAMES].sort());
    for (const name of STORAGE_PROFILE_NAMES) {
      const row = byProfile.get(name) ?? [];
      const p = STORAGE_PROFILES[name];
      expect(row[2], `${name}: verified per part`).toBe(p.partCheck === "sha256" ? "SHA-256" : "MD5");
      expect(row[3], `${name}: uniform parts`).toBe(p.uniformParts ? "yes" : "no");
    }
  });
});
