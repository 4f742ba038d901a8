/**
 * The calls `sfts doctor` makes (doctor.ts's DoctorProbes), over HTTP, within a timeout, any failure turned
 * into a ProbeFailure that says why in words. /health (tried once) counts as answered with 200 or 503 (a
 * degraded coordinator says why); the token and GET /api/storage go through the API client (one retry;
 * a coordinator without /api/storage, older than storage profiles, gives null); storage's endpoint
 * (tried once) counts as reached with any HTTP answer at all.
 */
import { HealthResponse } from "../../functions/contract/schemas.js";
import { StorageSummary } from "../../functions/contract/storage.js";
import { ApiClient } from "./api-client.js";
import { networkCode } from "./classify.js";
import { type DoctorProbes, ProbeFailure } from "./doctor.js";
import { isCliError } from "./errors.js";
import { DEFAULT_RETRY } from "./retry.js";

/** Older coordinators' health has no storage summary. */
const Health = HealthResponse.extend({ storage: StorageSummary.optional() });

export interface ProbeOptions {
  server: string;
  token: string | undefined;
  timeoutMs: number;
  now?: () => number;
}

function failure(err: unknown, timeoutMs: number): ProbeFailure {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"))
    return new ProbeFailure(`no answer within ${timeoutMs / 1000} s`, "TIMEOUT");
  const code = networkCode(err);
  const cause = (err as { cause?: { message?: string } })?.cause?.message;
  return new ProbeFailure(
    code === "NETWORK" ? (cause ?? String(err)) : cause ? `${code}: ${cause}` : code,
    code,
  );
}

async function request(url: URL | string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw failure(err, timeoutMs);
  }
}

async function bodyOf(res: Response, timeoutMs: number): Promise<unknown> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw failure(err, timeoutMs);
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function httpProbes(o: ProbeOptions): DoctorProbes {
  const now = o.now ?? Date.now;
  const headers = { accept: "application/json" };
  // One retry: a wrong address or token should be told in seconds, not after a transfer's ten.
  const api = new ApiClient({
    server: o.server,
    token: o.token,
    timeoutMs: o.timeoutMs,
    retry: { ...DEFAULT_RETRY, maxRetries: 1 },
  });
  const notSfts = (status: number, path: string) =>
    new ProbeFailure(`${path} answered ${status}, not as an SFTS coordinator does`, "BAD_ANSWER");

  return {
    async health() {
      const res = await request(new URL("/health", o.server), { headers }, o.timeoutMs);
      const parsed = Health.safeParse(await bodyOf(res, o.timeoutMs));
      if ((res.status !== 200 && res.status !== 503) || !parsed.success)
        throw notSfts(res.status, "GET /health");
      return parsed.data;
    },

    async whoAmI() {
      try {
        return await api.whoAmI();
      } catch (err) {
        // The engine gives its own hint; the client's "check --token or SFTS_TOKEN" would say it twice.
        if (isCliError(err)) throw new ProbeFailure(err.message.replace(/; check --token.*$/, ""), err.code);
        throw err;
      }
    },

    async storage(opts = {}) {
      try {
        if (opts.fresh) {
          const probed = await api.probeStorage();
          if (probed) return probed;
        }
        return (await api.storage()) ?? null;
      } catch (err) {
        if (isCliError(err)) throw new ProbeFailure(err.message, err.code);
        throw err;
      }
    },

    async reach(endpoint) {
      const sentAt = now();
      const res = await request(endpoint, { method: "GET" }, o.timeoutMs);
      const answeredAt = now();
      await res.body?.cancel().catch(() => {});
      return { status: res.status, date: res.headers.get("date"), sentAt, answeredAt };
    },
  };
}
