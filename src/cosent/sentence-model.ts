/**
 * A sentence encoder: a kexue Transformer encoder, its tokenizer, a pooling and a maximum length.
 * Saved as an encoder directory (see encoder/io.ts) plus `sentence.json` { pooling, maxLen, ... } by
 * saveSentenceModel/loadSentenceModel of kexue/node (io/sentence-files.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Encoder, POOLINGS, encodeTexts, disposeInput, pool, type Pooling } from '../encoder/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  checkEncodeOptions,
  checkTexts,
  cosineSimilarity,
  normalizeRowsInPlace,
  semanticSearch,
  type Embeddings,
  type SearchHit,
  type SentenceEncodeOptions,
} from './similarity.js';

/** How a `SentenceEncoder` turns a text into a vector: the pooling and the token budget. */
export interface SentenceConfig {
  pooling: Pooling;
  /** Token budget per sentence including [CLS] and [SEP]. */
  maxLen: number;
}

export const DEFAULT_SENTENCE: SentenceConfig = { pooling: 'cls', maxLen: 64 };

/**
 * A sentence encoder (see the file header): `embed` for training (differentiable), `encode` for
 * inference (like sentence-transformers), plus `similarity` and `semanticSearch`. It owns `encoder`.
 *
 * @example
 * const st = new SentenceEncoder(encoder, tokenizer, { pooling: 'cls', maxLen: 64 });
 * const vecs = st.encode(['How old are you?', 'What is your age?']); // number[][], [2, st.dim]
 * st.similarity(vecs, vecs); // → e.g. [[1, 0.87], [0.87, 1]]
 */
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

  /**
   * Sentence vectors in inference mode (no dropout), batch by batch, like sentence-transformers'
   * `model.encode`: texts → [n, H] as number[][] (or a tf.Tensor2D with `asTensor`); one text → one
   * vector. Unknown or ill-typed options are errors (e.g. `{ normalizeEmbeddings: true }`, `encode(texts, 0)`).
   */
  encode(texts: string, opts: SentenceEncodeOptions & { asTensor: true }): tf.Tensor1D;
  encode(texts: string, opts?: SentenceEncodeOptions): number[];
  encode(texts: readonly string[], opts: SentenceEncodeOptions & { asTensor: true }): tf.Tensor2D;
  encode(texts: readonly string[], opts?: SentenceEncodeOptions): number[][];
  encode(
    texts: string | readonly string[],
    opts?: SentenceEncodeOptions,
  ): number[] | number[][] | tf.Tensor1D | tf.Tensor2D {
    const o = checkEncodeOptions(opts);
    const single = typeof texts === 'string';
    const list = single ? [texts] : texts;
    const flat = this.encodeFlat(list, o);
    const d = this.dim;
    if (o.asTensor) {
      const t = tf.tensor2d(flat, [list.length, d]);
      if (!single) return t;
      const row = tf.reshape(t, [d]) as tf.Tensor1D;
      t.dispose();
      return row;
    }
    const rows = Array.from({ length: list.length }, (_, i) => Array.from(flat.subarray(i * d, (i + 1) * d)));
    return single ? rows[0] : rows;
  }

  /** `encode` as one row-major Float32Array [n·H] (for files and loops over many vectors). */
  encodeFlat(
    texts: readonly string[],
    opts: Pick<SentenceEncodeOptions, 'batchSize' | 'normalize' | 'progress'> = {},
  ): Float32Array {
    checkTexts(texts);
    const { batchSize, normalize, progress } = checkEncodeOptions(opts);
    const wasTraining = this.encoder.training;
    this.encoder.train(false);
    const out = new Float32Array(texts.length * this.dim);
    try {
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        const vecs = tf.tidy(() => this.embed(batch));
        out.set(vecs.dataSync(), start * this.dim);
        vecs.dispose();
        progress?.(start + batch.length, texts.length);
      }
    } finally {
      this.encoder.train(wasTraining);
    }
    return normalize ? normalizeRowsInPlace(out, this.dim) : out;
  }

  /** Cosine similarity matrix [n, m] of two sets of embeddings (see `cosineSimilarity`). */
  similarity(a: tf.Tensor2D, b: Embeddings): tf.Tensor2D;
  similarity(a: Embeddings, b: tf.Tensor2D): tf.Tensor2D;
  similarity(a: Embeddings, b: Embeddings): number[][];
  similarity(a: Embeddings, b: Embeddings): tf.Tensor2D | number[][] {
    return cosineSimilarity(a as tf.Tensor2D, b);
  }

  /**
   * The `topK` corpus entries most similar to each query, best first. Texts are encoded with this model
   * (`batchSize` as in `encode`); embeddings are used as they are.
   */
  semanticSearch(
    queries: readonly string[] | Embeddings,
    corpus: readonly string[] | Embeddings,
    opts: { topK?: number; batchSize?: number } = {},
  ): SearchHit[][] {
    const embed = (x: readonly string[] | Embeddings): Embeddings =>
      Array.isArray(x) && x.every((t) => typeof t === 'string')
        ? this.encode(x as string[], { batchSize: opts.batchSize })
        : (x as Embeddings);
    return semanticSearch(embed(queries), embed(corpus), { topK: opts.topK });
  }

  dispose(): void {
    this.encoder.dispose();
  }
}
