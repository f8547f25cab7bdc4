/**
 * Sentence models on disk (Node): an encoder directory (io/encoder-files.ts) plus `sentence.json`
 * { pooling, maxLen, ... }; a plain encoder directory (no sentence.json) loads too, with the pooling and
 * length given.
 */
import fs from 'node:fs';
import path from 'node:path';
import { POOLINGS, type Pooling } from '../encoder/index.js';
import { DEFAULT_SENTENCE, SentenceEncoder, type SentenceConfig } from '../cosent/sentence-model.js';
import { InputError } from './errors.js';
import { writeJsonAtomic } from './atomic.js';
import { loadEncoder, saveEncoder } from './encoder-files.js';

const META = 'sentence.json';

/**
 * Saves the encoder, tokenizer and sentence config (plus any extra JSON, e.g. training metadata) to
 * `dir`; the config and `extra` go to sentence.json.
 *
 * @example
 * const model = new SentenceEncoder(encoder, tokenizer, { pooling: 'mean', maxLen: 64 });
 * await saveSentenceModel('sentence-model/', model, { note: 'trained on ATEC' });
 */
export async function saveSentenceModel(
  dir: string,
  model: SentenceEncoder,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await saveEncoder(dir, model.encoder, model.tokenizer);
  writeJsonAtomic(path.join(dir, META), { ...extra, ...model.config });
}

function readMeta(dir: string): Partial<SentenceConfig> {
  const file = path.join(dir, META);
  if (!fs.existsSync(file)) return {};
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
  if (!POOLINGS.includes(raw.pooling as Pooling)) {
    throw new InputError(`pooling must be one of ${POOLINGS.join(', ')}`, file, undefined, 'pooling');
  }
  if (!(Number.isInteger(raw.maxLen) && (raw.maxLen as number) >= 3)) {
    throw new InputError('maxLen must be an integer ≥ 3', file, undefined, 'maxLen');
  }
  return { pooling: raw.pooling as Pooling, maxLen: raw.maxLen as number };
}

/**
 * Loads a sentence model. Options override what sentence.json says (a plain encoder directory has
 * none: then the defaults apply). The directory must hold a tokenizer (vocab.txt).
 *
 * @example
 * const model = loadSentenceModel('sentence-model/', { maxLen: 128 });
 * const emb = model.embed(['今天天气很好', '今天天气不错']); // [2, dim]
 */
export function loadSentenceModel(dir: string, override: Partial<SentenceConfig> = {}): SentenceEncoder {
  if (!fs.existsSync(path.join(dir, 'config.json')))
    throw new InputError('not a model directory (no config.json)', dir);
  const meta = readMeta(dir);
  const { model, tokenizer } = loadEncoder(dir);
  if (!tokenizer) {
    model.dispose();
    throw new InputError('the model directory has no tokenizer (vocab.txt)', dir);
  }
  const config = { ...DEFAULT_SENTENCE, ...meta, ...stripUndefined(override) };
  const c = model.config;
  const maxPositions = c.position === 'learned' ? c.maxPositions - (c.positionOffset ?? 0) : Infinity;
  return new SentenceEncoder(model, tokenizer, { ...config, maxLen: Math.min(config.maxLen, maxPositions) });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Callbacks for trainSentenceEncoder that keep its output in `outDir`: the best epoch's sentence model
 * (with the training metadata in sentence.json) and train-log.json after every epoch.
 *
 * @example
 * const model = loadSentenceModel('bert-dir/');
 * const dev = readSentencePairs('dev.tsv');
 * await trainSentenceEncoder(model, pairs, dev, { epochs: 2, ...saveTrainingTo('out/') });
 */
export function saveTrainingTo(outDir: string): {
  onBest: (model: SentenceEncoder, training: Record<string, unknown>) => Promise<void>;
  onLog: (log: Record<string, unknown>) => void;
} {
  return {
    onBest: (model, training) => saveSentenceModel(outDir, model, { training }),
    onLog: (log) => writeJsonAtomic(path.join(outDir, 'train-log.json'), log),
  };
}
