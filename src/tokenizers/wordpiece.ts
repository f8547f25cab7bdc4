/**
 * BERT's WordPiece tokenizer, compatible with a standard `vocab.txt`, following Hugging Face's
 * BertTokenizer step by step: special tokens in the text are kept whole; the rest goes through the
 * "basic" pre-tokenizer (drop NUL, U+FFFD and control characters, whitespace → space, spaces around CJK
 * ideographs, NFC, split on whitespace, optionally lower-case and strip accents (NFD, drop Mn), split
 * off punctuation) and then greedy longest-match-first WordPiece with '##' continuation pieces; a word
 * that cannot be covered, or is longer than `maxWordChars` characters, becomes [UNK] as a whole.
 */
import { BaseTokenizer } from './base.js';
import type { SpecialNames, Vocab } from './vocab.js';

/** `WordPieceTokenizer`'s settings, named after Hugging Face's BertTokenizer where they match. */
export interface WordPieceOptions {
  /** Lower-case the text (uncased models). */
  lowercase: boolean;
  /** Words longer than this (in characters) become [UNK] (BERT: 100). */
  maxWordChars: number;
  /** Strip accents (NFD, drop Mn); absent follows `lowercase` (Hugging Face's `strip_accents: null`). */
  stripAccents?: boolean;
  /** Put spaces around CJK ideographs (Hugging Face's `tokenize_chinese_chars`); absent means true. */
  splitCjk?: boolean;
  /** Special token strings other than BERT's defaults (from a Hugging Face tokenizer_config.json). */
  specialTokens?: SpecialNames;
}

/** Settings of the basic pre-tokenizer; see `WordPieceOptions`. */
export interface BasicOptions {
  lowercase: boolean;
  stripAccents?: boolean;
  splitCjk?: boolean;
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

/** Hugging Face's `_is_control`: any category C* except tab, newline and carriage return. */
function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /\p{C}/u.test(ch);
}

/** Hugging Face's `_is_whitespace`: space, tab, newline, carriage return, or category Zs. */
function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
}

/**
 * BERT's BasicTokenizer: text → words and punctuation marks. `opts` may be a boolean (`lowercase`,
 * accents stripped when lower-casing: BERT's uncased models).
 */
export function basicTokenize(text: string, opts: boolean | BasicOptions): string[] {
  const o: BasicOptions = typeof opts === 'boolean' ? { lowercase: opts } : opts;
  const strip = o.stripAccents ?? o.lowercase;
  const splitCjk = o.splitCjk ?? true;
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) cleaned += ' ';
    else if (splitCjk && isCjk(cp)) cleaned += ` ${ch} `;
    else cleaned += ch;
  }
  const out: string[] = [];
  // Python's str.split(): the remaining separators (e.g. U+2028) split words too.
  for (let word of cleaned.normalize('NFC').split(/\s+/u)) {
    if (!word) continue;
    // Character by character, as Hugging Face does (so a final Σ becomes σ, not ς).
    if (o.lowercase) word = Array.from(word, (c) => c.toLowerCase()).join('');
    if (strip) word = word.normalize('NFD').replace(/\p{Mn}/gu, '');
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

/**
 * Cuts text at occurrences of the special tokens (longest first at each position), as Hugging Face's
 * tokenizers do before anything else, so that "[MASK]" typed in a text is the mask token.
 */
export function splitOnSpecials(
  text: string,
  specials: readonly string[],
): { text: string; special: boolean }[] {
  const sorted = [...new Set(specials)].filter((s) => s).sort((a, b) => b.length - a.length);
  const out: { text: string; special: boolean }[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const hit = sorted.find((s) => text.startsWith(s, i));
    if (hit === undefined) {
      i++;
      continue;
    }
    if (i > start) out.push({ text: text.slice(start, i), special: false });
    out.push({ text: hit, special: true });
    i += hit.length;
    start = i;
  }
  if (start < text.length) out.push({ text: text.slice(start), special: false });
  return out;
}

/**
 * BERT's WordPiece tokenizer over a `vocab.txt` vocabulary (see the file header); it reproduces Hugging
 * Face's BertTokenizer. Options default to `DEFAULT_WORDPIECE` (uncased, 100-character words).
 *
 * @example
 * const vocab = Vocab.withSpecials(['un', '##aff', '##able', 'hello', '!']);
 * const tok = new WordPieceTokenizer(vocab);
 * tok.tokenize('Unaffable hello!'); // ['un', '##aff', '##able', 'hello', '!']
 * const { ids, typeIds } = tok.encodePair('hello', 'unaffable', 16); // [CLS] a [SEP] b [SEP]
 */
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
    for (const part of splitOnSpecials(text, Object.values(this.vocab.specialNames))) {
      if (part.special) {
        out.push(part.text);
        continue;
      }
      for (const word of basicTokenize(part.text, this.opts)) {
        const pieces = wordPieces(word, (p) => this.vocab.has(p), this.opts.maxWordChars);
        if (pieces) out.push(...pieces);
        else out.push(this.vocab.specialNames.unk);
      }
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
