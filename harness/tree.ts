/**
 * Deterministic file sets for the folder benchmark (bench/files.ts): flat folders of equal files and a
 * mixed tree (nested folders, 0 B to 20 MiB, empty files and empty folders, names with spaces and
 * non-ASCII letters). A set is a plan (paths and sizes, from a seed) and its files, written with
 * contents derived from the seed, a salt and each path (AES-256-CTR keystream: incompressible, the
 * same bytes for the same seed and salt, different bytes for another salt), hashed on the way.
 */
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { seededRandom } from "./profiles.js";

const KiB = 1024;
const MiB = 1024 * KiB;

export interface TreePlan {
  /** Files by path relative to the set's root, / separated, sorted. */
  files: { path: string; size: number }[];
  /** Empty folders (no file or folder inside), relative. */
  emptyDirs: string[];
}

export interface WrittenTree {
  root: string;
  /** SHA-256 (hex) by relative path. */
  sha256: Map<string, string>;
  bytes: number;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** `count` files of `size` bytes in one folder: f00000.bin, f00001.bin, … */
export function flatPlan(count: number, size: number): TreePlan {
  const width = String(count - 1).length;
  return {
    files: Array.from({ length: count }, (_, i) => ({ path: `f${pad(i, width)}.bin`, size })),
    emptyDirs: [],
  };
}

/** Folder names of the mixed tree: plain ones, with spaces, a leading dot, and non-ASCII letters. */
const DIR_NAMES = [
  "data",
  "raw",
  "scans",
  "2026",
  "day 1",
  "day 2",
  "données",
  "東京",
  ".cache",
  "results",
  "logs",
  "sub",
  "notes & drafts",
  "ünïcödé",
];
const FILE_STEMS = ["sample", "scan", "frame", "report", "log", "image", "table", "résumé", "读我", "a b c"];
const EXTENSIONS = [".bin", ".dat", ".tif", ".csv", ".txt", ""];

/**
 * A mixed tree from `seed`: folders up to four levels deep, `files` files spread over them, sizes
 * 0 B to 20 MiB (a few empty files, mostly small ones, some of several MiB, a few above 8 MiB, the
 * CLI's default part size, and one of exactly 20 MiB), and two empty folders.
 */
export function mixedPlan(seed: number, files = 250): TreePlan {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  // Folders: a root-level few, each with up to three subfolders, down to depth 4.
  const dirs: string[] = [""];
  const grow = (parent: string, depth: number) => {
    const children = depth === 1 ? 4 : between(0, 3);
    const used = new Set<string>();
    for (let i = 0; i < children; i++) {
      let name = pick(DIR_NAMES);
      while (used.has(name)) name = `${pick(DIR_NAMES)} ${between(1, 99)}`;
      used.add(name);
      const path = parent ? `${parent}/${name}` : name;
      dirs.push(path);
      if (depth < 4) grow(path, depth + 1);
    }
  };
  grow("", 1);
  const out = new Map<string, number>();
  for (let i = 0; i < files; i++) {
    const r = random();
    let size: number;
    if (i === 0) size = 20 * MiB;
    else if (r < 0.04) size = 0;
    else if (r < 0.45) size = between(1, 16 * KiB);
    else if (r < 0.9) size = between(16 * KiB, MiB);
    else if (r < 0.98) size = between(MiB, 8 * MiB);
    else size = between(8 * MiB + 1, 20 * MiB);
    const dir = pick(dirs);
    const name = `${pick(FILE_STEMS)} ${pad(i, 3)}${pick(EXTENSIONS)}`;
    out.set(dir ? `${dir}/${name}` : name, size);
  }
  // Two empty folders, beside the files.
  const emptyDirs = [`${pick(dirs.slice(1))}/empty`, "empty at the top"];
  const files_ = [...out].map(([path, size]) => ({ path, size }));
  files_.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: files_, emptyDirs };
}

export const planBytes = (plan: TreePlan): number => plan.files.reduce((s, f) => s + f.size, 0);

/** Writes one file's deterministic bytes (8 MiB at a time) and returns their SHA-256. */
async function writeDeterministic(file: string, size: number, key: Buffer): Promise<string> {
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const hash = createHash("sha256");
  const f = await open(file, "w");
  try {
    const zeros = Buffer.alloc(Math.min(8 * MiB, Math.max(size, 1)));
    for (let done = 0; done < size; ) {
      const n = Math.min(zeros.length, size - done);
      const chunk = cipher.update(zeros.subarray(0, n));
      hash.update(chunk);
      await f.write(chunk);
      done += n;
    }
  } finally {
    await f.close();
  }
  return hash.digest("hex");
}

/**
 * Writes `plan` under `root` (created), the bytes of each file derived from seed, salt and path, 16
 * files at a time. The same seed and salt give the same bytes; another salt gives other bytes (no
 * deduplication between two copies), the empty files excepted.
 */
export async function writeTree(
  root: string,
  plan: TreePlan,
  seed: number,
  salt: string,
): Promise<WrittenTree> {
  const sha256 = new Map<string, string>();
  const dirs = new Set<string>([root]);
  for (const f of plan.files) dirs.add(dirname(join(root, f.path)));
  for (const d of plan.emptyDirs) dirs.add(join(root, d));
  for (const d of dirs) await mkdir(d, { recursive: true });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < plan.files.length; i = next++) {
      const f = plan.files[i];
      if (!f) continue;
      const key = createHash("sha256").update(`${seed}\0${salt}\0${f.path}`).digest();
      sha256.set(f.path, await writeDeterministic(join(root, f.path), f.size, key));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { root, sha256, bytes: planBytes(plan) };
}
