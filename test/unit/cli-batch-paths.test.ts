import { describe, expect, it } from "vitest";
import {
  collisions,
  foldName,
  nameSome,
  placeUnder,
  shownPath,
  unsafePaths,
} from "../../cli/engine/batch-plan.js";

const root = "/tmp/copy";

describe("placeUnder / unsafePaths: every path must stay inside the target folder", () => {
  it("places names as data: spaces, Unicode, leading dots, nested folders", () => {
    for (const p of [
      "a.txt",
      "dir/sub/b c.bin",
      ".hidden",
      "dir/.env",
      "données/été 2026/ü.txt",
      "..a",
      "a..",
      "...",
    ])
      expect(placeUnder(root, p), p).toEqual({ abs: `${root}/${p}` });
    expect(unsafePaths(root, ["a", "b/c", ".x"])).toEqual([]);
  });

  it("refuses absolute paths, .. and . segments, drive letters, NUL, backslashes, empty segments", () => {
    const bad = [
      "/etc/passwd",
      "../escape.txt",
      "a/../../escape",
      "a/./b",
      "a/..",
      "C:/Windows/win.ini",
      "c:evil",
      "a\u0000b",
      "..\\..\\evil",
      "dir\\file",
      "a//b",
      "a/",
      "",
      "\ud800lone",
    ];
    const problems = unsafePaths(root, bad);
    expect(problems.map((p) => p.path)).toEqual(bad);
    for (const p of problems) expect(p.reason.length).toBeGreaterThan(0);
    expect(placeUnder(root, "../x")).toEqual({ reason: "has a . or .. segment" });
  });
});

describe("collisions: paths that would overwrite one another", () => {
  it("none for distinct names, and none for a folder shared by many files", () => {
    expect(collisions(["a/1", "a/2", "b", "A1"], ["empty", "a/empty"])).toEqual([]);
  });

  it("case-folded equals (A.txt, a.txt) are named together", () => {
    expect(collisions(["A.txt", "a.txt", "b.txt"])).toEqual([
      { paths: ["A.txt", "a.txt"], reason: "the same name when case or accents fold" },
    ]);
  });

  it("NFC and NFD spellings of é are one name; so are folders that differ only so", () => {
    const nfc = "caf\u00e9.txt";
    const nfd = "cafe\u0301.txt";
    expect(nfc).not.toBe(nfd);
    expect(foldName(nfc)).toBe(foldName(nfd));
    expect(collisions([nfc, nfd])).toHaveLength(1);
    expect(collisions([`d/${nfc}`, `D/${nfd}`])[0]?.paths).toEqual([`D/${nfd}`, `d/${nfc}`]); // code-unit order
  });

  it("the same path twice, and a file that is another entry's folder", () => {
    expect(collisions(["x", "x"])).toEqual([{ paths: ["x", "x"], reason: "the same path twice" }]);
    expect(collisions(["a", "a/b"])).toEqual([
      { paths: ["a", "a/b"], reason: "a file, and the folder of another entry" },
    ]);
    expect(collisions(["Docs"], ["docs/empty"])).toEqual([
      { paths: ["Docs", "docs/empty"], reason: "a file, and the folder of another entry" },
    ]);
    expect(collisions(["f"], ["f"])).toHaveLength(1);
  });
});

describe("shownPath", () => {
  it("quotes a path, and spells non-ASCII in code points so NFC and NFD differ on screen", () => {
    expect(shownPath("a b.txt")).toBe('"a b.txt"');
    expect(shownPath("caf\u00e9")).toBe('"caf\u00e9" (caf\\u00e9)');
    expect(shownPath("cafe\u0301")).toBe('"cafe\u0301" (cafe\\u0301)');
    expect(shownPath("a\tb")).toBe('"a\\tb" (a\\u0009b)');
  });
});

describe("nameSome", () => {
  it("names at most ten, then says how many more", () => {
    const lines = Array.from({ length: 12 }, (_, i) => `p${i}`);
    const text = nameSome(lines);
    expect(text.split("\n")).toHaveLength(11);
    expect(text).toContain("  p9");
    expect(text).not.toContain("p10");
    expect(text.endsWith("… and 2 more")).toBe(true);
  });
});
