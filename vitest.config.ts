import { defineConfig } from "vitest/config";

/**
 * The storage-facing files, run a second time on SeaweedFS (SFTS_TEST_STORAGE=seaweedfs) by plain
 * `npm test`; the "integration" and "e2e" projects run everything on SFTS_TEST_STORAGE's server
 * (versitygw unless set, so `SFTS_TEST_STORAGE=seaweedfs npm test` runs all of it on SeaweedFS).
 */
const SEAWEEDFS = { SFTS_TEST_STORAGE: "seaweedfs" };
const STORAGE_FACING_INTEGRATION = [
  "object-store",
  "storage-probe",
  "storage-verification",
  "upload-flow",
  "batch-flow",
  "batch-multipart",
  "content-pending",
  "missing-and-state",
  "lean-protocol",
  "reading",
].map((name) => `test/integration/${name}.test.ts`);
// Sending (with its resumes after a kill, with and without the journal), receiving, the fault suite
// (kills, drops, corruption, storage, table and API restarts, the audit of every stored byte), MD5 mode
// (send, refused damage, resume, receive) and doctor. The other e2e files run on SeaweedFS with
// SFTS_TEST_STORAGE=seaweedfs (every file then runs there).
const STORAGE_FACING_E2E = ["send", "receive", "faults", "storage-md5", "doctor"].map(
  (name) => `test/e2e/${name}.test.ts`,
);

const integration = {
  environment: "node",
  globalSetup: ["test/helpers/global-setup.ts"],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};
const e2e = {
  environment: "node",
  globalSetup: ["test/helpers/build.ts", "test/helpers/storage-setup.ts"],
  testTimeout: 120_000,
  hookTimeout: 180_000,
  // Each file starts its own stacks and processes; keep them from competing for two cores. Files of
  // projects without file parallelism run one at a time in one group after the others (vitest's
  // groupSpecs), so e2e files of both projects never overlap.
  fileParallelism: false,
};

export default defineConfig({
  test: {
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      { test: { name: "integration", include: ["test/integration/**/*.test.ts"], ...integration } },
      {
        test: {
          name: "integration-seaweedfs",
          include: STORAGE_FACING_INTEGRATION,
          env: SEAWEEDFS,
          ...integration,
        },
      },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], ...e2e } },
      { test: { name: "e2e-seaweedfs", include: STORAGE_FACING_E2E, env: SEAWEEDFS, ...e2e } },
    ],
  },
});
