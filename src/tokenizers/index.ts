/**
 * Tokenizers and their storage: a directory holds `vocab.txt` (BERT format) and `tokenizer.json`
 * ({ kind, options }).
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../io/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { CharTokenizer, type CharOptions } from './char.js';
import { WordPieceTokenizer, DEFAULT_WORDPIECE, type WordPieceOptions } from './wordpiece.js';
import { Vocab, type SpecialNames } from './vocab.js';
import type { Tokenizer } from './types.js';

export * from './types.js';
export * from './vocab.js';
export * from './char.js';
export * from './wordpiece.js';
export * from './wordpiece-build.js';

export function saveTokenizer(dir: string, tok: Tokenizer): void {
  writeFileAtomic(path.join(dir, 'vocab.txt'), tok.vocab.toText());
  writeJsonAtomic(path.join(dir, 'tokenizer.json'), { kind: tok.kind, options: tok.options() });
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

/** Loads a tokenizer saved by `saveTokenizer`; a directory with only a vocab.txt is read as BERT WordPiece. */
export function loadTokenizer(dir: string): Tokenizer {
  const vocabFile = path.join(dir, 'vocab.txt');
  if (!fs.existsSync(vocabFile)) throw new InputError('no vocab.txt here', dir);
  const read = (names?: SpecialNames) => Vocab.fromText(fs.readFileSync(vocabFile, 'utf8'), vocabFile, names);
  const metaFile = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(metaFile)) return new WordPieceTokenizer(read(), DEFAULT_WORDPIECE);
  let meta: { kind?: unknown; options?: unknown };
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as typeof meta;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, metaFile);
  }
  if (meta.kind === 'char') return new CharTokenizer(read(), charOptions(meta.options, metaFile));
  if (meta.kind === 'wordpiece') {
    const vocab = read((meta.options as Partial<WordPieceOptions> | undefined)?.specialTokens);
    return new WordPieceTokenizer(vocab, {
      ...DEFAULT_WORDPIECE,
      ...(meta.options as Partial<WordPieceOptions>),
    });
  }
  throw new InputError(`unknown tokenizer kind '${String(meta.kind)}'`, metaFile, undefined, 'kind');
}
