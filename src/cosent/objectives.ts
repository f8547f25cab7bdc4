/**
 * Training objectives for sentence-pair fine-tuning, in the style of sentence-transformers' loss
 * classes: each maps the two sentence vectors of a batch of pairs and the pairs' labels to a scalar,
 * and may own parameters of its own (the Sentence-BERT classifier). The trainer treats them alike, so
 * CoSENT and its baselines are compared under one training loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sparseSoftmaxCrossEntropy } from '../nn/fused-cross-entropy.js';
import { Linear } from '../nn/layers.js';
import { Rng } from '../util/rng.js';
import { cosentLoss, rowCosine, type CosentMethod } from './loss.js';

/** The pair objectives `trainSentenceEncoder` can use (`TrainOptions.objective`). */
export type ObjectiveName = 'cosent' | 'softmax' | 'cosine-mse';
export const OBJECTIVES: readonly ObjectiveName[] = ['cosent', 'softmax', 'cosine-mse'];

/** A training objective on sentence-vector pairs, as `trainSentenceEncoder` uses it. */
export interface PairObjective {
  readonly name: ObjectiveName;
  /** Parameters trained alongside the encoder (none for the cosine objectives). */
  parameters(): Map<string, tf.Variable>;
  /** u, v [B, d] sentence vectors of each pair's two sides; labels [B] as given in the data. */
  loss(u: tf.Tensor2D, v: tf.Tensor2D, labels: Float64Array): tf.Scalar;
  /** What `fromDescription` needs to rebuild it (JSON). */
  describe(): Record<string, unknown>;
  dispose(): void;
}

/**
 * CoSENT (Su, https://kexue.fm/archives/8847): log(1 + Σ_{lᵢ > lⱼ} exp(λ(cosⱼ − cosᵢ))), λ = scale.
 * Uses only the order of the labels, so binary and graded (0–5) labels need no conversion.
 *
 * @example
 * const u = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
 * const v = tf.tensor2d([[1, 0], [1, 0], [1, 0]]);
 * const loss = new CoSENTLoss(20).loss(u, v, Float64Array.from([5, 0, 3])); // scalar tensor
 * // in training: trainSentenceEncoder(model, pairs, dev, { objective: 'cosent', scale: 20 })
 */
export class CoSENTLoss implements PairObjective {
  readonly name = 'cosent';
  constructor(
    readonly scale = 20,
    readonly method?: CosentMethod,
  ) {}
  parameters(): Map<string, tf.Variable> {
    return new Map();
  }
  loss(u: tf.Tensor2D, v: tf.Tensor2D, labels: Float64Array): tf.Scalar {
    return cosentLoss(u, v, labels, { scale: this.scale, method: this.method });
  }
  describe(): Record<string, unknown> {
    return { name: this.name, scale: this.scale };
  }
  dispose(): void {}
}

/**
 * Sentence-BERT's classification objective (Reimers & Gurevych 2019, §3; sentence-transformers'
 * SoftmaxLoss): softmax(W·[u; v; |u − v|] + b) trained with cross-entropy on class labels. Graded
 * labels are rounded to the nearest integer class (STS-B 0–5 → 6 classes), which is how the CoSENT
 * note's Sentence-BERT baseline treats STS-B; at inference the classifier is dropped and cos(u, v)
 * is used, as in the paper.
 *
 * @example
 * const objective = new SoftmaxLoss(2, 3); // 2-dimensional vectors, classes 0, 1, 2
 * const u = tf.tensor2d([[1, 0], [0, 1]]);
 * const v = tf.tensor2d([[1, 0], [1, 0]]);
 * const loss = objective.loss(u, v, Float64Array.from([2, 0])); // cross-entropy
 * objective.parameters(); // the classifier's variables, trained with the encoder
 */
export class SoftmaxLoss implements PairObjective {
  readonly name = 'softmax';
  readonly classifier: Linear;

