import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentDisposition } from "../../functions/adapters/s3-store.js";

/** Splits `attachment; filename="…"; filename*=UTF-8''…` into its two names. */
function parse(header: string): { ascii: string; utf8: string } {
  const m = /^attachment; filename="((?:[^"\\]|\\.)*)"; filename\*=UTF-8''([^\s;"]*)$/.exec(header);
  if (!m) throw new Error(`not a Content-Disposition value of the expected shape: ${JSON.stringify(header)}`);
  return { ascii: m[1] as string, utf8: decodeURIComponent(m[2] as string) };
}

/** No C0 control character, no DEL, nothing outside printable ASCII (header values must be ASCII). */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

describe("contentDisposition", () => {
  it("gives a plain name as it is", () => {
    expect(contentDisposition("report.pdf")).toBe(
      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
  });

  it("keeps only the last segment of a path-traversal name", () => {
    const h = contentDisposition("../../etc/passwd");
    expect(h).toBe(`attachment; filename="passwd"; filename*=UTF-8''passwd`);
    const { ascii, utf8 } = parse(h);
    expect(ascii).not.toMatch(/[/\\]/);
    expect(utf8).not.toMatch(/[/\\]/);
  });

  it("treats a backslash as a path separator (Windows paths)", () => {
    expect(parse(contentDisposition("C:\\Users\\me\\secret.txt"))).toEqual({
      ascii: "secret.txt",
      utf8: "secret.txt",
    });
    const { ascii } = parse(contentDisposition('a"b\\c".txt'));
    expect(ascii).toBe("c_.txt");
  });

  it("replaces double quotes in the ASCII name and percent-encodes them in filename*", () => {
    const h = contentDisposition('say "hi".txt');
    expect(h).toBe(`attachment; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`);
    expect(parse(h).utf8).toBe('say "hi".txt');
  });

  it("replaces newlines and other control characters, so no header can be injected", () => {
    const name = "a\r\nSet-Cookie: x=1\u0000\u0007\u007f.txt";
    const h = contentDisposition(name);
    expect(h).toMatch(PRINTABLE_ASCII);
    expect(h).not.toMatch(/[\r\n]/);
    const { ascii, utf8 } = parse(h);
    expect(ascii).toBe("a__Set-Cookie: x=1___.txt");
    expect(utf8).toBe(name);
  });

  it("gives a non-ASCII name exactly in filename* and a placeholder in the ASCII one", () => {
    const h = contentDisposition("café.txt");
    expect(h).toBe(`attachment; filename="caf_.txt"; filename*=UTF-8''caf%C3%A9.txt`);
    expect(parse(h).utf8).toBe("café.txt");
  });

  it("keeps astral characters intact in filename*", () => {
    const { ascii, utf8 } = parse(contentDisposition("📦 données.zip"));
    expect(utf8).toBe("📦 données.zip");
    // One replacement per UTF-16 unit outside printable ASCII.
    expect(ascii).toBe("__ donn_es.zip");
  });

  it("falls back to 'download' for a name that ends in a separator", () => {
    expect(contentDisposition("dir/")).toBe(`attachment; filename="download"; filename*=UTF-8''download`);
    expect(parse(contentDisposition("a\\")).ascii).toBe("download");
  });

  it("always yields a printable-ASCII value whose names hold no separator, quote or control character", () => {
    const nameArb = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 });
    const hostileArb = fc
      .array(fc.constantFrom("/", "\\", '"', "\n", "\r", "\t", "\u0000", "é", "..", "a", ";", "%", "'"), {
        minLength: 1,
        maxLength: 20,
      })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.oneof(nameArb, hostileArb), (name) => {
        const h = contentDisposition(name);
        expect(h).toMatch(PRINTABLE_ASCII);
        const { ascii, utf8 } = parse(h);
        expect(ascii).toMatch(PRINTABLE_ASCII);
        expect(ascii).toMatch(/^[^/\\"]+$/);
        expect(utf8).not.toMatch(/[/\\]/);
        const last = name.split(/[\\/]/).pop() ?? "";
        const base = ["", ".", ".."].includes(last) ? "download" : last;
        expect(utf8).toBe(base);
        expect(ascii).toHaveLength(base.length);
      }),
    );
  });

  it("survives a lone surrogate instead of throwing", () => {
    const h = contentDisposition("\uD800.txt");
    expect(h).toBe(`attachment; filename="_.txt"; filename*=UTF-8''%EF%BF%BD.txt`);
  });

  it("percent-encodes the characters RFC 8187 leaves out of attr-char", () => {
    expect(contentDisposition("it's (1)*.txt")).toContain("filename*=UTF-8''it%27s%20%281%29%2A.txt");
  });
});
