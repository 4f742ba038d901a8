/**
 * How the resources sst.config.ts links to a function become the environment `loadConfig` reads.
 * The Lambda entry points hand SST's `Resource` object to envFromLinks; nothing else touches SST.
 * A value set explicitly in the environment wins over a link, so a stage can be pointed elsewhere.
 */
import { z } from "zod";
import { ConfigError } from "./config.js";

/** The names resources are linked under (infra/ names its links from here). */
export const LINKS = {
  bucket: "Storage",
  table: "Database",
  /** The first admin API key, an SST secret. */
  adminKey: "AdminApiKey",
} as const;

/** Environment variable that carries the first admin API key when no SST secret is linked. */
export const ADMIN_TOKEN_ENV = "SFTS_ADMIN_TOKEN";

const Named = z.object({ name: z.string().min(1) });
const SecretValue = z.object({ value: z.string() });

type Env = Record<string, string | undefined>;

export function envFromLinks(links: object, env: Env): Env {
  // SST's Resource is a Proxy that throws on an unknown name but answers `in` from what is linked.
  const linked = (name: string): unknown =>
    name in links ? (links as Record<string, unknown>)[name] : undefined;
  const out: Env = { ...env };
  const fill = <T>(variable: string, name: string, schema: z.ZodType<T>, pick: (v: T) => string) => {
    const value = linked(name);
    if (value === undefined || out[variable]) return;
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new ConfigError(`The linked resource ${name} does not have the expected shape`);
    out[variable] = pick(parsed.data);
  };
  fill("SFTS_BUCKET", LINKS.bucket, Named, (v) => v.name);
  fill("SFTS_TABLE", LINKS.table, Named, (v) => v.name);
  fill(ADMIN_TOKEN_ENV, LINKS.adminKey, SecretValue, (v) => v.value);
  return out;
}
