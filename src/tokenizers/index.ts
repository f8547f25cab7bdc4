/**
 * Tokenizers and their stored form: `vocab.txt` (BERT format) and `tokenizer.json` ({ kind, options }).
 * This module turns that text into a tokenizer and back; reading and writing a directory on disk is
 * the Node layer's (kexue/node: saveTokenizer, loadTokenizer).
 */
import { InputError } from '../io/errors.js';
import { CharTokenizer, type CharOptions } from './char.js';
import { WordPieceTokenizer, DEFAULT_WORDPIECE, type WordPieceOptions } from './wordpiece.js';
import { Vocab, type SpecialNames } from './vocab.js';
import type { Tokenizer } from './types.js';

export * from './types.js';
export * from './vocab.js';
export * from './char.js';
export * from './wordpiece.js';
export * from './wordpiece-build.js';

/** A tokenizer's stored form: the text of `vocab.txt` and the JSON of `tokenizer.json`. */
export interface TokenizerFiles {
  vocab: string;
  meta: { kind: string; options: unknown };
}

/**
 * The text of `vocab.txt` and `tokenizer.json` for `tok` (what saveTokenizer writes); `tokenizerFromFiles`
 * reads them back.
 *
 * @example
 * const { vocab, meta } = tokenizerFiles(tokenizer);
 * localStorage.setItem('vocab.txt', vocab);
 * localStorage.setItem('tokenizer.json', JSON.stringify(meta)); // { kind: 'wordpiece', options: {...} }
 */
export function tokenizerFiles(tok: Tokenizer): TokenizerFiles {
  return { vocab: tok.vocab.toText(), meta: { kind: tok.kind, options: tok.options() } };
}

function charOptions(o: unknown, file: string): CharOptions {
  const c = (o ?? {}) as Partial<CharOptions>;
  if (typeof c.lowercase !== 'boolean')
    throw new InputError('lowercase must be true or false', file, undefined, 'options.lowercase');
  if (c.whitespace !== 'drop' && c.whitespace !== 'token') {
    throw new InputError("whitespace must be 'drop' or 'token'", file, undefined, 'options.whitespace');
  }
  if (c.normalize !== 'NFKC' && c.normalize !== 'none') {
    throw new InputError("normalize must be 'NFKC' or 'none'", file, undefined, 'options.normalize');
  }
  return { lowercase: c.lowercase, whitespace: c.whitespace, normalize: c.normalize };
}

/**
 * A tokenizer from the text of `vocab.txt` and the parsed `tokenizer.json` (undefined: BERT WordPiece, as
 * for a bare vocab.txt). `where` names the two files in error messages.
 *
 * @example
 * const files = tokenizerFiles(tokenizer);
 * const copy = tokenizerFromFiles(files.vocab, files.meta); // same kind, options and vocabulary
 * const bert = tokenizerFromFiles('[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n', undefined); // WordPiece
 */
export function tokenizerFromFiles(
  vocabText: string,
  meta: unknown,
  where: { vocab: string; meta: string } = { vocab: 'vocab.txt', meta: 'tokenizer.json' },
): Tokenizer {
  const read = (names?: SpecialNames) => Vocab.fromText(vocabText, where.vocab, names);
  if (meta === undefined) return new WordPieceTokenizer(read(), DEFAULT_WORDPIECE);
  const m = (meta ?? {}) as { kind?: unknown; options?: unknown };
  if (m.kind === 'char') return new CharTokenizer(read(), charOptions(m.options, where.meta));
  if (m.kind === 'wordpiece') {
    // Special token strings other than [PAD]/[UNK]/... (a Hugging Face import) are kept in the options.
    const vocab = read((m.options as Partial<WordPieceOptions> | undefined)?.specialTokens);
    return new WordPieceTokenizer(vocab, {
      ...DEFAULT_WORDPIECE,
      ...(m.options as Partial<WordPieceOptions>),
    });
  }
  throw new InputError(`unknown tokenizer kind '${String(m.kind)}'`, where.meta, undefined, 'kind');
}
