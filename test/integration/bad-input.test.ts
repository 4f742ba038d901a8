import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  type Api,
  apiClient,
  initTransfer,
  MiB,
  planParts,
  randomFile,
  sendParts,
  sha256,
  tableSnapshot,
} from "../helpers/api.js";

const stack = inject("stack");
let api: Api;
let open: string; // a 12 MiB transfer still uploading
let complete: string; // a complete transfer
const unknown = "tr_00000000000000000000000000";
const goodSha = sha256(Buffer.from("x"));
const init = (over: Record<string, unknown>) => ({ name: "a.bin", size: 12 * MiB, sha256: goodSha, ...over });
const part = (over: Record<string, unknown>) => ({
  partNumber: 1,
  offset: 0,
  size: 5 * MiB,
  sha256: goodSha,
  ...over,
});

beforeAll(async () => {
  api = apiClient(stack);
  const data = randomFile(12 * MiB);
  open = (await initTransfer(api, data)).transferId;
  const small = randomFile(100);
  complete = (await initTransfer(api, small)).transferId;
  await sendParts(api, complete, small, planParts(small, [100]));
  expect((await api.post(`/assemble/${complete}`)).status).toBe(200);
});

interface Case {
  name: string;
  send: () => Promise<{ status: number; body: any }>;
  status: number;
  code: string;
  message?: RegExp;
}

