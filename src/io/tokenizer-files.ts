/** Tokenizers on disk: a directory holding `vocab.txt` and `tokenizer.json` (see tokenizers/index.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from './errors.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { tokenizerFiles, tokenizerFromFiles, type Tokenizer } from '../tokenizers/index.js';

/**
 * Writes `vocab.txt` and `tokenizer.json` for `tok` into `dir`.
 *
 * @example
 * saveTokenizer('tok-dir/', CharTokenizer.build(texts));
 * const tok = loadTokenizer('tok-dir/'); // a CharTokenizer again
 */
export function saveTokenizer(dir: string, tok: Tokenizer): void {
  const files = tokenizerFiles(tok);
  writeFileAtomic(path.join(dir, 'vocab.txt'), files.vocab);
  writeJsonAtomic(path.join(dir, 'tokenizer.json'), files.meta);
}

/**
 * Loads a tokenizer saved by `saveTokenizer`; a directory with only a vocab.txt is read as BERT WordPiece.
 *
 * @example
 * const tok = loadTokenizer('bert-base-chinese/');
 * tok.encode('今天天气很好', { maxLen: 32 }); // [CLS] … [SEP] ids
 */
export function loadTokenizer(dir: string): Tokenizer {
  const vocabFile = path.join(dir, 'vocab.txt');
  if (!fs.existsSync(vocabFile)) throw new InputError('no vocab.txt here', dir);
  const metaFile = path.join(dir, 'tokenizer.json');
  let meta: unknown;
  if (fs.existsSync(metaFile)) {
    try {
      meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
    } catch (e) {
      throw new InputError(`not valid JSON (${(e as Error).message})`, metaFile);
    }
  }
  return tokenizerFromFiles(fs.readFileSync(vocabFile, 'utf8'), meta, { vocab: vocabFile, meta: metaFile });
}
