import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type JournalEntry,
  journalDir,
  journalPath,
  readJournal,
  removeJournal,
  writeJournal,
} from "../../cli/engine/journal.js";

let root: string;
let env: Record<string, string>;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "sfts-cli-journal-"));
  env = { HOME: join(root, "home"), XDG_STATE_HOME: join(root, "state") };
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const entry = (over: Partial<JournalEntry> = {}): JournalEntry => ({
  version: 1,
  server: "http://127.0.0.1:5000",
  path: "/data/big.bin",
  size: 11 * 1024 * 1024 + 1024,
  mtimeMs: 1_700_000_000_123.5,
  ino: 424242,
  sha256: "a".repeat(64),
  transferId: "tr_0123456789abcdef",
  partsDone: 3,
  bytesDone: 9 * 1024 * 1024,
  updatedAt: "2025-01-01T00:00:00.000Z",
  ...over,
});

describe("journalPath", () => {
  it("keeps journals in $XDG_STATE_HOME/sfts/journal as <40 hex>.json", () => {
    const file = journalPath("http://127.0.0.1:5000", "/data/big.bin", env);
    expect(dirname(file)).toBe(join(root, "state", "sfts", "journal"));
    expect(journalDir(env)).toBe(dirname(file));
    expect(file).toMatch(/[/\\][0-9a-f]{40}\.json$/);
  });

  it("is stable for the same server and file", () => {
    expect(journalPath("http://a.example", "/x", env)).toBe(journalPath("http://a.example", "/x", env));
  });

  it("differs by server and by path", () => {
    const base = journalPath("http://a.example", "/data/x.bin", env);
    expect(journalPath("http://b.example", "/data/x.bin", env)).not.toBe(base);
    expect(journalPath("http://a.example", "/data/y.bin", env)).not.toBe(base);
    // The separator keeps "server + path" pairs from colliding when they concatenate alike.
    expect(journalPath("http://a.example/", "data", env)).not.toBe(
      journalPath("http://a.example", "/data", env),
    );
  });
});

describe("writeJournal / readJournal", () => {
  it("reads back what was written, creating the directory", () => {
    const file = journalPath("http://127.0.0.1:5000", "/data/big.bin", env);
    const e = entry();
    writeJournal(file, e);
    expect(readJournal(file)).toEqual(e);
  });

  it("replaces an earlier entry", () => {
    const file = journalPath("http://127.0.0.1:5000", "/data/big.bin", env);
    writeJournal(file, entry({ partsDone: 1, bytesDone: 8 }));
    writeJournal(file, entry({ partsDone: 2, bytesDone: 16 }));
    expect(readJournal(file)).toMatchObject({ partsDone: 2, bytesDone: 16 });
  });

  it("leaves no temporary file behind and keeps the journal private", () => {
    const file = journalPath("http://127.0.0.1:5000", "/data/big.bin", env);
    for (let i = 0; i < 3; i++) writeJournal(file, entry({ partsDone: i }));
    expect(readdirSync(dirname(file))).toEqual([file.slice(dirname(file).length + 1)]);
    if (process.platform !== "win32") expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("fills in counters missing from an older entry", () => {
    const file = join(root, "old.json");
    const { partsDone: _p, bytesDone: _b, ...old } = entry();
    writeFileSync(file, JSON.stringify(old));
    expect(readJournal(file)).toMatchObject({ partsDone: 0, bytesDone: 0 });
  });

  it("reads a missing, torn or foreign file as nothing", () => {
    const dir = join(root, "j");
    mkdirSync(dir);
    expect(readJournal(join(dir, "missing.json"))).toBeUndefined();
    const whole = JSON.stringify(entry());
    const cases: Record<string, string> = {
      empty: "",
      torn: whole.slice(0, whole.length / 2),
      garbage: "\u0000\u0001\u00ff not json",
      array: "[]",
      null: "null",
      wrongVersion: JSON.stringify(entry({ version: 2 as 1 })),
      badSha: JSON.stringify(entry({ sha256: "xyz" })),
      noTransfer: JSON.stringify({ ...entry(), transferId: undefined }),
    };
    for (const [name, content] of Object.entries(cases)) {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, content);
      expect(readJournal(file), name).toBeUndefined();
    }
    expect(readJournal(dir)).toBeUndefined();
  });

  it("removes a journal, and removing a missing one is not an error", () => {
    const file = journalPath("http://127.0.0.1:5000", "/data/big.bin", env);
    writeJournal(file, entry());
    removeJournal(file);
    expect(readJournal(file)).toBeUndefined();
    expect(() => removeJournal(file)).not.toThrow();
  });
});
