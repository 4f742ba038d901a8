/**
 * The dashboard (web/): a static site on S3 + CloudFront, built by `npm run build:web` (run in web/, output
 * web/dist) with the API's address injected at build time as VITE_SFTS_API_URL.
 */
export function dashboardArgs(apiUrl: $util.Input<string>): sst.aws.StaticSiteArgs {
  return {
    path: "web",
    build: { command: "npm run build:web", output: "dist" },
    environment: { VITE_SFTS_API_URL: apiUrl },
  };
}

export function dashboard(apiUrl: $util.Input<string>) {
  return new sst.aws.StaticSite("Dashboard", dashboardArgs(apiUrl));
}
