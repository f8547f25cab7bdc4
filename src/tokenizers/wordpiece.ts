/**
 * BERT's WordPiece tokenizer, compatible with a standard `vocab.txt`: the "basic" pre-tokenizer
 * (clean control characters, put spaces around CJK ideographs, optionally lower-case and strip
 * accents, split on whitespace and punctuation) followed by greedy longest-match-first WordPiece
 * with '##' continuation pieces; a word that cannot be covered becomes [UNK] as a whole.
 */
import { BaseTokenizer } from './base.js';
import type { Vocab } from './vocab.js';

export interface WordPieceOptions {
  lowercase: boolean;
  /** Words longer than this (in characters) become [UNK] (BERT: 100). */
  maxWordChars: number;
}

export const DEFAULT_WORDPIECE: WordPieceOptions = { lowercase: true, maxWordChars: 100 };

/** The CJK ideograph blocks BERT isolates (its `_is_chinese_char`). */
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** BERT counts all non-alphanumeric ASCII as punctuation, plus Unicode P* categories. */
function isPunct(ch: string, cp: number): boolean {
  if (
    (cp >= 33 && cp <= 47) ||
    (cp >= 58 && cp <= 64) ||
    (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126)
  ) {
    return true;
  }
  return /\p{P}/u.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /[\p{Cc}\p{Cf}]/u.test(ch);
}

/** BERT's BasicTokenizer: text → words and punctuation marks. */
export function basicTokenize(text: string, lowercase: boolean): string[] {
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (/\s/u.test(ch)) cleaned += ' ';
    else if (isCjk(cp)) cleaned += ` ${ch} `;
    else cleaned += ch;
  }
  const out: string[] = [];
  for (let word of cleaned.split(' ')) {
    if (!word) continue;
    if (lowercase)
      word = word
        .toLowerCase()
        .normalize('NFD')
        .replace(/\p{Mn}/gu, '');
    let cur = '';
    for (const ch of word) {
      if (isPunct(ch, ch.codePointAt(0)!)) {
        if (cur) out.push(cur);
        out.push(ch);
        cur = '';
      } else cur += ch;
    }
    if (cur) out.push(cur);
  }
  return out;
}

/** Greedy longest-match-first split of one word; null if some part cannot be matched. */
export function wordPieces(word: string, has: (piece: string) => boolean, maxChars = 100): string[] | null {
  const chars = Array.from(word);
  if (chars.length > maxChars) return null;
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: string | null = null;
    while (start < end) {
      const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      if (has(sub)) {
        found = sub;
        break;
      }
      end--;
    }
    if (found === null) return null;
    pieces.push(found);
    start = end;
  }
  return pieces;
}

export class WordPieceTokenizer extends BaseTokenizer {
  readonly kind = 'wordpiece';
  constructor(
    vocab: Vocab,
    readonly opts: WordPieceOptions = DEFAULT_WORDPIECE,
  ) {
    super(vocab);
  }

  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const word of basicTokenize(text, this.opts.lowercase)) {
      const pieces = wordPieces(word, (p) => this.vocab.has(p), this.opts.maxWordChars);
      if (pieces) out.push(...pieces);
      else out.push(this.vocab.token(this.vocab.special.unk));
    }
    return out;
  }

  options(): Record<string, unknown> {
    return { ...this.opts };
  }

  protected join(tokens: string[]): string {
    return tokens.reduce((s, t) => (t.startsWith('##') ? s + t.slice(2) : s ? `${s} ${t}` : t), '');
  }
}
