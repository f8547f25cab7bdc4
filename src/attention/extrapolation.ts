/**
 * Length extrapolation of a masked-LM encoder: MLM accuracy on held-out text cut into sequences of a
 * given length, for a model trained at a shorter one (the note's table), and a way to change a trained
 * model's inference-time attention settings (log-n at inference, RoPE scalings) without retraining.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Encoder } from '../encoder/model.js';
import type { EncoderConfig } from '../encoder/config.js';
import { MlmMasker, disposeBatch, makeMlmBatch, mlmLoss } from '../encoder/mlm.js';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';
import { Rng } from '../util/rng.js';

/** Inference-time attention settings a trained encoder can be given without retraining. */
export type InferenceSettings = Partial<
  Pick<EncoderConfig, 'attentionScale' | 'attentionScaleOptions' | 'ropeScaling'>
>;

/**
 * A copy of `encoder` (weights copied) with some attention settings replaced, e.g.
 * `{ attentionScale: 'log-n', attentionScaleOptions: { at: 'inference', base: 'train-length', trainLength: 64 } }`
 * or `{ ropeScaling: { kind: 'dynamic-ntk', trainLength: 64 } }`. A setting given as undefined removes it
 * from the config. The copy is in inference mode; the caller disposes it.
 *
 * @example
 * const logn = withInferenceSettings(encoder, {
 *   attentionScale: 'log-n',
 *   attentionScaleOptions: { at: 'inference', base: 'train-length', trainLength: 64 },
 * });
 * const input = encodeTexts(tokenizer, texts, 256);
 * const vecs = tf.tidy(() => pool(logn.apply(input), 'mean'));
 * logn.dispose();
 */
export function withInferenceSettings(encoder: Encoder, s: InferenceSettings): Encoder {
  const config: EncoderConfig = { ...encoder.config, ...s };
  for (const k of Object.keys(s) as (keyof InferenceSettings)[]) if (s[k] === undefined) delete config[k];
  const copy = new Encoder(config);
  copy.loadNamedTensors(Object.fromEntries(encoder.namedParameters()));
  return copy.train(false);
}

/** Settings of `mlmByLength`: held-out token stream, special ids, the lengths and the evaluation budget. */
export interface MlmEvalOptions {
  /** Token ids of held-out text, in order (documents concatenated); windows are cut from it. */
  stream: readonly number[];
  cls: number;
  sep: number;
  maskId: number;
  vocabSize: number;
  specialIds: ReadonlySet<number>;
  /** Sequence lengths to evaluate, incl. [CLS]/[SEP]. */
  lengths: readonly number[];
  /** Tokens evaluated per length (≈ sequences × length); default 16,384. */
  tokens?: number;
  /**
   * Upper bound on B·heads·N² attention entries per forward pass (the memory peak); the batch is cut into
   * chunks below it. Default 2²⁴ (64 MB of float32 probabilities per layer).
   */
  maxAttentionEntries?: number;
  seed?: number;
  onChunk?: (done: number, total: number) => void;
}

/**
 * MLM scores at one sequence length: `accuracy` (share of masked positions predicted right) and `loss`
 * (mean cross-entropy, nats) over `predictions` masked positions in `sequences` sequences.
 */
export interface LengthResult {
  length: number;
  sequences: number;
  predictions: number;
  accuracy: number;
  loss: number;
}

/** Sequences of `length` tokens ([CLS] window [SEP]) cut from the stream without overlap. */
export function windows(
  stream: readonly number[],
  length: number,
  count: number,
  cls: number,
  sep: number,
): number[][] {
  const body = length - 2;
  if (body < 1) throw new Error(`length ${length} is too short (need ≥ 3 for [CLS] x [SEP])`);
  const available = Math.floor(stream.length / body);
  if (available < 1)
    throw new Error(`the evaluation text has ${stream.length} tokens, fewer than one sequence of ${length}`);
  const n = Math.min(count, available);
  // Spread the windows over the whole text rather than taking only its beginning.
  const stride = Math.floor(available / n);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const start = i * stride * body;
    out.push([cls, ...stream.slice(start, start + body), sep]);
  }
  return out;
}