  constructor(
    readonly dim: number,
    readonly numLabels: number,
    seed = 1,
  ) {
    if (!(Number.isInteger(numLabels) && numLabels >= 2))
      throw new Error(`numLabels must be ≥ 2 (got ${numLabels})`);
    // Glorot-uniform: the Keras default for a dense layer (torch's nn.Linear default is a similar uniform).
    this.classifier = new Linear(3 * dim, numLabels, { name: 'glorot-uniform' }, new Rng(seed));
  }

  /** Class index of a label: nearest integer, checked against the class count. */
  classOf(label: number): number {
    const c = Math.round(label);
    if (c < 0 || c >= this.numLabels)
      throw new Error(`label ${label} is outside the classes 0..${this.numLabels - 1}`);
    return c;
  }

  parameters(): Map<string, tf.Variable> {
    return this.classifier.namedParameters('classifier.');
  }

  loss(u: tf.Tensor2D, v: tf.Tensor2D, labels: Float64Array): tf.Scalar {
    const classes = Int32Array.from(labels, (l) => this.classOf(l));
    return tf.tidy(() => {
      const features = tf.concat([u, v, tf.abs(tf.sub(u, v))], 1);
      const logits = this.classifier.apply(features);
      return tf.mean(sparseSoftmaxCrossEntropy(logits, tf.tensor1d(classes, 'int32'))) as tf.Scalar;
    });
  }

  describe(): Record<string, unknown> {
    return { name: this.name, numLabels: this.numLabels };
  }

  dispose(): void {
    this.classifier.dispose();
  }
}

/**
 * Cosine regression (sentence-transformers' CosineSimilarityLoss, the Sentence-BERT paper's
 * regression objective): mean of (cos(u, v) − t)² with the label mapped linearly to t ∈ [0, 1] by
 * the training labels' range (STS-B 0–5 → score/5; binary labels stay 0/1).
 *
 * @example
 * const objective = new CosineMSELoss(0, 5); // STS-B scores: target = score / 5
 * const u = tf.tensor2d([[1, 0], [0, 1]]);
 * const v = tf.tensor2d([[1, 0], [1, 0]]);
 * objective.loss(u, v, Float64Array.from([5, 0])).dataSync()[0]; // → 0: cosines 1, 0 = targets 1, 0
 */
export class CosineMSELoss implements PairObjective {
  readonly name = 'cosine-mse';
  constructor(
    readonly labelMin: number,
    readonly labelMax: number,
  ) {
    if (!(labelMax > labelMin))
      throw new Error(`label range must be non-empty (got ${labelMin}..${labelMax})`);
  }
  parameters(): Map<string, tf.Variable> {
    return new Map();
  }
  loss(u: tf.Tensor2D, v: tf.Tensor2D, labels: Float64Array): tf.Scalar {
    const span = this.labelMax - this.labelMin;
    const target = Float32Array.from(labels, (l) => (l - this.labelMin) / span);
    return tf.tidy(() => tf.mean(tf.square(tf.sub(rowCosine(u, v), tf.tensor1d(target)))) as tf.Scalar);
  }
  describe(): Record<string, unknown> {
    return { name: this.name, labelMin: this.labelMin, labelMax: this.labelMax };
  }
  dispose(): void {}
}

/** Builds an objective for training data with these labels (class count / label range come from them). */
export function makeObjective(
  name: ObjectiveName,
  dim: number,
  labels: ArrayLike<number>,
  opts: { scale?: number; seed?: number } = {},
): PairObjective {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < labels.length; i++) {
    lo = Math.min(lo, labels[i]);
    hi = Math.max(hi, labels[i]);
  }
  switch (name) {
    case 'cosent':
      return new CoSENTLoss(opts.scale ?? 20);
    case 'softmax':
      if (lo < 0) throw new Error(`the softmax objective needs labels ≥ 0 (found ${lo})`);
      return new SoftmaxLoss(dim, Math.max(2, Math.round(hi) + 1), opts.seed);
    case 'cosine-mse':
      return new CosineMSELoss(lo, hi > lo ? hi : lo + 1);
  }
}
