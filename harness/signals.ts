/** Ctrl-C (or SIGTERM) during a benchmark or the soak: clean up what it started, then exit 130. */
export function cleanUpOnSignal(
  cleanup: () => Promise<void>,
  opts: { log?: (line: string) => void; onSignal?: () => void } = {},
): void {
  const onSignal = (signal: NodeJS.Signals) => {
    opts.onSignal?.();
    opts.log?.(`\n${signal}: stopping and cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
}
