/**
 * A sentence encoder: a kexue Transformer encoder, its tokenizer, a pooling and a maximum length.
 * Saved as an encoder directory (see encoder/io.ts) plus `sentence.json` { pooling, maxLen, ... } by
 * saveSentenceModel/loadSentenceModel of kexue/node (io/sentence-files.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Encoder, POOLINGS, encodeTexts, disposeInput, pool, type Pooling } from '../encoder/index.js';
import type { Tokenizer } from '../tokenizers/index.js';

export interface SentenceConfig {
  pooling: Pooling;
  /** Token budget per sentence including [CLS] and [SEP]. */
  maxLen: number;
}

export const DEFAULT_SENTENCE: SentenceConfig = { pooling: 'cls', maxLen: 64 };

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
