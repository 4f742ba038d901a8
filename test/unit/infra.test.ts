/**
 * What infra/ declares, checked without AWS: the argument objects each file exports, and the resource
 * graph sst.config.ts composes, evaluated with SST's globals stubbed by recorders. (That the same files
 * type-check against SST's real types is test/integration/infra-typecheck.test.ts and `npm run typecheck`.)
 * The modules are imported by computed paths: their types are SST's globals, which only tsconfig.infra.json has.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  INDEX_BY_BATCH,
  INDEX_BY_CREATED,
  INDEX_BY_STATUS,
  INDEX_OPEN,
  TTL_ATTRIBUTE,
  tableDefinition,
} from "../../functions/adapters/dynamo-table.js";
import { LINKS } from "../../functions/api/sst-links.js";
import { repoRoot } from "../helpers/build.js";

const load = (path: string): Promise<any> => import(/* @vite-ignore */ join(repoRoot, path));

const arns = {
  bucket: "arn:aws:s3:::files",
  objects: "arn:aws:s3:::files/objects/*",
  table: "arn:aws:dynamodb:eu-west-1:123456789012:table/transfers",
  indexes: "arn:aws:dynamodb:eu-west-1:123456789012:table/transfers/index/*",
};
const links = { bucket: { link: "storage" }, table: { link: "database" }, adminKey: { link: "admin key" } };

/** Node major of a Lambda runtime id (nodejs22.x → 22). */
const nodeMajor = (runtime: string) => Number(/^nodejs(\d+)\.x$/.exec(runtime)?.[1] ?? Number.NaN);

const allActions = (permissions: { actions: string[] }[]) => permissions.flatMap((p) => p.actions);

