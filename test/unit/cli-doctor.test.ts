/** `sfts doctor`'s engine on fake answers: every check's pass, warning and failure, and the exit code. */
import { describe, expect, it } from "vitest";
import {
  type DoctorProbes,
  type DoctorReport,
  type HealthAnswer,
  ProbeFailure,
  renderDoctor,
  runDoctor,
  type StorageAnswer,
} from "../../cli/engine/doctor.js";
import { formatSkew, SKEW_FAIL_MS, skewOf } from "../../cli/engine/doctor-checks.js";
import { EXIT } from "../../cli/engine/errors.js";
import type { ApiKeyInfo } from "../../functions/contract/keys.js";
import type { StorageInfo, StorageProbe } from "../../functions/contract/storage.js";

const SERVER = "http://127.0.0.1:5000";
const NOW = Date.parse("2026-03-01T12:00:00.000Z");

const health = (over: Partial<HealthAnswer> = {}): HealthAnswer => ({
  status: "ok",
  version: "0.1.0",
  time: new Date(NOW).toISOString(),
  checks: { s3: { ok: true, latencyMs: 3 }, dynamodb: { ok: true, latencyMs: 2 } },
  storage: {
    profile: "versitygw",
    label: "versitygw",
    partCheck: "sha256",
    uniformParts: false,
    probe: "verified",
    serving: true,
    message: "Storage refused damaged bytes.",
  },
  ...over,
});

const key: ApiKeyInfo = {
  keyId: "key_local",
  name: "local",
  role: "admin",
  createdAt: "2026-01-01T00:00:00.000Z",
};

const storage = (probe: Partial<StorageProbe> = {}, over: Partial<StorageInfo> = {}): StorageInfo => ({
  rules: {
    profile: "generic",
    partCheck: "md5",
    uniformParts: true,
    minPartSize: 5 * 2 ** 20,
    maxPartSize: 5 * 2 ** 30,
    maxParts: 10_000,
    maxObjectSize: 5 * 2 ** 40,
  },
  label: "Any S3-compatible store",
  probe: {
    state: "verified",
    partCheck: "md5",
    damagedPart: "400 BadDigest",
    damagedObject: "400 InvalidDigest",
    uniformAssembled: true,
    clockSkewMs: 120,
    message: "Storage refused a part and an object whose bytes did not match their Content-MD5.",
    ...probe,
  },
  allowUnverified: false,
  serving: true,
  endpoint: "http://127.0.0.1:7070",
  ...over,
});

/**
 * Storage's clock is `skewMs` (whole seconds) ahead of this machine's: the request's middle is half a second
 * into a second, where the Date header's whole second is the best estimate's.
 */
const answer = (skewMs = 0, over: Partial<StorageAnswer> = {}): StorageAnswer => ({
  status: 403,
  date: new Date(NOW + skewMs).toUTCString(),
  sentAt: NOW + 480,
  answeredAt: NOW + 520,
  ...over,
});

function probes(over: Partial<DoctorProbes> = {}): DoctorProbes {
  return {
    health: async () => health(),
    whoAmI: async () => key,
    storage: async () => storage(),
    reach: async () => answer(),
    ...over,
  };
}

const refuse =
  (message: string, code = "UNREACHABLE") =>
  async (): Promise<never> => {
    throw new ProbeFailure(message, code);
  };

const statuses = (r: DoctorReport) => Object.fromEntries(r.checks.map((c) => [c.name, c.status]));
const named = (r: DoctorReport, name: string) => r.checks.find((c) => c.name === name);
const doctor = (p: DoctorProbes, hasToken = true) => runDoctor(SERVER, p, { hasToken });

