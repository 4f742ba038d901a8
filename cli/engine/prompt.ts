/**
 * Questions on the terminal (or lines from a pipe): prompts go to stderr, so stdout stays for answers.
 * Hidden questions (tokens) do not echo what is typed.
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";

export interface Prompter {
  ask(question: string, opts?: { hidden?: boolean; default?: string }): Promise<string | undefined>;
  close(): void;
}

export function createPrompter(
  input: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
  out: NodeJS.WritableStream = process.stderr,
): Prompter {
  let hidden = false;
  const echo = new Writable({
    write(chunk, _encoding, done) {
      if (!hidden) out.write(chunk);
      done();
    },
  });
  const terminal = input.isTTY === true;
  const rl = createInterface({ input, output: echo, terminal });
  // Lines are taken in order from one iterator, so answers piped in before a question is asked are kept.
  const lines = rl[Symbol.asyncIterator]();
  return {
    async ask(question, opts = {}) {
      out.write(`${question}${opts.default ? ` [${opts.default}]` : ""}: `);
      hidden = opts.hidden === true && terminal;
      const next = await lines.next();
      if (hidden) out.write("\n");
      hidden = false;
      if (next.done) return undefined;
      const answer = String(next.value).trim();
      return answer === "" ? opts.default : answer;
    },
    close() {
      rl.close();
    },
  };
}