describe("storage", () => {
  it("blocks every kind of public access and requires HTTPS", async () => {
    const { bucketArgs } = await load("infra/storage.ts");
    const args = bucketArgs();
    expect(args.access).toBeUndefined();
    expect(args.public).toBeUndefined();
    expect(args.enforceHttps).toBe(true);
    expect(args.transform.publicAccessBlock).toEqual({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
  });

  it("encrypts at rest", async () => {
    const { encryptionRules } = await load("infra/storage.ts");
    expect(encryptionRules()[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe("AES256");
  });

  it("has a lifecycle rule aborting incomplete multipart uploads for the whole bucket, after the configured days", async () => {
    const { lifecycleRules } = await load("infra/storage.ts");
    const [rule, ...more] = lifecycleRules(3);
    expect(more).toEqual([]);
    expect(rule.status).toBe("Enabled");
    expect(rule.filter).toEqual({ prefix: "" });
    expect(rule.abortIncompleteMultipartUpload).toEqual({ daysAfterInitiation: 3 });
    expect(rule.expiration).toBeUndefined(); // never deletes stored files
  });

  it("CORS lets the dashboard's origin PUT parts and read ETag and the checksum back", async () => {
    const { corsRules } = await load("infra/storage.ts");
    const [rule] = corsRules(["https://d111.cloudfront.net"]);
    expect(rule.allowedOrigins).toEqual(["https://d111.cloudfront.net"]);
    expect(rule.allowedMethods).toEqual(expect.arrayContaining(["PUT", "GET"]));
    expect(rule.allowedMethods).not.toContain("DELETE");
    expect(rule.exposeHeaders).toEqual(expect.arrayContaining(["ETag", "x-amz-checksum-sha256"]));
  });
});

describe("table", () => {
  it("is the table the local stack creates: same keys, attributes and GSIs, on demand, TTL on ttl", async () => {
    const { tableArgs } = await load("infra/table.ts");
    const args = tableArgs({ production: false });
    const def = tableDefinition("x");
    expect(args.primaryIndex).toEqual({ hashKey: "PK", rangeKey: "SK" });
    expect(Object.keys(args.fields).sort()).toEqual(
      def.AttributeDefinitions?.map((a) => a.AttributeName).sort(),
    );
    expect(Object.values(args.fields)).toEqual(def.AttributeDefinitions?.map(() => "string"));
    expect(Object.keys(args.globalIndexes).sort()).toEqual(
      [INDEX_BY_CREATED, INDEX_BY_STATUS, INDEX_OPEN, INDEX_BY_BATCH].sort(),
    );
    expect(args.globalIndexes[INDEX_BY_STATUS]).toEqual({
      hashKey: "statusPk",
      rangeKey: "listSk",
      projection: "all",
    });
    expect(args.globalIndexes[INDEX_OPEN]).toEqual({
      hashKey: "openKey",
      rangeKey: "listSk",
      projection: "all",
    });
    expect(args.globalIndexes[INDEX_BY_BATCH]).toEqual({
      hashKey: "batchPk",
      rangeKey: "batchSk",
      projection: "all",
    });
    expect(args.ttl).toBe(TTL_ATTRIBUTE);
    expect(args.transform.table.billingMode).toBe("PAY_PER_REQUEST");
  });

  it("keeps point-in-time recovery and deletion protection for production only", async () => {
    const { tableArgs } = await load("infra/table.ts");
    expect(tableArgs({ production: true }).transform.table.pointInTimeRecovery).toEqual({ enabled: true });
    expect(tableArgs({ production: true }).deletionProtection).toBe(true);
    expect(tableArgs({ production: false }).transform.table.pointInTimeRecovery).toEqual({ enabled: false });
    expect(tableArgs({ production: false }).deletionProtection).toBe(false);
  });
});

describe("functions", () => {
  it("the API function: Node ≥ 22 on arm64, the handler file exists, linked to bucket, table and admin key only", async () => {
    const { coordinatorFunctionArgs } = await load("infra/api.ts");
    const args = coordinatorFunctionArgs(links, arns);
    expect(nodeMajor(args.runtime)).toBeGreaterThanOrEqual(22);
    expect(args.architecture).toBe("arm64");
    expect(existsSync(join(repoRoot, `${args.handler.replace(/\.handler$/, "")}.ts`))).toBe(true);
    expect(args.link).toEqual([links.bucket, links.table, links.adminKey]);
    expect(args.nodejs.format).toBe("esm");
  });

  it("the API function runs the aws storage profile, with a version of its own per deploy (the probe runs once per deploy)", async () => {
    const { coordinatorFunctionArgs, deployVersion } = await load("infra/api.ts");
    const v = deployVersion("1.2.3", new Date("2026-12-01T15:40:12.345Z"));
    expect(v).toBe("1.2.3+20261201T154012Z");
    expect(deployVersion("1.2.3", new Date("2026-12-01T15:40:13Z"))).not.toBe(v);
    expect(coordinatorFunctionArgs(links, arns, v).environment).toMatchObject({
      SFTS_STORAGE_PROFILE: "aws",
      SFTS_VERSION: v,
    });
  });

  it("the API function may do exactly the S3 and DynamoDB actions the code performs, on its objects and table", async () => {
    const { coordinatorFunctionArgs } = await load("infra/api.ts");
    const { permissions } = coordinatorFunctionArgs(links, arns);
    const actions = allActions(permissions);
    expect(actions.some((a: string) => a.includes("*"))).toBe(false);
    expect(new Set(actions)).toEqual(
      new Set([
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
      ]),
    );
    for (const p of permissions) {
      if (p.actions.includes("s3:ListBucket")) expect(p.resources).toEqual([arns.bucket]);
      else if (p.actions.some((a: string) => a.startsWith("s3:")))
        expect(p.resources).toEqual([arns.objects]);
      else expect(p.resources).toEqual([arns.table, arns.indexes]);
    }
  });

  it("the janitor: Node ≥ 22 on arm64, linked to bucket and table but not the admin key, fewer rights than the API", async () => {
    const { janitorFunctionArgs, janitorCronArgs } = await load("infra/janitor.ts");
    const { coordinatorFunctionArgs } = await load("infra/api.ts");
    const args = janitorFunctionArgs(links, arns, {
      abandonedAfterHours: 48,
      assemblingStuckAfterMinutes: 20,
    });
    expect(nodeMajor(args.runtime)).toBeGreaterThanOrEqual(22);
    expect(args.architecture).toBe("arm64");
    expect(existsSync(join(repoRoot, `${args.handler.replace(/\.handler$/, "")}.ts`))).toBe(true);
    expect(args.link).toEqual([links.bucket, links.table]);
    expect(args.environment).toMatchObject({
      SFTS_ABANDONED_AFTER_HOURS: "48",
      SFTS_ASSEMBLING_STUCK_MINUTES: "20",
    });
    const api = new Set(allActions(coordinatorFunctionArgs(links, arns).permissions));
    for (const a of allActions(args.permissions)) expect(api.has(a)).toBe(true);
    expect(janitorCronArgs(args, { janitorSchedule: "rate(1 hour)" })).toEqual({
      schedule: "rate(1 hour)",
      function: args,
    });
  });

  it("the test bundle is built for the same Node as the runtime, from the handlers infra/ names", async () => {
    const lambda = await load("infra/lambda.ts");
    const build = await load("scripts/build-lambda.mjs");
    expect(build.NODE_TARGET).toBe(lambda.NODE_TARGET);
    expect(lambda.NODE_TARGET).toBe(`node${nodeMajor(lambda.LAMBDA_RUNTIME)}`);
    const { coordinatorFunctionArgs } = await load("infra/api.ts");
    const { janitorFunctionArgs } = await load("infra/janitor.ts");
    const handlers = [
      coordinatorFunctionArgs(links, arns).handler,
      janitorFunctionArgs(links, arns, { abandonedAfterHours: 1, assemblingStuckAfterMinutes: 1 }).handler,
    ];
    expect(handlers.map((h: string) => `${h.replace(/\.handler$/, "")}.ts`)).toEqual(
      Object.values(build.LAMBDAS),
    );
  });
});

describe("dashboard", () => {
  it("builds web/ with npm run build:web into web/dist, with the API's URL injected", async () => {
    const { dashboardArgs } = await load("infra/web.ts");
    const args = dashboardArgs("https://api.example");
    expect(args.path).toBe("web");
    expect(args.build).toEqual({ command: "npm run build:web", output: "dist" });
    expect(args.environment).toEqual({ VITE_SFTS_API_URL: "https://api.example" });
  });
});

describe("stage settings", () => {
  it("reads deploy-time settings with defaults, and refuses nonsense", async () => {
    const { settings } = await load("infra/stage.ts");
    expect(settings("dev", {})).toMatchObject({
      production: false,
      abortIncompleteUploadsAfterDays: 7,
      abandonedAfterHours: 72,
      assemblingStuckAfterMinutes: 30,
      janitorSchedule: "rate(1 hour)",
      extraCorsOrigins: [],
    });
    expect(
      settings("prod", { SFTS_ABORT_INCOMPLETE_DAYS: "2", SFTS_CORS_ORIGINS: "http://localhost:5173" }),
    ).toMatchObject({
      production: true,
      abortIncompleteUploadsAfterDays: 2,
      extraCorsOrigins: ["http://localhost:5173"],
    });
    expect(() => settings("dev", { SFTS_ABORT_INCOMPLETE_DAYS: "0" })).toThrow(/at least 1/);
    expect(() => settings("dev", { SFTS_CORS_ORIGINS: "https://a.example/path" })).toThrow(/not an origin/);
    expect(() => settings("dev", { SFTS_JANITOR_SCHEDULE: "hourly" })).toThrow(/rate/);
  });
});

// ---- the resource graph: sst.config.ts evaluated with SST's globals replaced by recorders

interface Node {
  type: string;
  name: string;
  args: any;
  routes: [string, unknown][];
}

const graph: Node[] = [];
const saved: Record<string, unknown> = {};
const STUBBED = ["$config", "$app", "$interpolate", "sst", "aws"];

function recorder(type: string) {
  return class {
    readonly name: string;
    readonly arn: string;
    readonly url: string;
    readonly node: Node;
    constructor(name: string, args?: unknown) {
      this.node = { type, name, args, routes: [] };
      graph.push(this.node);
      this.name = `${name}-physical-name`;
      this.arn = `arn:${type}:${name}`;
      this.url = `https://${name.toLowerCase()}.example`;
    }
    route(path: string, target: unknown) {
      this.node.routes.push([path, target]);
    }
  };
}

let config: any;

beforeAll(async () => {
  for (const k of STUBBED) saved[k] = (globalThis as any)[k];
  Object.assign(globalThis, {
    $config: (c: unknown) => c,
    $app: { name: "sfts", stage: "prod" },
    $interpolate: (strings: TemplateStringsArray, ...values: unknown[]) =>
      strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]) : ""), ""),
    sst: {
      Linkable: recorder("sst.Linkable"),
      Secret: recorder("sst.Secret"),
      aws: {
        Bucket: recorder("sst.aws.Bucket"),
        Dynamo: recorder("sst.aws.Dynamo"),
        Function: recorder("sst.aws.Function"),
        ApiGatewayV2: recorder("sst.aws.ApiGatewayV2"),
        StaticSite: recorder("sst.aws.StaticSite"),
        Cron: recorder("sst.aws.Cron"),
      },
    },
    aws: {
      s3: {
        BucketServerSideEncryptionConfigurationV2: recorder(
          "aws.s3.BucketServerSideEncryptionConfigurationV2",
        ),
        BucketLifecycleConfigurationV2: recorder("aws.s3.BucketLifecycleConfigurationV2"),
        BucketCorsConfigurationV2: recorder("aws.s3.BucketCorsConfigurationV2"),
      },
    },
  });
  config = (await load("sst.config.ts")).default;
});

