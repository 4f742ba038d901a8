/**
 * Reading a picked file by slices, and the one sentence for a file that cannot be read as it was picked:
 * a browser File is a snapshot of its size and date; a file changed, moved or deleted since then fails
 * its reads (NotReadableError) or reads other bytes. Such a file fails alone, the rest of its batch goes
 * on, and the user is told to pick it again. Never reads a file whole (a small file is one slice).
 */
import { CliError, EXIT } from "../../../cli/engine/errors.js";
import type { PickedFile } from "./types.js";

/** The file is not what was picked any more (changed, moved, deleted, unreadable). */
export function changedError(path: string, detail?: string): CliError {
  return new CliError(
    "FILE_CHANGED",
    `${path} changed or vanished while it was read; pick it again${detail ? ` (${detail})` : ""}`,
    EXIT.FILE,
  );
}

export const isChanged = (err: unknown): boolean => err instanceof CliError && err.code === "FILE_CHANGED";

/** The File's own size and date still those of the pick (a Blob has no date: only its size counts). */
export function checkUnchanged(f: PickedFile): void {
  if (f.file.size !== f.size) throw changedError(f.path, `its size is now ${f.file.size} bytes`);
  const now = (f.file as Partial<File>).lastModified;
  if (f.lastModified !== undefined && now !== undefined && now !== f.lastModified)
    throw changedError(f.path, "it was modified");
}

/** Bytes [offset, offset + size) of the file, exactly that many, or the file's changed error. */
export async function readSlice(f: PickedFile, offset: number, size: number): Promise<Uint8Array> {
  checkUnchanged(f);
  let buf: ArrayBuffer;
  try {
    buf = await f.file.slice(offset, offset + size).arrayBuffer();
  } catch (err) {
    throw changedError(f.path, err instanceof Error ? err.name : undefined);
  }
  if (buf.byteLength !== size) throw changedError(f.path, `read ${buf.byteLength} of ${size} bytes`);
  return new Uint8Array(buf);
}