const cases: Case[] = [
  // init
  {
    name: "negative size",
    send: () => api.post("/upload/init", init({ size: -1 })),
    status: 400,
    code: "INVALID_INPUT",
    message: /size/,
  },
  {
    name: "absurd size",
    send: () => api.post("/upload/init", init({ size: 1e20 })),
    status: 400,
    code: "INVALID_INPUT",
    message: /5 TiB/,
  },
  {
    name: "fractional size",
    send: () => api.post("/upload/init", init({ size: 1.5 })),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "size as a string",
    send: () => api.post("/upload/init", init({ size: "12" })),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "malformed sha256",
    send: () => api.post("/upload/init", init({ sha256: "xyz" })),
    status: 400,
    code: "INVALID_INPUT",
    message: /sha256/,
  },
  {
    name: "63-char sha256",
    send: () => api.post("/upload/init", init({ sha256: goodSha.slice(1) })),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "empty name",
    send: () => api.post("/upload/init", init({ name: "" })),
    status: 400,
    code: "INVALID_INPUT",
    message: /name/,
  },
  {
    name: "name too long",
    send: () => api.post("/upload/init", init({ name: "n".repeat(2000) })),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "unknown priority",
    send: () => api.post("/upload/init", init({ priority: "urgent" })),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "unknown field",
    send: () => api.post("/upload/init", init({ owner: "me" })),
    status: 400,
    code: "INVALID_INPUT",
  },
  { name: "missing fields", send: () => api.post("/upload/init", {}), status: 400, code: "INVALID_INPUT" },
  { name: "JSON array body", send: () => api.post("/upload/init", []), status: 400, code: "INVALID_INPUT" },
  {
    name: "malformed JSON",
    send: () => api.post("/upload/init", "{nope"),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "non-JSON media type",
    send: () =>
      api.call("POST", "/upload/init", "name=a", { "content-type": "application/x-www-form-urlencoded" }),
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
  },
  {
    name: "oversize body",
    send: () => api.post("/upload/init", init({ name: "n".repeat(300 * 1024) })),
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
  },
  {
    name: "wrong empty-file checksum",
    send: () => api.post("/upload/init", init({ size: 0 })),
    status: 400,
    code: "INVALID_INPUT",
    message: /empty file/,
  },
  // presign
  {
    name: "part number 0",
    send: () => api.post(`/upload/${open}/parts`, { parts: [part({ partNumber: 0 })] }),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "part number 10001",
    send: () => api.post(`/upload/${open}/parts`, { parts: [part({ partNumber: 10001 })] }),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "part under 5 MiB that is not last",
    send: () => api.post(`/upload/${open}/parts`, { parts: [part({ size: 5 * MiB - 1 })] }),
    status: 400,
    code: "INVALID_PART",
    message: /at least 5 MiB/,
  },
  {
    name: "part beyond the file's end",
    send: () =>
      api.post(`/upload/${open}/parts`, { parts: [part({ partNumber: 2, offset: 8 * MiB, size: 5 * MiB })] }),
    status: 400,
    code: "INVALID_PART",
    message: /beyond/,
  },
  {
    name: "part 1 not at offset 0",
    send: () => api.post(`/upload/${open}/parts`, { parts: [part({ offset: 1 })] }),
    status: 400,
    code: "INVALID_PART",
  },
  {
    name: "the same part twice in one batch",
    send: () => api.post(`/upload/${open}/parts`, { parts: [part({}), part({})] }),
    status: 400,
    code: "INVALID_PART",
  },
  {
    name: "overlapping parts in one batch",
    send: () =>
      api.post(`/upload/${open}/parts`, {
        parts: [part({ size: 6 * MiB }), part({ partNumber: 2, offset: 5 * MiB })],
      }),
    status: 400,
    code: "INVALID_PART",
    message: /overlaps/,
  },
  {
    name: "empty batch",
    send: () => api.post(`/upload/${open}/parts`, { parts: [] }),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "presign after complete",
    send: () => api.post(`/upload/${complete}/parts`, { parts: [part({ size: 100 })] }),
    status: 409,
    code: "INVALID_STATE",
  },
  // part done
  {
    name: "done for part 0",
    send: () =>
      api.post(`/upload/${open}/parts/0/done`, { offset: 0, size: 5 * MiB, sha256: goodSha, etag: "x" }),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "done for part 10001",
    send: () =>
      api.post(`/upload/${open}/parts/10001/done`, { offset: 0, size: 5 * MiB, sha256: goodSha, etag: "x" }),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "done for a part storage does not hold",
    send: () =>
      api.post(`/upload/${open}/parts/1/done`, { offset: 0, size: 5 * MiB, sha256: goodSha, etag: "x" }),
    status: 409,
    code: "PART_NOT_STORED",
  },
  {
    name: "done with a negative offset",
    send: () =>
      api.post(`/upload/${open}/parts/1/done`, { offset: -5, size: 5 * MiB, sha256: goodSha, etag: "x" }),
    status: 400,
    code: "INVALID_INPUT",
  },
  // ids and routes
  {
    name: "unknown transfer id",
    send: () => api.get(`/api/files/${unknown}`),
    status: 404,
    code: "NOT_FOUND",
  },
  {
    name: "unknown id on missing",
    send: () => api.get(`/upload/missing/${unknown}`),
    status: 404,
    code: "NOT_FOUND",
  },
  {
    name: "unknown id on assemble",
    send: () => api.post(`/assemble/${unknown}`),
    status: 404,
    code: "NOT_FOUND",
  },
  { name: "unknown id on abort", send: () => api.del(`/upload/${unknown}`), status: 404, code: "NOT_FOUND" },
  {
    name: "unknown id on download",
    send: () => api.get(`/download/${unknown}`),
    status: 404,
    code: "NOT_FOUND",
  },
  {
    name: "malformed id",
    send: () => api.get("/api/files/..%2F..%2Fetc"),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "download of an incomplete file",
    send: () => api.get(`/download/${open}`),
    status: 409,
    code: "INVALID_STATE",
  },
  { name: "unknown route", send: () => api.get("/api/nothing"), status: 404, code: "ROUTE_NOT_FOUND" },
  {
    name: "a method the route does not answer",
    send: () => api.call("PUT", "/api/stats"),
    status: 405,
    code: "METHOD_NOT_ALLOWED",
    message: /answers GET, HEAD, not PUT/,
  },
  {
    name: "a content type that is not a media type",
    send: () => api.post("/upload/init", init({ contentType: "text/\u00e9\u0001" })),
    status: 400,
    code: "INVALID_INPUT",
    message: /media type/,
  },
  {
    name: "a content type with a line break (a header injection)",
    send: () => api.post("/upload/init", init({ contentType: "text/plain\n; x=y" })),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "bad listing limit",
    send: () => api.get("/api/files?limit=0"),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "bad listing status",
    send: () => api.get("/api/files?status=lost"),
    status: 400,
    code: "INVALID_INPUT",
  },
  {
    name: "forged cursor",
    send: () => api.get("/api/files?cursor=eyJpIjoieCJ9"),
    status: 400,
    code: "INVALID_CURSOR",
  },
  {
    name: "garbage cursor",
    send: () => api.get("/api/files?cursor=%%%"),
    status: 400,
    code: "INVALID_CURSOR",
  },
  // auth
  {
    name: "no token",
    send: () => apiClient(stack, null).post("/upload/init", init({})),
    status: 401,
    code: "UNAUTHORIZED",
  },
  {
    name: "wrong token",
    send: () => apiClient(stack, "sfts_wrong").post("/upload/init", init({})),
    status: 401,
    code: "UNAUTHORIZED",
  },
  {
    name: "basic auth instead of bearer",
    send: () => apiClient(stack, null).call("GET", "/api/stats", undefined, { authorization: "Basic YTpi" }),
    status: 401,
    code: "UNAUTHORIZED",
  },
  {
    name: "wrong token on reads",
    send: () => apiClient(stack, "x").get(`/api/files/${open}`),
    status: 401,
    code: "UNAUTHORIZED",
  },
];

describe("bad input", () => {
  it.each(cases)("$name → $status $code, table unchanged", async (c) => {
    const before = await tableSnapshot(stack);
    const r = await c.send();
    expect(r.status).toBe(c.status);
    expect(r.body?.error?.code).toBe(c.code);
    expect(typeof r.body.error.message).toBe("string");
    if (c.message) expect(r.body.error.message).toMatch(c.message);
    expect(JSON.stringify(r.body)).not.toMatch(/at .*\.(ts|js):\d+/); // no stack traces
    expect(await tableSnapshot(stack)).toBe(before);
  });

  it("(control) a valid request does change the snapshot", async () => {
    const before = await tableSnapshot(stack);
    expect(
      (await api.post("/upload/init", init({ size: 100, sha256: sha256(randomFile(100)) }))).status,
    ).toBe(200);
    expect(await tableSnapshot(stack)).not.toBe(before);
  });

  it("states the problem in words a person can act on", async () => {
    const r = await api.post(`/upload/${open}/parts`, { parts: [part({ size: 1000 })] });
    expect(r.body.error.message).toBe(
      "Part 1 is 1000 bytes; every part but the last must be at least 5 MiB (5242880 bytes).",
    );
  });
});