afterAll(() => {
  for (const k of STUBBED) (globalThis as any)[k] = saved[k];
});

const one = (type: string) => {
  const nodes = graph.filter((n) => n.type === type);
  expect(nodes, type).toHaveLength(1);
  return nodes[0] as Node;
};
const byName = (name: string) => graph.find((n) => n.name === name);

describe("sst.config.ts", () => {
  it("retains and protects production; removes other stages", async () => {
    for (const stage of ["prod", "production"])
      expect(await config.app({ stage })).toMatchObject({
        name: "sfts",
        home: "aws",
        removal: "retain",
        protect: true,
      });
    expect(await config.app({ stage: "dev" })).toMatchObject({ removal: "remove", protect: false });
    process.env.SFTS_ALLOW_REMOVE = "1";
    try {
      expect(await config.app({ stage: "prod" })).toMatchObject({ removal: "retain", protect: false });
    } finally {
      delete process.env.SFTS_ALLOW_REMOVE;
    }
  });

  it("declares bucket, table, secret, API + function, dashboard, janitor, and outputs their addresses", async () => {
    graph.length = 0;
    const outputs = await config.run();
    expect(outputs).toEqual({
      api: "https://api.example",
      dashboard: "https://dashboard.example",
      bucket: "Files-physical-name",
      table: "Transfers-physical-name",
    });
    one("sst.aws.Bucket");
    one("sst.aws.Dynamo");
    expect(one("sst.Secret").name).toBe(LINKS.adminKey);
    expect(one("aws.s3.BucketLifecycleConfigurationV2").args.bucket).toBe("Files-physical-name");
    expect(one("aws.s3.BucketServerSideEncryptionConfigurationV2").args.bucket).toBe("Files-physical-name");
    // The production stage keeps point-in-time recovery.
    expect(one("sst.aws.Dynamo").args.transform.table.pointInTimeRecovery).toEqual({ enabled: true });
  });

  it("routes every API request to the coordinator function", () => {
    const api = one("sst.aws.ApiGatewayV2");
    const fn = byName("Coordinator");
    expect(api.routes).toEqual([["$default", `arn:sst.aws.Function:Coordinator`]]);
    expect(fn?.args.runtime).toBe("nodejs22.x");
  });

  it("links the functions only to what they need, under the names the Lambda reads", () => {
    const linkName = (l: unknown) => (l as { node: Node }).node.name;
    const storage = byName(LINKS.bucket);
    const database = byName(LINKS.table);
    expect(storage?.args.properties).toEqual({ name: "Files-physical-name" });
    expect(database?.args.properties).toEqual({ name: "Transfers-physical-name" });
    expect(storage?.args.include).toBeUndefined(); // links carry names; rights are granted action by action
    expect(byName("Coordinator")?.args.link.map(linkName)).toEqual([
      LINKS.bucket,
      LINKS.table,
      LINKS.adminKey,
    ]);
    const cron = one("sst.aws.Cron");
    expect(cron.name).toBe("Janitor");
    expect(cron.args.function.link.map(linkName)).toEqual([LINKS.bucket, LINKS.table]);
    expect(cron.args.function.permissions.flatMap((p: any) => p.resources)).toContain(
      "arn:sst.aws.Bucket:Files/objects/*",
    );
  });

  it("gives the dashboard the API's URL, and lets the dashboard's origin use the bucket", () => {
    expect(one("sst.aws.StaticSite").args.environment).toEqual({ VITE_SFTS_API_URL: "https://api.example" });
    const cors = one("aws.s3.BucketCorsConfigurationV2");
    expect(cors.args.bucket).toBe("Files-physical-name");
    expect(cors.args.corsRules[0].allowedOrigins).toEqual(["https://dashboard.example"]);
  });
});
