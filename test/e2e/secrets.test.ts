/**
 * Secrets stay out of logs and output: after a whole session — API calls with a token, share links
 * created and opened, the CLI sending, receiving and listing with --verbose, a wrong token — neither an
 * API token, nor a share token, nor a presigned URL's signature is in the API's log, the CLI's files
 * (its logs and journals) or what the CLI printed.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, initTransfer, MiB, planParts, randomFile, sha256 } from "../helpers/api.js";
import { cliEnv, runCli } from "../helpers/cli.js";
import { stackInfo, startTestStack, type TestStack } from "../helpers/stack.js";

let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "sfts-secrets-"));
});
afterAll(async () => {
  await stack?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Every file under `root`, with its text. */
async function filesUnder(root: string): Promise<{ path: string; text: string }[]> {
  const names = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return Promise.all(
    names
      .filter((d) => d.isFile())
      .map(async (d) => {
        const path = join(d.parentPath, d.name);
        return { path, text: await readFile(path, "utf8") };
      }),
  );
}

const signatureOf = (url: string) => new URL(url).searchParams.get("X-Amz-Signature") ?? "";

describe("secrets in logs and output", () => {
  it("no API token, share token or URL signature is logged or printed, by the API or the CLI (--verbose)", async () => {
    const info = stackInfo(stack);
    const api = apiClient(info);
    const env = await cliEnv(info);
    const printed: { what: string; text: string }[] = [];
    const cli = async (args: string[], runEnv = env) => {
      const r = await runCli([...args, "--verbose"], runEnv, undefined, dir).done;
      printed.push({ what: `sfts ${args.join(" ")} (stdout)`, text: r.stdout });
      printed.push({ what: `sfts ${args.join(" ")} (stderr)`, text: r.stderr });
      return r;
    };
    const signatures: string[] = [];

    // The CLI: send, look, receive.
    const data = randomBytes(12 * MiB);
    await writeFile(join(dir, "session.bin"), data);
    const sent = await cli(["send", join(dir, "session.bin"), "--chunk-size", "5MiB"]);
    expect(sent.code).toBe(0);
    const id = /tr_[0-9a-z]{26}/.exec(sent.stdout)?.[0] ?? "";
    expect(id).not.toBe("");
    expect((await cli(["status", id])).code).toBe(0);
    expect((await cli(["list"])).code).toBe(0);
    expect((await cli(["config", "show"])).code).toBe(0);
    const out = await mkdtemp(join(dir, "received-"));
    expect((await cli(["receive", id, "-o", out])).code).toBe(0);
    expect(sha256(await readFile(join(out, "session.bin")))).toBe(sha256(data));

    // Share links: one made by the CLI (it prints the link, which is its purpose, so that output is not
    // searched), one by the API; both opened, the first revoked by its link.
    const shared = await runCli(["share", id, "--verbose"], env, undefined, dir).done;
    expect(shared.code).toBe(0);
    printed.push({ what: "sfts share (stderr)", text: shared.stderr });
    const cliShareToken = /\/s\/([A-Za-z0-9_-]{32})/.exec(shared.stdout)?.[1] ?? "";
    expect(cliShareToken).not.toBe("");
    const apiShare = await api.post(`/api/files/${id}/share`, { maxDownloads: 1 });
    expect(apiShare.status).toBe(200);
    const shareTokens = [cliShareToken, apiShare.body.token as string];
    for (const token of shareTokens) {
      const opened = await fetch(`${stack.apiUrl}/s/${token}`, { redirect: "manual" });
      expect(opened.status).toBe(302);
      const location = opened.headers.get("location") ?? "";
      signatures.push(signatureOf(location));
      expect((await fetch(location)).status).toBe(200);
    }
    expect((await fetch(`${stack.apiUrl}/s/${apiShare.body.token}`, { redirect: "manual" })).status).toBe(
      410,
    );
    expect((await cli(["share", "--revoke", `${stack.apiUrl}/s/${cliShareToken}`])).code).toBe(0);

    // The API directly: part URLs and download URLs, whose signatures are then searched for.
    const more = randomFile(6 * MiB);
    const { transferId } = await initTransfer(api, more);
    const presigned = await api.post(`/upload/${transferId}/parts`, { parts: planParts(more, [5 * MiB]) });
    signatures.push(...presigned.body.parts.map((p: { url: string }) => signatureOf(p.url)));
    signatures.push(signatureOf((await api.get(`/download/${id}?redirect=false`)).body.url));
    signatures.push(signatureOf((await api.get(`/download/${id}`)).headers.get("location") ?? ""));

    // A wrong token, which the CLI reports (with a stack trace, under --verbose).
    const wrongToken = `sfts_${randomBytes(32).toString("base64url")}`;
    const refused = await cli(["list"], { ...env, SFTS_TOKEN: wrongToken });
    expect(refused.code).not.toBe(0);

    // The API log is written through a stream: wait for the last request's line.
    const last = await api.get("/api/stats");
    const lastId = last.headers.get("x-request-id") ?? "";
    let apiLog = "";
    for (let i = 0; i < 50 && !apiLog.includes(lastId); i++) {
      apiLog = await readFile(stack.logFiles.api, "utf8");
      if (!apiLog.includes(lastId)) await new Promise((w) => setTimeout(w, 50));
    }
    const cliFiles = await filesUnder(env.XDG_STATE_HOME as string);

    // (control) what is searched holds the session: share links opened, parts presigned, a CLI log.
    expect(apiLog).toContain('"path":"/s/…","status":302');
    expect(apiLog).toContain(`"path":"/upload/${transferId}/parts","status":200`);
    expect(cliFiles.map((f) => f.path).join("\n")).toMatch(/logs\/sfts-[\d-]+\.log/);
    expect(cliFiles.map((f) => f.text).join("\n")).toContain(id);
    expect(signatures).toHaveLength(5);
    for (const s of signatures) expect(s).toMatch(/^[0-9a-f]{64}$/);

    const searched = [
      { what: "the API log", text: apiLog },
      ...cliFiles.map((f) => ({ what: f.path, text: f.text })),
      ...printed,
    ];
    const secrets = [
      { kind: "the API token", value: stack.token },
      { kind: "a wrong API token", value: wrongToken },
      ...shareTokens.map((value) => ({ kind: "a share token", value })),
      ...signatures.map((value) => ({ kind: "a URL signature", value })),
    ];
    const leaks: string[] = [];
    for (const { what, text } of searched) {
      for (const { kind, value } of secrets) if (text.includes(value)) leaks.push(`${kind} in ${what}`);
      if (/X-Amz-Signature=[0-9a-f]/i.test(text)) leaks.push(`a URL signature in ${what}`);
    }
    expect(leaks).toEqual([]);
  }, 120_000);
});
