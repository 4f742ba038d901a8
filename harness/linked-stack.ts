/**
 * A local stack behind a shaped link, for the soak and the link benchmark: the link is opened first on
 * ports chosen for the stack, so that presigned URLs name the link's storage address; `stop()` closes
 * both and deletes the work folder, also after a failure or Ctrl-C.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getFreePort } from "../local/ports.js";
import type { RunningStack, StackOptions } from "../local/stack.js";
import { type Link, type LinkOptions, openLink } from "./link.js";
import { startLocalStack } from "./local-stack.js";
import type { LinkProfile } from "./profiles.js";
import { cleanUpOnSignal } from "./signals.js";

export interface LinkedStack {
  link: Link;
  stack: RunningStack;
  /** A fresh folder for the caller's files (the stack's data lives in its `stack/`). */
  work: string;
  stop(): Promise<void>;
}

export async function startLinkedStack(opts: {
  /** Names the bucket, the table and the work folder. */
  name: string;
  profile: LinkProfile;
  mode?: LinkOptions["mode"];
  seed?: number | undefined;
  log: (line: string) => void;
  /** Where the work folder goes (default the OS temp folder). */
  dir?: string | undefined;
  /** Told about every DynamoDB request of the coordinator (benchmarks count writes with it). */
  onDynamoCall?: StackOptions["onDynamoCall"];
}): Promise<LinkedStack> {
  const work = await mkdtemp(join(opts.dir ?? tmpdir(), `sfts-${opts.name}-`));
  const host = "127.0.0.1";
  const ports = {
    api: await getFreePort(host),
    s3: await getFreePort(host),
    dynamodb: await getFreePort(host),
  };
  let link: Link | undefined;
  let stack: RunningStack | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await link?.close();
      await stack?.stop();
      await rm(work, { recursive: true, force: true });
    })());
  cleanUpOnSignal(stop, { log: opts.log });
  try {
    link = await openLink({
      profile: opts.profile,
      targets: { api: `http://${host}:${ports.api}`, s3: `http://${host}:${ports.s3}` },
      ...(opts.mode !== undefined && { mode: opts.mode }),
      ...(opts.seed !== undefined && { seed: opts.seed }),
      log: opts.log,
    });
    stack = await startLocalStack({
      name: opts.name,
      ports,
      dataDir: join(work, "stack"),
      log: opts.log,
      s3PublicEndpoint: link.s3Url,
      ...(opts.onDynamoCall !== undefined && { onDynamoCall: opts.onDynamoCall }),
    });
    return { link, stack, work, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
