/** `sfts doctor`: thin over cli/engine/doctor.ts (the checks) and doctor-probes.ts (the calls they need). */
import { BaseCommand } from "../base-command.js";
import { resolveClientConfig } from "../engine/config.js";
import { renderDoctor, runDoctor } from "../engine/doctor.js";
import { httpProbes } from "../engine/doctor-probes.js";

/** A doctor that waits a minute per call helps no one; --timeout still says otherwise. */
const DEFAULT_TIMEOUT_MS = 15_000;

export default class Doctor extends BaseCommand {
  static override description =
    `Check what a transfer needs: the server, the token, what storage verifies (the coordinator's probe), that this machine reaches storage, and the clock against storage's

One line per check (✓ pass, ! warning, ✗ failure with what to do, - not checked). Exits 0 when nothing fails (warnings allowed); else with the first failing check's code: 4 server, 5 token, 6 storage or clock, 7 storage unreachable.`;
  static override examples = [
    "<%= config.bin %> doctor",
    "<%= config.bin %> doctor --server https://abc123.execute-api.eu-west-1.amazonaws.com --json",
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(Doctor);
    this.verbose = flags.verbose;
    this.json = flags.json;
    // Not clientConfig(): a missing token is one of the checks, not a reason to check nothing.
    const c = resolveClientConfig({ server: flags.server, token: flags.token, timeout: flags.timeout });
    const timeoutMs = flags.timeout ? c.timeoutMs : Math.min(c.timeoutMs, DEFAULT_TIMEOUT_MS);
    const report = await runDoctor(c.server, httpProbes({ server: c.server, token: c.token, timeoutMs }), {
      hasToken: Boolean(c.token),
    });
    process.stdout.write(this.json ? `${JSON.stringify(report)}\n` : renderDoctor(report));
    if (!report.ok) this.exit(report.exitCode);
  }
}
