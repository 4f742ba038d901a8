/// <reference path="./.sst/platform/config.d.ts" />
/**
 * `npx sst deploy --stage prod`: SFTS in your AWS account. Composition only; each concern is a file in
 * infra/ (SST evaluates app() before its globals exist, so infra/ is imported inside the functions).
 */
export default $config({
  async app(input) {
    const { isProductionStage } = await import("./infra/stage.js");
    const production = isProductionStage(input.stage);
    return {
      name: "sfts",
      home: "aws",
      // Production keeps the bucket and table when the stage is removed, and refuses `sst remove`
      // unless SFTS_ALLOW_REMOVE=1 says that is meant (README.md, "Removing a stage").
      removal: production ? "retain" : "remove",
      protect: production && process.env.SFTS_ALLOW_REMOVE !== "1",
      providers: { aws: { version: "6.66.2" } },
    };
  },
  async run() {
    const { settings } = await import("./infra/stage.js");
    const { storage, storageCors } = await import("./infra/storage.js");
    const { table } = await import("./infra/table.js");
    const { secrets } = await import("./infra/secrets.js");
    const { coordinatorApi } = await import("./infra/api.js");
    const { dashboard } = await import("./infra/web.js");
    const { janitor } = await import("./infra/janitor.js");

    const s = settings($app.stage, process.env);
    const files = storage(s);
    const transfers = table(s);
    const { adminKey } = secrets();
    const { readFileSync } = await import("node:fs");
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const api = coordinatorApi({ files, transfers, adminKey, version });
    const site = dashboard(api.url);
    storageCors(files.bucket, [site.url, ...s.extraCorsOrigins]);
    janitor({ files, transfers, settings: s });

    return {
      api: api.url,
      dashboard: site.url,
      bucket: files.bucket.name,
      table: transfers.table.name,
    };
  },
});
