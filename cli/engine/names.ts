/**
 * A stored file name is data from someone else: before it names a file here it loses any path
 * (so it cannot climb out of the target folder), control characters, and the special names . and ..
 */
export function safeFileName(name: string, fallback: string): string {
  let base = name.split(/[\\/]/).pop() ?? "";
  base = base.replace(/\p{Cc}/gu, "_").trim();
  if (base === "" || /^\.+$/.test(base)) base = fallback;
  while (Buffer.byteLength(base) > 255) base = base.slice(0, -1);
  return base;
}
