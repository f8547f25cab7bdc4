/**
 * Hugging Face BERT checkpoints as directories on disk (the Node layer over src/hf): read a directory
 * (or an http(s) URL) into a kexue Encoder, and write a kexue encoder as a directory that transformers
 * and sentence-transformers load.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  huggingFaceBertFiles,
  hfUrlReader,
  loadHuggingFaceBertFrom,
  type HfExportOptions,
  type HfExportable,
  type HfFileReader,
  type LoadedHfBert,
} from '../hf/load.js';
import { InputError } from './errors.js';
import { writeFolderAtomic } from './atomic.js';

/**
 * Reads files of `dir` by relative name (undefined for a missing file); names that would leave `dir` are
 * refused.
 *
 * @example
 * const read = hfDirReader('bert-base-chinese/');
 * const config = await read('config.json'); // Uint8Array, or undefined when absent
 */
export function hfDirReader(dir: string): HfFileReader {
  return async (name) => {
    const file = path.resolve(dir, name);
    if (path.relative(path.resolve(dir), file).startsWith('..'))
      throw new InputError(`file name ${name} leaves the model directory`, dir);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) return undefined;
    const b = fs.readFileSync(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
}

/**
 * Loads a Hugging Face BERT checkpoint from a directory (config.json, model.safetensors, vocab.txt,
 * tokenizer_config.json, sentence-transformers files) or from an http(s) base URL.
 *
 * @example
 * const { model, tokenizer, modelType, ignored } = await loadHuggingFaceBert('bert-base-chinese/');
 * const remote = await loadHuggingFaceBert('https://huggingface.co/bert-base-uncased/resolve/main');
 */
export async function loadHuggingFaceBert(dirOrUrl: string): Promise<LoadedHfBert> {
  if (/^https?:\/\//i.test(dirOrUrl))
    return loadHuggingFaceBertFrom(hfUrlReader(dirOrUrl), {
      where: (n) => `${dirOrUrl.replace(/\/$/, '')}/${n}`,
    });
  if (!fs.existsSync(dirOrUrl) || !fs.statSync(dirOrUrl).isDirectory())
    throw new InputError('not a directory', dirOrUrl);
  return loadHuggingFaceBertFrom(hfDirReader(dirOrUrl), {
    where: (n) => (n ? path.join(dirOrUrl, n) : dirOrUrl),
  });
}

/**
 * Writes `source` (an encoder and its WordPiece tokenizer, e.g. a SentenceEncoder) as a Hugging Face
 * checkpoint directory; `dir` is replaced as a whole, and a failed export leaves no partial directory.
 *
 * @example
 * await exportHuggingFaceBert({ encoder, tokenizer }, 'hf-out', { sentenceTransformers: false });
 * const { model } = await loadHuggingFaceBert('hf-out'); // reads it back
 */
export async function exportHuggingFaceBert(
  source: HfExportable,
  dir: string,
  opts: HfExportOptions = {},
): Promise<void> {
  const files = await huggingFaceBertFiles(source, opts);
  await writeFolderAtomic(dir, async (tmp) => {
    for (const [name, content] of files) {
      const file = path.join(tmp, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
  });
}
