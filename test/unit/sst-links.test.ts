import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../functions/api/config.js";
import { ADMIN_TOKEN_ENV, envFromLinks, LINKS } from "../../functions/api/sst-links.js";

/** SST's Resource: a Proxy that throws on names that are not linked, but answers `in` from what is. */
function sstResource(linked: Record<string, unknown>) {
  return new Proxy(linked, {
    get(target, prop) {
      if (prop in target) return target[prop as string];
      throw new Error(`"${String(prop)}" is not linked in your sst.config.ts`);
    },
  });
}

describe("envFromLinks", () => {
  it("turns the linked bucket, table and admin secret into the variables loadConfig reads", () => {
    const env = envFromLinks(
      sstResource({
        App: { name: "sfts", stage: "prod" },
        [LINKS.bucket]: { name: "sfts-prod-filesbucket-abc", type: "sst.sst.Linkable" },
        [LINKS.table]: { name: "sfts-prod-transferstable-def", type: "sst.sst.Linkable" },
        [LINKS.adminKey]: { value: "sfts_secret-value-of-enough-length-0123", type: "sst.sst.Secret" },
      }),
      { AWS_REGION: "eu-west-1" },
    );
    expect(env).toMatchObject({
      SFTS_BUCKET: "sfts-prod-filesbucket-abc",
      SFTS_TABLE: "sfts-prod-transferstable-def",
      [ADMIN_TOKEN_ENV]: "sfts_secret-value-of-enough-length-0123",
    });
    const config = loadConfig(env);
    expect(config).toMatchObject({ bucket: "sfts-prod-filesbucket-abc", region: "eu-west-1" });
    expect(config.s3.endpoint).toBeUndefined();
  });

  it("leaves plain SFTS_* variables working without links, and lets them win over links", () => {
    expect(envFromLinks(sstResource({}), { SFTS_BUCKET: "b-plain", SFTS_TABLE: "t-plain" })).toEqual({
      SFTS_BUCKET: "b-plain",
      SFTS_TABLE: "t-plain",
    });
    const env = envFromLinks(sstResource({ [LINKS.bucket]: { name: "linked" } }), {
      SFTS_BUCKET: "explicit",
    });
    expect(env.SFTS_BUCKET).toBe("explicit");
  });

  it("refuses a link of the wrong shape instead of guessing", () => {
    expect(() => envFromLinks(sstResource({ [LINKS.table]: { arn: "x" } }), {})).toThrow(ConfigError);
  });
});