/** Sequences per forward pass so that B·heads·N² stays under the bound (at least 1). */
export function chunkSize(length: number, heads: number, maxEntries = 2 ** 24): number {
  return Math.max(1, Math.floor(maxEntries / (heads * length * length)));
}

/**
 * MLM accuracy and loss at each length: BERT masking (15%, 80/10/10) with a fixed seed, so two models
 * are scored on exactly the same masked positions. The encoder needs its MLM head.
 *
 * @example
 * const v = tokenizer.vocab;
 * const stream = texts.flatMap((t) => tokenizer.encode(t, { special: false }));
 * const byLength = mlmByLength(encoder, {
 *   stream, lengths: [64, 128, 256], vocabSize: v.size, specialIds: v.specialIdSet(),
 *   cls: v.special.cls, sep: v.special.sep, maskId: v.special.mask,
 * }); // → [{ length: 64, sequences, predictions, accuracy, loss }, …]
 */
export function mlmByLength(encoder: Encoder, o: MlmEvalOptions): LengthResult[] {
  return readBackSync(mlmWork(encoder, o));
}

/**
 * As `mlmByLength`, reading each chunk's accuracy and loss with `await data()` instead of `dataSync()`
 * (a browser page on webgl keeps responding between chunks).
 *
 * @example
 * const v = tokenizer.vocab;
 * const byLength = await mlmByLengthAsync(encoder, {
 *   stream: texts.flatMap((t) => tokenizer.encode(t, { special: false })),
 *   lengths: [64, 256], vocabSize: v.size, specialIds: v.specialIdSet(),
 *   cls: v.special.cls, sep: v.special.sep, maskId: v.special.mask,
 * });
 */
export function mlmByLengthAsync(encoder: Encoder, o: MlmEvalOptions): Promise<LengthResult[]> {
  return readBackAsync(mlmWork(encoder, o));
}

function* mlmWork(
  encoder: Encoder,
  o: MlmEvalOptions,
): Generator<tf.Tensor, LengthResult[], ArrayLike<number>> {
  const masker = new MlmMasker({ vocabSize: o.vocabSize, maskId: o.maskId, specialIds: o.specialIds });
  const plans = o.lengths.map((length) => {
    if (!Number.isInteger(length) || length < 3)
      throw new Error(`lengths must be integers ≥ 3 (got ${length})`);
    const count = Math.max(1, Math.round((o.tokens ?? 16384) / length));
    return { length, seqs: windows(o.stream, length, count, o.cls, o.sep) };
  });
  const chunks = plans.map((p) => chunkSize(p.length, encoder.config.heads, o.maxAttentionEntries));
  const total = plans.reduce((s, p, i) => s + Math.ceil(p.seqs.length / chunks[i]), 0);
  let done = 0;
  const results: LengthResult[] = [];
  for (const [i, { length, seqs }] of plans.entries()) {
    const rng = new Rng((o.seed ?? 0) * 7919 + length);
    let correct = 0;
    let lossSum = 0;
    let count = 0;
    for (let s = 0; s < seqs.length; s += chunks[i]) {
      const batch = makeMlmBatch(seqs.slice(s, s + chunks[i]), masker, encoder.config.padId, rng);
      const m = batch.targets.size;
      let both: tf.Tensor;
      try {
        both = tf.tidy(() => {
          const r = mlmLoss(encoder, batch, false);
          return tf.stack([r.accuracy, r.loss]);
        });
      } finally {
        disposeBatch(batch);
      }
      const v = yield* readAndDispose(both);
      correct += v[0] * m;
      lossSum += v[1] * m;
      count += m;
      o.onChunk?.(++done, total);
    }
    results.push({
      length,
      sequences: seqs.length,
      predictions: count,
      accuracy: correct / count,
      loss: lossSum / count,
    });
  }
  return results;
}
