import { open } from "node:fs/promises";

const MAX_TAIL_BYTES = 16 * 1024;

/**
 * The last `lines` lines written to `file` at or after byte offset `from` (a log is appended to
 * across restarts, so `from` marks where the current run began). Empty when the file is unreadable.
 */
export async function readLogTail(file: string, from = 0, lines = 20): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, "r");
    const { size } = await handle.stat();
    const start = Math.max(from, size - MAX_TAIL_BYTES);
    const length = Math.max(0, size - start);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, start);
    return buffer.toString("utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  } finally {
    await handle?.close();
  }
}