describe("sfts doctor: the engine", () => {
  it("has the coordinator probe storage now for an admin key, and reads the kept result for any other", async () => {
    const asked: (boolean | undefined)[] = [];
    const record = async (opts?: { fresh?: boolean }) => {
      asked.push(opts?.fresh);
      return storage();
    };
    await doctor(probes({ storage: record }));
    await doctor(probes({ storage: record, whoAmI: async () => ({ ...key, role: "user" as const }) }));
    expect(asked).toEqual([true, false]);
  });

  it("passes every check on a healthy coordinator, names the profile and what storage verifies, exit 0", async () => {
    const r = await doctor(probes());
    expect(r.checks.map((c) => c.name)).toEqual(["server", "token", "storage", "storage-reach", "clock"]);
    expect(statuses(r)).toEqual({
      server: "ok",
      token: "ok",
      storage: "ok",
      "storage-reach": "ok",
      clock: "ok",
    });
    expect(r.ok).toBe(true);
    expect(r.exitCode).toBe(EXIT.OK);
    expect(r.version).toBe("0.1.0");
    const s = named(r, "storage")?.detail ?? "";
    expect(s).toContain("profile generic");
    expect(s).toContain("storage verifies each part's MD5 (signed Content-MD5)");
    expect(s).toContain("uniform parts");
    expect(s).toContain("400 BadDigest");
    expect(s).toContain("400 InvalidDigest");
    expect(named(r, "storage-reach")?.detail).toBe("http://127.0.0.1:7070 answered 403 in 40 ms");
    expect(r.clockSkewMs).toEqual({ local: 0, coordinator: 120 });
    const text = renderDoctor(r);
    expect(text.split("\n").filter((l) => l.startsWith("✓ "))).toHaveLength(5);
    expect(text).toMatch(/All checks pass\.\n$/);
  });

  it("fails the server check when nothing answers, checks nothing it would need, exit 4", async () => {
    const r = await doctor(probes({ health: refuse("ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5000") }));
    expect(statuses(r)).toEqual({
      server: "fail",
      token: "skip",
      storage: "skip",
      "storage-reach": "skip",
      clock: "skip",
    });
    expect(named(r, "server")?.detail).toContain("ECONNREFUSED");
    expect(named(r, "server")?.hint).toContain("--server");
    expect(r.exitCode).toBe(EXIT.SERVER_UNREACHABLE);
    const text = renderDoctor(r);
    expect(text).toMatch(/^✗ Server +No answer from/m);
    expect(text).toMatch(/→ Is the coordinator running/);
    expect(text).toMatch(/1 check failed: Server\.\n$/);
  });

  it("fails the server check when its S3 or DynamoDB check is down, warns when it is degraded otherwise", async () => {
    const down = await doctor(
      probes({
        health: async () =>
          health({
            status: "degraded",
            checks: {
              s3: { ok: false, latencyMs: 5, error: "NoSuchBucket" },
              dynamodb: { ok: true, latencyMs: 2 },
            },
          }),
      }),
    );
    expect(named(down, "server")?.status).toBe("fail");
    expect(named(down, "server")?.detail).toContain("S3 down (NoSuchBucket)");
    expect(down.exitCode).toBe(EXIT.SERVER_UNREACHABLE);
    const degraded = await doctor(probes({ health: async () => health({ status: "degraded" }) }));
    expect(named(degraded, "server")?.status).toBe("warn");
    expect(degraded.ok).toBe(true);
    // Degraded because storage refuses transfers: the storage check fails, the server answered fine.
    const refusing = await doctor(
      probes({
        health: async () => health({ status: "degraded", storage: { ...health().storage!, serving: false } }),
        storage: async () => storage({ state: "unverified" }, { serving: false }),
      }),
    );
    expect(named(refusing, "server")?.status).toBe("ok");
    expect(named(refusing, "server")?.detail).toMatch(/storage refuses transfers/);
    expect(named(refusing, "storage")?.status).toBe("fail");
  });

  it("fails the token check for a refused token, exit 5, and still says what storage verifies from /health", async () => {
    const r = await doctor(
      probes({
        whoAmI: refuse("The server refused the API token (Invalid or revoked API token)", "UNAUTHORIZED"),
        storage: refuse("must not be asked"),
      }),
    );
    expect(named(r, "token")?.status).toBe("fail");
    expect(named(r, "token")?.detail).toMatch(/refused the API token/);
    expect(named(r, "token")?.hint).toMatch(/SFTS_TOKEN/);
    expect(named(r, "storage")?.status).toBe("ok");
    expect(named(r, "storage")?.detail).toMatch(/profile versitygw.*SHA-256.*from \/health/);
    expect(named(r, "storage-reach")?.status).toBe("skip");
    expect(r.exitCode).toBe(EXIT.AUTH);
  });

  it("fails the token check when there is no token, without asking the server for it", async () => {
    const r = await doctor(probes({ whoAmI: refuse("must not be asked") }), false);
    expect(named(r, "token")).toMatchObject({ status: "fail", detail: "No API token" });
    expect(named(r, "token")?.hint).toMatch(/sfts login/);
    expect(r.exitCode).toBe(EXIT.AUTH);
  });

  it("warns, not fails, for a coordinator older than GET /api/storage", async () => {
    const r = await doctor(
      probes({ storage: async () => null, health: async () => health({ storage: undefined }) }),
    );
    expect(named(r, "storage")?.status).toBe("warn");
    expect(named(r, "storage")?.detail).toMatch(/no GET \/api\/storage/);
    expect(named(r, "storage-reach")?.status).toBe("skip");
    expect(named(r, "clock")?.status).toBe("skip");
    expect(r.ok).toBe(true);
    expect(r.exitCode).toBe(EXIT.OK);
  });

  it("fails the storage check when storage accepted damaged bytes and transfers are refused, with the probe's message", async () => {
    const message =
      "Storage accepted a part whose bytes did not match its signed digest; transfers are refused.";
    const r = await doctor(
      probes({
        storage: async () =>
          storage({ state: "unverified", damagedPart: "200 OK", message }, { serving: false }),
      }),
    );
    const s = named(r, "storage");
    expect(s?.status).toBe("fail");
    expect(s?.detail).toContain("Transfers are refused");
    expect(s?.detail).toContain("probe unverified");
    expect(s?.detail).toContain("the coordinator signs each part's MD5");
    expect(s?.detail).not.toContain("storage verifies");
    expect(s?.detail).toContain(message);
    expect(s?.hint).toMatch(/SFTS_STORAGE_PROFILE.*SFTS_ALLOW_UNVERIFIED_STORAGE=1/);
    expect(r.exitCode).toBe(EXIT.REJECTED);
  });

  it("warns when unverified storage is served by choice, fails for a probe that failed or has not run", async () => {
    const allowed = await doctor(
      probes({
        storage: async () =>
          storage({ state: "unverified", message: "served unverified" }, { allowUnverified: true }),
      }),
    );
    expect(named(allowed, "storage")?.status).toBe("warn");
    expect(named(allowed, "storage")?.hint).toMatch(/not verified by storage/);
    expect(allowed.exitCode).toBe(EXIT.OK);
    for (const state of ["failed", "pending"] as const) {
      const r = await doctor(
        probes({ storage: async () => storage({ state, message: state }, { serving: false }) }),
      );
      expect(named(r, "storage")?.status).toBe("fail");
      expect(named(r, "storage")?.hint).toBeDefined();
      expect(r.exitCode).toBe(EXIT.REJECTED);
    }
  });

  it("fails the reach check when storage's endpoint gives no answer, with the error, exit 7", async () => {
    const r = await doctor(
      probes({ reach: refuse("ENOTFOUND: getaddrinfo ENOTFOUND s3.internal", "ENOTFOUND") }),
    );
    expect(named(r, "storage-reach")?.status).toBe("fail");
    expect(named(r, "storage-reach")?.detail).toContain("http://127.0.0.1:7070 cannot be reached");
    expect(named(r, "storage-reach")?.detail).toContain("ENOTFOUND");
    expect(named(r, "storage-reach")?.hint).toMatch(/SFTS_S3_PUBLIC_ENDPOINT/);
    // The coordinator's own skew is still judged.
    expect(named(r, "clock")?.status).toBe("ok");
    expect(r.exitCode).toBe(EXIT.NETWORK);
  });

  it("judges the clock: a few seconds pass, over a minute warns, over 15 minutes fails", async () => {
    const at = async (skewMs: number) => doctor(probes({ reach: async () => answer(skewMs) }));
    expect(named(await at(3_000), "clock")?.status).toBe("ok");
    const warn = await at(-2 * 60_000);
    expect(named(warn, "clock")?.status).toBe("warn");
    expect(named(warn, "clock")?.detail).toContain("this machine +2 min 0 s");
    expect(warn.exitCode).toBe(EXIT.OK);
    const fail = await at(SKEW_FAIL_MS + 60_000);
    expect(named(fail, "clock")?.status).toBe("fail");
    expect(named(fail, "clock")?.hint).toMatch(/this machine's clock/);
    expect(fail.exitCode).toBe(EXIT.REJECTED);
  });

  it("fails the clock check when the coordinator's clock (its probe's skew) is 15 minutes off storage", async () => {
    const r = await doctor(probes({ storage: async () => storage({ clockSkewMs: -20 * 60_000 }) }));
    expect(named(r, "clock")?.status).toBe("fail");
    expect(named(r, "clock")?.detail).toContain("the coordinator +20 min 0 s");
    expect(named(r, "clock")?.hint).toMatch(/coordinator's clock/);
  });

  it("warns when storage's answer has no Date header and the coordinator gave no skew", async () => {
    const r = await doctor(
      probes({
        storage: async () => storage({ clockSkewMs: undefined }),
        reach: async () => answer(0, { date: null }),
      }),
    );
    expect(named(r, "clock")?.status).toBe("warn");
    expect(r.clockSkewMs).toBeUndefined();
  });

  it("exits with the first failing check's code", async () => {
    const r = await doctor(
      probes({ whoAmI: refuse("refused", "UNAUTHORIZED"), reach: refuse("ECONNREFUSED") }),
    );
    expect(r.exitCode).toBe(EXIT.AUTH);
    expect(renderDoctor(r)).toMatch(/1 check failed: API token\.\n$/);
  });

  it("reads skew from a whole-second Date header and formats it", () => {
    expect(skewOf(answer(0))).toBe(0);
    expect(skewOf(answer(90_000))).toBe(90_000);
    expect(skewOf(answer(0, { date: "not a date" }))).toBeUndefined();
    expect(formatSkew(-400)).toBe("−0.4 s");
    expect(formatSkew(125_000)).toBe("+2 min 5 s");
    expect(formatSkew(-119_600)).toBe("−2 min 0 s");
  });
});
