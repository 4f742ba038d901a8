/**
 * sst.config.ts and infra/ type-check against SST 3.19.3's real types (.sst/platform, made offline by
 * scripts/sst-types.mjs) — and a mistake in a component's arguments fails that check. Both checks run on
 * copies of the files (the broken copy must not touch the tree), side by side.
 */
import { execFile, execFileSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/build.js";

const dirs: string[] = [];

/** A copy of what tsconfig.infra.json checks, with SST's types and the code infra/ imports linked in. */
async function copyOfInfra(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sfts-infra-check-"));
  dirs.push(dir);
  for (const f of ["tsconfig.infra.json", "sst.config.ts", "infra", "scripts"])
    await cp(join(repoRoot, f), join(dir, f), { recursive: true });
  for (const f of [".sst", "functions", "node_modules"]) await symlink(join(repoRoot, f), join(dir, f));
  return dir;
}

async function replaceIn(file: string, from: string, to: string) {
  const text = await readFile(file, "utf8");
  expect(text, `${file} should contain ${from}`).toContain(from);
  await writeFile(file, text.replace(from, to));
}

function tsc(dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        "tsconfig.infra.json",
        "--pretty",
        "false",
      ],
      { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

let real: { code: number; out: string };
let broken: { code: number; out: string };

beforeAll(async () => {
  execFileSync(process.execPath, [join(repoRoot, "scripts", "sst-types.mjs")], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  const good = await copyOfInfra();
  const bad = await copyOfInfra();
  // Two mistakes of the kind a config change makes: a runtime Lambda does not have, a misspelt S3 field.
  await replaceIn(join(bad, "infra", "api.ts"), "runtime: LAMBDA_RUNTIME,", 'runtime: "nodejs99.x",');
  await replaceIn(
    join(bad, "infra", "storage.ts"),
    "abortIncompleteMultipartUpload: { daysAfterInitiation: abortAfterDays }",
    "abortIncompleteMultipartUpload: { daysAfterInitation: abortAfterDays }",
  );
  [real, broken] = await Promise.all([tsc(good), tsc(bad)]);
}, 240_000);

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("infra/ against SST's real types", () => {
  it("the real sst.config.ts and infra/ pass", () => {
    expect(real.out).toBe("");
    expect(real.code).toBe(0);
  });

  it("a wrong component argument fails the check, naming the file and the argument", () => {
    expect(broken.code).not.toBe(0);
    const errors = broken.out.split("\n").filter((l) => /error TS\d+/.test(l));
    expect(errors).toHaveLength(2);
    expect(errors.find((l) => l.startsWith("infra/api.ts"))).toMatch(
      /TS(2322|2820).*"nodejs99\.x".*not assignable/,
    );
    expect(errors.find((l) => l.startsWith("infra/storage.ts"))).toMatch(/TS(2353|2561).*daysAfterInitation/);
  });
});
