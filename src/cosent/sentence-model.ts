/**
 * A sentence encoder: a kexue Transformer encoder, its tokenizer, a pooling and a maximum length.
 * Saved as an encoder directory (see encoder/io.ts) plus `sentence.json` { pooling, maxLen, ... };
 * a plain encoder directory (no sentence.json) loads too, with the pooling and length given.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  Encoder,
  POOLINGS,
  encodeTexts,
  disposeInput,
  loadEncoder,
  pool,
  saveEncoder,
  type Pooling,
} from '../encoder/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { InputError } from '../io/errors.js';
import { writeJsonAtomic } from '../io/atomic.js';

export interface SentenceConfig {
  pooling: Pooling;
  /** Token budget per sentence including [CLS] and [SEP]. */
  maxLen: number;
}

export const DEFAULT_SENTENCE: SentenceConfig = { pooling: 'cls', maxLen: 64 };
const META = 'sentence.json';

export class SentenceEncoder {
  constructor(
    readonly encoder: Encoder,
    readonly tokenizer: Tokenizer,
    readonly config: SentenceConfig,
  ) {
    if (!POOLINGS.includes(config.pooling)) throw new Error(`pooling must be one of ${POOLINGS.join(', ')}`);
    if (!(Number.isInteger(config.maxLen) && config.maxLen >= 3))
      throw new Error(`maxLen must be an integer ≥ 3`);
  }

  get dim(): number {
    return this.encoder.config.hidden;
  }

  /** Sentence vectors [n, H] for a batch of texts, differentiable (call inside a tidy/grad). */
  embed(texts: readonly string[]): tf.Tensor2D {
    const input = encodeTexts(this.tokenizer, texts, this.config.maxLen);
    try {
      return pool(this.encoder.apply(input), this.config.pooling);
    } finally {
      disposeInput(input);
    }
  }

  /** Vectors of many texts, in inference mode (no dropout), batch by batch: row-major [n·H]. */
  encode(texts: readonly string[], batchSize = 64, onBatch?: (done: number) => void): Float32Array {
    const wasTraining = this.encoder.training;
    this.encoder.train(false);
    const out = new Float32Array(texts.length * this.dim);
    try {
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        const vecs = tf.tidy(() => this.embed(batch));
        out.set(vecs.dataSync(), start * this.dim);
        vecs.dispose();
        onBatch?.(batch.length);
      }
    } finally {
      this.encoder.train(wasTraining);
    }
    return out;
  }

  dispose(): void {
    this.encoder.dispose();
  }
}

/** Saves the encoder, tokenizer and sentence config (plus any extra JSON, e.g. training metadata). */
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
