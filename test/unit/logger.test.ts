import { describe, expect, it } from "vitest";
import { createLogger, redact, silentLogger } from "../../functions/api/logger.js";

const TOKEN = "sfts_AbCdEfGh12345678ijklmnopQRSTUVWX-_yz0123456"; // 43 characters after sfts_

describe("redact", () => {
  it("masks an API token, keeping sfts_ and 8 characters", () => {
    expect(redact(TOKEN)).toBe("sfts_AbCdEfGh…");
    expect(redact(`Authorization: Bearer ${TOKEN} rejected`)).toBe(
      "Authorization: Bearer sfts_AbCdEfGh… rejected",
    );
  });

  it("masks every token in a string", () => {
    const other = "sfts_zzzzzzzzYYYYYYYYxxxxxxxx";
    expect(redact(`${TOKEN} and ${other}`)).toBe("sfts_AbCdEfGh… and sfts_zzzzzzzz…");
  });

  it("keeps none of the token's tail", () => {
    const out = redact(`token=${TOKEN}`);
    expect(out).not.toContain(TOKEN.slice(13));
    expect(out).not.toContain("12345678");
  });

  it("masks an X-Amz-Signature value and keeps the rest of the URL", () => {
    const sig = "a".repeat(32) + "0123456789abcdef".repeat(2);
    const url = `https://b.s3.amazonaws.com/k?X-Amz-Date=20260101T000000Z&X-Amz-Signature=${sig}&x-id=PutObject`;
    expect(redact(url)).toBe(
      "https://b.s3.amazonaws.com/k?X-Amz-Date=20260101T000000Z&X-Amz-Signature=…&x-id=PutObject",
    );
  });

  it("leaves text without secrets unchanged", () => {
    const s = "Part 3 of tr_01kb4x5q2m3n4p5r6s7t8v9w0x stored; sfts_ is the token prefix";
    expect(redact(s)).toBe(s);
  });
});

describe("createLogger", () => {
  function capture() {
    const lines: string[] = [];
    return { lines, write: (line: string) => lines.push(line) };
  }

  it("writes one JSON object per call with time, level, message and fields", () => {
    const { lines, write } = capture();
    const log = createLogger(write, { service: "api" });
    log.log("info", "part recorded", { transferId: "tr_x", partNumber: 3 });
    log.log("warn", "slow", { ms: 1200 });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain("\n");
    const first = JSON.parse(lines[0] as string);
    expect(first).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      level: "info",
      msg: "part recorded",
      service: "api",
      transferId: "tr_x",
      partNumber: 3,
    });
    expect(Number.isNaN(Date.parse(first.time))).toBe(false);
    expect(JSON.parse(lines[1] as string)).toMatchObject({
      level: "warn",
      msg: "slow",
      service: "api",
      ms: 1200,
    });
  });

  it("drops lines below the minimum level, for children too", () => {
    const { lines, write } = capture();
    const log = createLogger(write, {}, "warn");
    log.log("info", "quiet");
    log.child({ a: 1 }).log("debug", "quieter");
    log.log("warn", "heard");
    log.child({ a: 1 }).log("error", "heard too");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["heard", "heard too"]);
    const silent = createLogger(write, {}, "silent");
    silent.log("error", "never");
    expect(lines).toHaveLength(2);
  });

  it("children add their fields to every line, without changing the parent", () => {
    const { lines, write } = capture();
    const parent = createLogger(write, { service: "api" }, "debug");
    const child = parent.child({ requestId: "r1" });
    child.child({ transferId: "tr_y" }).log("debug", "deep");
    parent.log("error", "top");
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: "debug",
      msg: "deep",
      service: "api",
      requestId: "r1",
      transferId: "tr_y",
    });
    const top = JSON.parse(lines[1] as string);
    expect(top).toMatchObject({ level: "error", msg: "top", service: "api" });
    expect(top).not.toHaveProperty("requestId");
  });

  it("redacts tokens and signatures in messages and fields", () => {
    const { lines, write } = capture();
    createLogger(write).log("warn", `bad token ${TOKEN}`, {
      url: "https://x/k?X-Amz-Signature=deadbeef00",
    });
    const line = lines[0] as string;
    expect(line).not.toContain(TOKEN);
    expect(line).not.toContain("deadbeef00");
    expect(JSON.parse(line)).toMatchObject({
      msg: "bad token sfts_AbCdEfGh…",
      url: "https://x/k?X-Amz-Signature=…",
    });
  });

  it("silentLogger writes nothing and its children are silent", () => {
    expect(silentLogger.child({ a: 1 })).toBe(silentLogger);
    expect(() => silentLogger.log("error", "nothing")).not.toThrow();
  });
});
