import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Args } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { journalDir, readJournal, removeJournal } from "../engine/journal.js";
import { batchJournalPath } from "../engine/send/batch-journal.js";

export default class Cancel extends BaseCommand {
  static override description =
    "Abort a transfer, or every unfinished file of a batch: storage releases the parts it holds, and the local resume journal is dropped";
  static override examples = [
    "<%= config.bin %> cancel tr_01kb4x5q2m3n4p5r6s7t8v9w0x",
    "<%= config.bin %> cancel bt_01kb4x5q2m3n4p5r6s7t8v9w0x",
  ];
  static override args = {
    id: Args.string({ description: "The transfer id (tr_…) or batch id (bt_…)", required: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Cancel);
    this.verbose = flags.verbose;
    this.json = flags.json;
    const config = this.clientConfig(flags);
    if (args.id.startsWith("bt_")) {
      const b = await this.api(config).abortBatch(args.id);
      // The sender's batch journal (found by the manifest's digest) would only lead a rerun to it.
      removeJournal(batchJournalPath(config.server, b.batch.digest));
      if (this.json) return void process.stdout.write(`${JSON.stringify(b)}\n`);
      return void process.stdout.write(
        `Cancelled ${b.batch.id}: ${b.aborted} unfinished file${b.aborted === 1 ? "" : "s"} aborted, ${b.batch.filesComplete} complete kept (batch ${b.batch.status}).\n`,
      );
    }
    const r = await this.api(config).abort(args.id);
    // A journal pointing at a cancelled transfer would only send the next run looking for it.
    const dir = journalDir();
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    } catch {
      // no journal yet
    }
    for (const f of files) {
      const entry = readJournal(join(dir, f));
      if (entry?.transferId === args.id) removeJournal(join(dir, f));
    }
    if (this.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else process.stdout.write(`Cancelled ${r.transferId}; storage released what it held for it.\n`);
  }
}
