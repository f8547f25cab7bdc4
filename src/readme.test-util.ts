/** Reading README.md's fenced code blocks, for the tests that run them. */

export interface CodeBlock {
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

/** The fenced code blocks of a Markdown text, with their language and line. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const out: CodeBlock[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (const m of markdown.matchAll(re)) {
    out.push({ lang: m[1], line: markdown.slice(0, m.index).split('\n').length, code: m[2] });
  }
  return out;
}
