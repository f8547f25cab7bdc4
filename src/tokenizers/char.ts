/**
 * Character-level tokenizers. Chinese: one token per character (after NFKC, which maps full-width
 * forms to half-width, and lower-casing), whitespace dropped. English: one token per character with
 * each whitespace run kept as a single ' ' token, case kept by default. Characters iterate by code
 * point, so characters outside the BMP are single tokens.
 */
import { BaseTokenizer } from './base.js';
import { Vocab, byFrequency } from './vocab.js';

/** How `CharTokenizer` splits text (see the file header); `CHINESE_CHAR` and `ENGLISH_CHAR` are presets. */
export interface CharOptions {
  lowercase: boolean;
  /** 'drop' removes whitespace; 'token' keeps each whitespace run as one ' ' token. */
  whitespace: 'drop' | 'token';
  /** Unicode normalisation applied first. */
  normalize: 'NFKC' | 'none';
}

/** Chinese text: NFKC, lower-cased, whitespace dropped (`CharTokenizer`'s default). */
export const CHINESE_CHAR: CharOptions = { lowercase: true, whitespace: 'drop', normalize: 'NFKC' };
/** English text: NFKC, case kept, each whitespace run one ' ' token. */
export const ENGLISH_CHAR: CharOptions = { lowercase: false, whitespace: 'token', normalize: 'NFKC' };

export function charSplit(text: string, o: CharOptions): string[] {
  let t = o.normalize === 'NFKC' ? text.normalize('NFKC') : text;
  if (o.lowercase) t = t.toLowerCase();
  const out: string[] = [];
  let inSpace = false;
  for (const ch of t) {
    if (/\s/u.test(ch)) {
      if (o.whitespace === 'token' && !inSpace && out.length) out.push(' ');
      inSpace = true;
      continue;
    }
    inSpace = false;
    out.push(ch);
  }
  if (out.length && out[out.length - 1] === ' ') out.pop();
  return out;
}

/**
 * A character-level tokenizer (one token per code point, see the file header); build its vocabulary from
 * a corpus with `CharTokenizer.build`.
 *
 * @example
 * const tok = CharTokenizer.build(['我爱北京', '北京欢迎你'], CHINESE_CHAR, { maxSize: 1000 });
 * tok.tokenize('北京 你好'); // ['北', '京', '你', '好'] (好 is not in the vocabulary: [UNK] when encoded)
 * tok.encode('北京'); // [2, 6, 5, 3]: [CLS] 北 京 [SEP]
 * tok.decode(tok.encode('北京')); // '北京'
 */
export class CharTokenizer extends BaseTokenizer {
  readonly kind = 'char';
  constructor(
    vocab: Vocab,
    readonly opts: CharOptions = CHINESE_CHAR,
  ) {
    super(vocab);
  }

  tokenize(text: string): string[] {
    return charSplit(text, this.opts);
  }

  options(): Record<string, unknown> {
    return { ...this.opts };
  }

  protected join(tokens: string[]): string {
    return tokens.join('');
  }

  /** Builds the vocabulary from texts: specials, then characters seen ≥ minCount times, most frequent first. */
  static build(
    texts: Iterable<string>,
    opts: CharOptions = CHINESE_CHAR,
    limits: { minCount?: number; maxSize?: number } = {},
  ): CharTokenizer {
    const counts = new Map<string, number>();
    for (const text of texts)
      for (const ch of charSplit(text, opts)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    const maxChars = limits.maxSize === undefined ? Infinity : limits.maxSize - 5;
    return new CharTokenizer(Vocab.withSpecials(byFrequency(counts, limits.minCount ?? 1, maxChars)), opts);
  }
}
