/**
 * A sentence encoder: a kexue Transformer encoder, its tokenizer, a pooling and a maximum length.
 * Saved as an encoder directory (see encoder/io.ts) plus `sentence.json` { pooling, maxLen, ... } by
 * saveSentenceModel/loadSentenceModel of kexue/node (io/sentence-files.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';
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
    const list = typeof texts === 'string' ? [texts] : texts;
    return this.shapeEncoded(this.encodeFlat(list, o), list.length, typeof texts === 'string', o.asTensor);
  }

  /**
   * As `encode`, reading each batch back with `await data()` instead of `dataSync()`: in a browser on
   * webgl or webgpu the page keeps responding while a long list is encoded.
   *
   * @example
   * const model = new SentenceEncoder(encoder, tokenizer);
   * const vectors = await model.encodeAsync(texts, { normalize: true }); // number[][]
   */
  encodeAsync(texts: string, opts: SentenceEncodeOptions & { asTensor: true }): Promise<tf.Tensor1D>;
  encodeAsync(texts: string, opts?: SentenceEncodeOptions): Promise<number[]>;
  encodeAsync(
    texts: readonly string[],
    opts: SentenceEncodeOptions & { asTensor: true },
  ): Promise<tf.Tensor2D>;
  encodeAsync(texts: readonly string[], opts?: SentenceEncodeOptions): Promise<number[][]>;
  async encodeAsync(
    texts: string | readonly string[],
    opts?: SentenceEncodeOptions,
  ): Promise<number[] | number[][] | tf.Tensor1D | tf.Tensor2D> {
    const o = checkEncodeOptions(opts);
    const list = typeof texts === 'string' ? [texts] : texts;
    const flat = await this.encodeFlatAsync(list, o);
    return this.shapeEncoded(flat, list.length, typeof texts === 'string', o.asTensor);
  }

  /** Row-major vectors as `encode` returns them: rows or a tensor, one row for one text. */
  private shapeEncoded(
    flat: Float32Array,
    n: number,
    single: boolean,
    asTensor: boolean | undefined,
  ): number[] | number[][] | tf.Tensor1D | tf.Tensor2D {
    const d = this.dim;
    if (asTensor) return single ? tf.tensor1d(flat) : tf.tensor2d(flat, [n, d]);
    const rows = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * d, (i + 1) * d)));
    return single ? rows[0] : rows;
  }

  /** `encode` as one row-major Float32Array [n·H] (for files and loops over many vectors). */
  encodeFlat(
    texts: readonly string[],
    opts: Pick<SentenceEncodeOptions, 'batchSize' | 'normalize' | 'progress'> = {},
  ): Float32Array {
    return readBackSync(this.batches(texts, opts));
  }

  /** `encodeFlat`, reading each batch with `await data()`. */
  async encodeFlatAsync(
    texts: readonly string[],
    opts: Pick<SentenceEncodeOptions, 'batchSize' | 'normalize' | 'progress'> = {},
  ): Promise<Float32Array> {
    return readBackAsync(this.batches(texts, opts));
  }

  /**
   * The batch loop of `encodeFlat`: yields each batch's vectors (a tensor it disposes) and receives their
   * values, so one body serves the sync and the async readers.
   */
  private *batches(
    texts: readonly string[],
    opts: Pick<SentenceEncodeOptions, 'batchSize' | 'normalize' | 'progress'>,
  ): Generator<tf.Tensor2D, Float32Array, Float32Array> {
    checkTexts(texts);
    const { batchSize, normalize, progress } = checkEncodeOptions(opts);
    const wasTraining = this.encoder.training;
    this.encoder.train(false);
    const out = new Float32Array(texts.length * this.dim);
    try {
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        out.set(yield* readAndDispose(tf.tidy(() => this.embed(batch))), start * this.dim);
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
