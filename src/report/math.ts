/**
 * Math for the report, rendered server-side with KaTeX so the page needs no scripts: display equations
 * and `$...$` spans inside text paragraphs. A LaTeX error shows as red source text (throwOnError
 * false) rather than breaking the report.
 */
import katex from 'katex';
import { escapeXml } from './svg.js';

export function renderMath(latex: string, displayMode: boolean): string {
  return katex.renderToString(latex, { displayMode, throwOnError: false, strict: 'ignore' });
}

/**
 * Escapes a text paragraph and renders its `$...$` spans as inline math. `\$` is a literal dollar;
 * an unmatched `$` is kept as text.
 */
export function renderTextWithMath(text: string): string {
  let out = '';
  let plain = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '\\' && text[i + 1] === '$') {
      plain += '$';
      i += 2;
      continue;
    }
    if (text[i] === '$') {
      const end = findClosingDollar(text, i + 1);
      if (end > i + 1) {
        out += escapeXml(plain) + renderMath(text.slice(i + 1, end), false);
        plain = '';
        i = end + 1;
        continue;
      }
    }
    plain += text[i];
    i += 1;
  }
  return out + escapeXml(plain);
}

/** Index of the next unescaped `$` at or after `from`, or -1. */
function findClosingDollar(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\\') j += 1;
    else if (text[j] === '$') return j;
  }
  return -1;
}
