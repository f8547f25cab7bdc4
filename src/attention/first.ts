/**
 * The FIRST task of Chiang & Cholak ("Overcoming a Theoretical Limitation of Self-Attention", ACL 2022):
 * is the first bit of a random binary string 1? The input is `$ b₁ … bₙ` and the answer is read at `$`.
 * Positions play almost no role: as in their code (ndnlp/parity `first.py`), the only position
 * information is three indicators (position 0, position 1, later), so the task isolates what happens to
 * attention as n grows. Their finding: trained at short lengths, a standard Transformer's cross-entropy
 * at n = 1,000 degrades because the attention on b₁ is diluted by the n other keys; multiplying the
 * logits by log n fixes it. Model as theirs: 2 post-LN layers, width 16, one head, no dropout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { Embedding, Linear } from '../nn/layers.js';
import { EncoderBlock } from '../encoder/model.js';
import { makeConfig } from '../encoder/config.js';
import { SeedStream } from '../nn/layers.js';
import { AdamW } from '../nn/optim.js';
import { namedGradients } from '../nn/module.js';
import { Rng } from '../util/rng.js';
import type { AttentionScaleFn } from '../encoder/attention.js';

/** Token ids: 0, 1 and the start symbol $. */
export const FIRST_START = 2;

/** A batch of `batch` strings of `n` random bits after `$`, and their labels (the first bit). */
export function firstBatch(batch: number, n: number, rng: Rng): { ids: tf.Tensor2D; labels: tf.Tensor1D } {
  if (!(Number.isInteger(n) && n >= 1))
    throw new Error(`FIRST: length must be a positive integer (got ${n})`);
  const ids = new Int32Array(batch * (n + 1));
  const labels = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    ids[b * (n + 1)] = FIRST_START;
    for (let i = 1; i <= n; i++) ids[b * (n + 1) + i] = rng.int(2);
    labels[b] = ids[b * (n + 1) + 1];
  }
  return { ids: tf.tensor2d(ids, [batch, n + 1], 'int32'), labels: tf.tensor1d(labels) };
}

export interface FirstModelOptions {
  /** Logit scale of both layers (e.g. `logNScale({ base: Math.E, clamp: 1 })` for their ×log n). */
  scale: AttentionScaleFn;
  width?: number;
  layers?: number;
  seed?: number;
}

/** Their model: word embedding + linear map of the 3 position indicators, encoder blocks, logit at `$`. */
export class FirstModel extends Module {
  readonly word: Embedding;
  readonly position: Linear;
  readonly blocks: EncoderBlock[] = [];
  readonly out: Linear;

  constructor(o: FirstModelOptions) {
    super();
    const width = o.width ?? 16;
    const rng = new Rng(o.seed ?? 1);
    const cfg = makeConfig({
      vocabSize: 3,
      hidden: width,
      heads: 1,
      layers: o.layers ?? 2,
      intermediate: 4 * width,
      position: 'learned',
      dropout: 0,
      attentionDropout: 0,
      init: 'glorot-uniform',
      layerNormEps: 1e-5,
    });
    const init = { name: 'glorot-uniform' as const, std: 0.02 };
    this.word = this.child('word', new Embedding(3, width, { name: 'truncated-normal', std: 1 }, rng));
    this.position = this.child('position', new Linear(3, width, init, rng));
    const drop = new SeedStream(o.seed ?? 1);
    for (let l = 0; l < cfg.layers; l++)
      this.blocks.push(this.child(`layers.${l}`, new EncoderBlock(cfg, rng, drop, o.scale)));
    this.out = this.child('out', new Linear(width, 1, init, rng));
  }

  /** ids [B, n+1] → logit [B] of "the first bit is 1". */
  apply(ids: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const [b, n] = ids.shape;
      const ind = new Float32Array(n * 3);
      for (let p = 0; p < n; p++) ind[p * 3 + Math.min(p, 2)] = 1;
      let x = tf.add(this.word.apply(ids), this.position.apply(tf.tensor2d(ind, [n, 3]))) as tf.Tensor3D;
      const mask = tf.ones([b, n]) as tf.Tensor2D;
      for (const block of this.blocks) x = block.apply(x, mask);
      const first = tf.reshape(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [b, -1]);
      return tf.reshape(this.out.apply(first), [b]) as tf.Tensor1D;
    });
  }
}

/** Mean binary cross-entropy (nats) and accuracy of logits against 0/1 labels. */
export function firstLoss(
  logits: tf.Tensor1D,
  labels: tf.Tensor1D,
): { loss: tf.Scalar; accuracy: tf.Scalar } {
  return tf.tidy(() => ({
    loss: tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar,
    accuracy: tf.mean(
      tf.cast(tf.equal(tf.greater(logits, 0), tf.cast(labels, 'bool')), 'float32'),
    ) as tf.Scalar,
  }));
}

export interface FirstTrainOptions {
  steps: number;
  batch?: number;
  /** Training lengths n are drawn uniformly from [minLength, maxLength] each step (default 10–100). */
  minLength?: number;
  maxLength?: number;
  lr?: number;
  seed?: number;
  onStep?: (step: number, loss: number) => void;
}

/** Trains with AdamW (no weight decay); NaN loss stops training with an Error. */
export function trainFirst(model: FirstModel, o: FirstTrainOptions): void {
  const rng = new Rng(o.seed ?? 1);
  const lo = o.minLength ?? 10;
  const hi = o.maxLength ?? 100;
  if (!(Number.isInteger(lo) && lo >= 1 && hi >= lo)) throw new Error(`FIRST: bad length range ${lo}–${hi}`);
  const opt = new AdamW(model.namedParameters(), { weightDecay: 0 });
  model.train(true);
  try {
    for (let step = 0; step < o.steps; step++) {
      const { ids, labels } = firstBatch(o.batch ?? 32, lo + rng.int(hi - lo + 1), rng);
      const { value, grads } = namedGradients(model, () => firstLoss(model.apply(ids), labels).loss);
      opt.step(grads, o.lr ?? 1e-3);
      const loss = value.dataSync()[0];
      tf.dispose([value, ids, labels, ...grads.values()]);
      if (!Number.isFinite(loss)) throw new Error(`FIRST: loss is ${loss} at step ${step + 1}`);
      o.onStep?.(step + 1, loss);
    }
  } finally {
    opt.dispose();
    model.train(false);
  }
}

/** Cross-entropy and accuracy at length n over `count` random strings, `chunk` at a time. */
export function evaluateFirst(
  model: FirstModel,
  n: number,
  count: number,
  seed = 12345,
  chunk = 32,
): { loss: number; accuracy: number } {
  const rng = new Rng(seed);
  let loss = 0;
  let acc = 0;
  for (let done = 0; done < count; done += chunk) {
    const b = Math.min(chunk, count - done);
    const { ids, labels } = firstBatch(b, n, rng);
    const r = firstLoss(model.apply(ids), labels);
    loss += r.loss.dataSync()[0] * b;
    acc += r.accuracy.dataSync()[0] * b;
    tf.dispose([ids, labels, r.loss, r.accuracy]);
  }
  return { loss: loss / count, accuracy: acc / count };
}
