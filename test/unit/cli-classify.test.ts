import { describe, expect, it } from "vitest";
import {
  classifyHttp,
  classifyNetwork,
  isUrlExpired,
  networkCode,
  storageError,
  toCliError,
} from "../../cli/engine/classify.js";
import { CliError, EXIT } from "../../cli/engine/errors.js";

const s3 = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

describe("classifyHttp: storage", () => {
  const rows: [number, string, string, { code: string; retryable: boolean; renew: boolean; exit: number }][] =
    [
      [
        400,
        "BadDigest",
        "The Content-MD5 you specified did not match",
        { code: "BadDigest", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        400,
        "XAmzContentSHA256Mismatch",
        "mismatch",
        { code: "XAmzContentSHA256Mismatch", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        400,
        "InvalidDigest",
        "bad",
        { code: "InvalidDigest", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        403,
        "AccessDenied",
        "Request has expired",
        { code: "URL_EXPIRED", retryable: true, renew: true, exit: EXIT.NETWORK },
      ],
      [
        403,
        "ExpiredToken",
        "The provided token has expired.",
        { code: "URL_EXPIRED", retryable: true, renew: true, exit: EXIT.NETWORK },
      ],
      [
        403,
        "RequestTimeTooSkewed",
        "skewed",
        { code: "RequestTimeTooSkewed", retryable: false, renew: false, exit: EXIT.REJECTED },
      ],
      [
        403,
        "AccessDenied",
        "Access Denied",
        { code: "AccessDenied", retryable: false, renew: false, exit: EXIT.REJECTED },
      ],
      [
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match",
        { code: "SignatureDoesNotMatch", retryable: false, renew: false, exit: EXIT.REJECTED },
      ],
      [
        404,
        "NoSuchUpload",
        "The specified upload does not exist",
        { code: "NoSuchUpload", retryable: false, renew: false, exit: EXIT.REJECTED },
      ],
      [
        404,
        "NoSuchKey",
        "The specified key does not exist",
        { code: "NoSuchKey", retryable: false, renew: false, exit: EXIT.REJECTED },
      ],
      [
        408,
        "RequestTimeout",
        "Your socket connection was not read from",
        { code: "RequestTimeout", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        400,
        "RequestTimeout",
        "idle",
        { code: "RequestTimeout", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        429,
        "TooManyRequests",
        "slow",
        { code: "TooManyRequests", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        503,
        "SlowDown",
        "Please reduce your request rate.",
        { code: "SlowDown", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        500,
        "InternalError",
        "oops",
        { code: "InternalError", retryable: true, renew: false, exit: EXIT.NETWORK },
      ],
      [
        416,
        "InvalidRange",
        "The requested range is not satisfiable",
        { code: "InvalidRange", retryable: false, renew: false, exit: EXIT.REJECTED },
      ],
      [
        400,
        "EntityTooLarge",
        "too large",
        { code: "EntityTooLarge", retryable: false, renew: false, exit: EXIT.REJECTED },
      ],
    ];
  for (const [status, code, message, want] of rows)
    it(`${status} ${code} (${message}) → ${want.code}, ${want.retryable ? "retry" : "terminal"}${want.renew ? ", new URL" : ""}, exit ${want.exit}`, () => {
      const v = classifyHttp({ service: "storage", status, code, message, what: "the part" });
      expect({ code: v.code, retryable: v.retryable, renew: v.renewUrl, exit: v.exitCode }).toEqual(want);
      expect(v.message.length).toBeGreaterThan(0);
    });

  it("without an XML body the status decides: 502 retries, 400 does not, codes come from the status", () => {
    expect(classifyHttp({ service: "storage", status: 502 })).toMatchObject({
      code: "HTTP_502",
      retryable: true,
    });
    expect(classifyHttp({ service: "storage", status: 400 })).toMatchObject({
      code: "HTTP_400",
      retryable: false,
    });
  });

  it("keeps Retry-After for throttling, and names what was refused", () => {
    const e = storageError(503, s3("SlowDown", "Reduce your request rate."), 1500, "the part");
    expect(e).toBeInstanceOf(CliError);
    expect(e).toMatchObject({
      code: "SlowDown",
      retryable: true,
      retryAfterMs: 1500,
      exitCode: EXIT.NETWORK,
    });
    expect(e.message).toBe("Storage refused the part: SlowDown (Reduce your request rate.)");
  });

  it("an expired URL is told apart from any other refusal", () => {
    expect(
      isUrlExpired(storageError(403, s3("AccessDenied", "Request has expired"), undefined, "the range")),
    ).toBe(true);
    expect(isUrlExpired(storageError(403, s3("AccessDenied", "Access Denied"), undefined, "the range"))).toBe(
      false,
    );
    expect(isUrlExpired(new Error("URL_EXPIRED"))).toBe(false);
  });
});

describe("classifyHttp: the coordinator", () => {
  const api = (status: number, code?: string) =>
    classifyHttp({ service: "api", status, code, message: "said" });

  it("401 is an auth failure (exit 5), never retried", () => {
    expect(api(401, "UNAUTHORIZED")).toMatchObject({
      code: "UNAUTHORIZED",
      retryable: false,
      exitCode: EXIT.AUTH,
    });
    expect(api(401).message).toMatch(/--token or SFTS_TOKEN/);
  });
  it("404 NOT_FOUND / SHARE_NOT_FOUND exit 10; a 404 without the API's code is a refusal (exit 6)", () => {
    expect(api(404, "NOT_FOUND")).toMatchObject({ retryable: false, exitCode: EXIT.NOT_FOUND });
    expect(api(404, "SHARE_NOT_FOUND")).toMatchObject({ retryable: false, exitCode: EXIT.NOT_FOUND });
    expect(api(404)).toMatchObject({ code: "HTTP_404", retryable: false, exitCode: EXIT.REJECTED });
  });
  it("408, 429 and 5xx are retried, as are the API's transient codes whatever the status", () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(api(s).retryable, String(s)).toBe(true);
    for (const c of ["PART_CONFLICT", "RATE_LIMITED", "STORAGE_UNAVAILABLE", "DATABASE_UNAVAILABLE"])
      expect(api(409, c), c).toMatchObject({ code: c, retryable: true, exitCode: EXIT.NETWORK });
  });
  it("a 503 STORAGE_UNVERIFIED is not retried: no retry makes storage refuse damaged bytes", () => {
    expect(api(503, "STORAGE_UNVERIFIED")).toMatchObject({
      code: "STORAGE_UNVERIFIED",
      retryable: false,
      exitCode: EXIT.NETWORK,
      message: "said",
    });
  });
  it("403 and other 4xx are terminal refusals (exit 6) with the server's message", () => {
    expect(api(403, "FORBIDDEN")).toMatchObject({
      retryable: false,
      exitCode: EXIT.REJECTED,
      message: "said",
    });
    expect(api(400, "VALIDATION")).toMatchObject({ retryable: false, exitCode: EXIT.REJECTED });
    expect(api(409, "SIZE_MISMATCH")).toMatchObject({ retryable: false });
  });
  it("a 403 that mentions expiry from the API is not a spent URL (only storage's is)", () => {
    expect(
      classifyHttp({ service: "api", status: 403, code: "FORBIDDEN", message: "key expired" }).renewUrl,
    ).toBe(false);
  });
});

describe("classifyNetwork", () => {
  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  it("reads the errno code from the error, its cause (fetch), or an AggregateError's errors", () => {
    expect(networkCode(reset)).toBe("ECONNRESET");
    expect(networkCode(new TypeError("fetch failed", { cause: reset }))).toBe("ECONNRESET");
    expect(
      networkCode(new TypeError("fetch failed", { cause: { errors: [{}, { code: "ECONNREFUSED" }] } })),
    ).toBe("ECONNREFUSED");
    expect(networkCode(new Error("?"))).toBe("NETWORK");
  });
  it("storage: every network failure, timeout and stall is retryable (exit 7)", () => {
    expect(classifyNetwork({ service: "storage", error: reset, what: "sending the part" })).toMatchObject({
      code: "ECONNRESET",
      retryable: true,
      exitCode: EXIT.NETWORK,
      message: "Sending the part failed (ECONNRESET)",
    });
    expect(classifyNetwork({ service: "storage", stallMs: 30_000 })).toMatchObject({
      code: "STALL",
      retryable: true,
      message: "No progress for 30s",
    });
    expect(classifyNetwork({ service: "storage", timeoutMs: 5000 })).toMatchObject({
      code: "TIMEOUT",
      retryable: true,
    });
  });
  it("api: unreachable (exit 4) until the server once answered, then a network failure (exit 7); both retried", () => {
    const first = classifyNetwork({ service: "api", error: reset, reached: false, server: "http://x" });
    expect(first).toMatchObject({
      code: "SERVER_UNREACHABLE",
      retryable: true,
      exitCode: EXIT.SERVER_UNREACHABLE,
    });
    expect(first.message).toBe("Cannot reach the SFTS server at http://x (ECONNRESET)");
    const later = classifyNetwork({ service: "api", timeoutMs: 60_000, reached: true, server: "http://x" });
    expect(later).toMatchObject({ code: "NETWORK", retryable: true, exitCode: EXIT.NETWORK });
    expect(later.message).toMatch(/no answer within 60s/);
  });
  it("toCliError carries every field", () => {
    const e = toCliError(
      classifyHttp({ service: "api", status: 429, code: "RATE_LIMITED", retryAfterMs: 2000 }),
    );
    expect(e).toMatchObject({
      code: "RATE_LIMITED",
      retryable: true,
      retryAfterMs: 2000,
      exitCode: EXIT.NETWORK,
    });
  });
});
