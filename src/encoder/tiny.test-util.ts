/** A tiny randomly initialised encoder with a character tokenizer, saved like a pretrained one (tests). */
import path from 'node:path';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { Encoder } from './model.js';
import { saveEncoder } from '../io/encoder-files.js';

/** Builds the tokenizer from `texts`, saves a 1-block encoder of width `hidden` to `<dir>/encoder`. */
export async function saveTinyEncoder(
  dir: string,
  texts: string[],
  o: { hidden?: number; seed?: number } = {},
): Promise<{ encoderDir: string; tok: CharTokenizer }> {
  const hidden = o.hidden ?? 16;
  const tok = CharTokenizer.build(texts, ENGLISH_CHAR);
  const encoderDir = path.join(dir, 'encoder');
  const enc = new Encoder({
    vocabSize: tok.vocab.size,
    hidden,
    layers: 1,
    heads: 2,
    intermediate: 2 * hidden,
    seed: o.seed ?? 4,
  });
  await saveEncoder(encoderDir, enc, tok);
  enc.dispose();
  return { encoderDir, tok };
}
