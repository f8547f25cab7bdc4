/**
 * A text classifier on a kexue encoder: pooled sentence vector → dropout → dense softmax head, BERT's
 * fine-tuning model. A `Module`, so optimizers, checkpoints and ChildTuning masks see its parameters
 * by name ("encoder.layers.0.…", "head.kernel"). Browser-safe: saving lives in the Node layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sparseSoftmaxCrossEntropy } from '../nn/fused-cross-entropy.js';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';
import { Module } from '../nn/module.js';
import { Linear, SeedStream, dropout } from '../nn/layers.js';
import { Rng } from '../util/rng.js';
import { InputError } from '../io/errors.js';
import { toMatrix, toVector, type MatrixInput, type VectorInput } from '../util/inputs.js';
import { POOLINGS, pool, type Encoder, type Pooling } from '../encoder/model.js';
import { disposeInput, encodeTexts } from '../encoder/inputs.js';
import type { Tokenizer } from '../tokenizers/types.js';

/** Settings of `TextClassifier`: the number of classes, pooling, text length, dropout and head seed. */
export interface ClassifierConfig {
  classes: number;
  /** Sentence vector: [CLS] (default), mean over tokens, or first-last-avg. */
  pooling?: Pooling;
  /** Tokens per text including [CLS]/[SEP] (default 64). */
  maxLen?: number;
  /** Dropout before the head (default: the encoder's). */
  dropout?: number;
  /** Seeds the head's initial weights and its dropout. */
  seed?: number;
}

/**
 * BERT's fine-tuning model (see the file header): encoder → pooled vector → dropout → dense head over
 * `classes` labels. Train it with `finetuneClassifier`, or with `loss` and any optimizer.
 *
 * @example
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 3, pooling: 'mean', maxLen: 128 });
 * const result = await finetuneClassifier(clf, train, dev, { epochs: 3, lr: 2e-5 });
 * const p = clf.predictProba(['a text to classify']); // Float32Array of 3 probabilities
 */
export class TextClassifier extends Module {
  readonly head: Linear;
  readonly pooling: Pooling;
  readonly maxLen: number;
  readonly classes: number;
  readonly dropoutRate: number;
  private readonly headSeeds: SeedStream;

  /** Takes ownership of `encoder` (disposed with the classifier). */
  constructor(
    readonly encoder: Encoder,
    readonly tokenizer: Tokenizer,
    config: ClassifierConfig,
  ) {
    super();
    const { classes } = config;
    if (!(Number.isInteger(classes) && classes >= 2))
      throw new Error(`classes must be an integer ≥ 2, got ${classes}`);
    this.classes = classes;
    this.pooling = config.pooling ?? 'cls';
    if (!POOLINGS.includes(this.pooling)) throw new Error(`pooling must be one of ${POOLINGS.join(', ')}`);
    this.maxLen = config.maxLen ?? 64;
    if (!(Number.isInteger(this.maxLen) && this.maxLen >= 3))
      throw new Error('maxLen must be an integer ≥ 3');
    this.dropoutRate = config.dropout ?? encoder.config.dropout;
    const seed = config.seed ?? 0;
    this.child('encoder', encoder);
    this.head = this.child(
      'head',
      new Linear(encoder.config.hidden, classes, { name: 'truncated-normal', std: 0.02 }, new Rng(seed)),
    );
    this.headSeeds = new SeedStream(seed ^ 0x2545f491);
  }

  /** Reseeds all dropout (encoder and head), e.g. per fine-tuning seed. */
  reseedDropout(seed: number): void {
    this.encoder.dropoutRng.reseed(seed);
    this.headSeeds.reseed(seed ^ 0x2545f491);
  }

  /** Logits [n, classes], differentiable; call inside a tidy or a gradient function. */
  logits(texts: readonly string[]): tf.Tensor2D {
    const input = encodeTexts(this.tokenizer, texts, this.maxLen);
    try {
      const vec = pool(this.encoder.apply(input), this.pooling);
      return this.head.apply(dropout(vec, this.dropoutRate, this.training, this.headSeeds)) as tf.Tensor2D;
    } finally {
      disposeInput(input);
    }
  }

  /** Mean cross-entropy of a batch. */
  loss(texts: readonly string[], labels: readonly number[]): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.logits(texts);
      const target = tf.tensor1d(Int32Array.from(labels), 'int32');
      return tf.mean(sparseSoftmaxCrossEntropy(logits, target)) as tf.Scalar;
    });
  }

  /**
   * Class probabilities, row-major [n·classes], in inference mode. Texts are batched by length so
   * little padding is computed; the output keeps the input order.
   */
  predictProba(texts: readonly string[], batchSize = 64): Float32Array {
    return readBackSync(this.probaBatches(texts, batchSize));
  }

  /**
   * As `predictProba`, reading each batch with `await data()` (in a browser the page keeps responding).
   *
   * @example
   * const clf = new TextClassifier(encoder, tokenizer, { classes: 3 });
   * const probs = await clf.predictProbaAsync(texts); // Float32Array [texts.length · 3]
   */
  async predictProbaAsync(texts: readonly string[], batchSize = 64): Promise<Float32Array> {
    return readBackAsync(this.probaBatches(texts, batchSize));
  }

  /** The batch loop of `predictProba`: yields each batch's probabilities and receives their values. */
  private *probaBatches(
    texts: readonly string[],
    batchSize: number,
  ): Generator<tf.Tensor, Float32Array, Float32Array> {
    if (!(Number.isInteger(batchSize) && batchSize >= 1))
      throw new InputError(`batchSize must be a positive integer, got ${batchSize}`);
    const wasTraining = this.training;
    this.train(false);
    const order = Array.from(texts.keys()).sort((a, b) => texts[a].length - texts[b].length);
    const out = new Float32Array(texts.length * this.classes);
    try {
      for (let s = 0; s < order.length; s += batchSize) {
        const idx = order.slice(s, s + batchSize);
        const probs = tf.tidy(() => tf.softmax(this.logits(idx.map((i) => texts[i]))));
        const d = yield* readAndDispose<tf.Tensor, Float32Array>(probs);
        idx.forEach((i, r) =>
          out.set(d.subarray(r * this.classes, (r + 1) * this.classes), i * this.classes),
        );
      }
    } finally {
      this.train(wasTraining);
    }
    return out;
  }

  /** Parameters fine-tuning updates: all trainable ones except the encoder's MLM head. */
  fineTunedParameters(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [n, v] of this.namedParameters())
      if (v.trainable && !n.startsWith('encoder.mlm.')) out.set(n, v);
    return out;
  }
}

/**
 * Accuracy in percent (0–100) of probabilities against labels; NaN for no labels. The probabilities are
 * row-major [n·classes] (as `TextClassifier.predictProba` returns them) with `classes` given, or any
 * matrix kind (a 2-D tensor, `number[][]`, `{ data, rows, cols }`); labels an array or a 1-D tensor.
 *
 * @example
 * top1Accuracy(new Float32Array([0.9, 0.1, 0.4, 0.6, 0.7, 0.3]), [0, 1, 1], 2); // → 66.67
 * top1Accuracy([[0.9, 0.1], [0.4, 0.6]], [0, 0]); // → 50
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 2 });
 * top1Accuracy(clf.predictProba(dev.map((e) => e.text)), dev.map((e) => e.label), 2);
 */
export function top1Accuracy(probs: Float32Array, labels: VectorInput, classes: number): number;
export function top1Accuracy(probs: MatrixInput, labels: VectorInput): number;
export function top1Accuracy(
  probs: Float32Array | MatrixInput,
  labelInput: VectorInput,
  classes?: number,
): number {
  const labels = toVector(labelInput, 'labels');
  let flat: ArrayLike<number>;
  let cols: number;
  if (probs instanceof Float32Array) {
    if (!(Number.isInteger(classes) && classes! > 0))
      throw new InputError(`classes must be a positive integer with row-major probabilities, got ${classes}`);
    flat = probs;
    cols = classes!;
  } else {
    const { m } = toMatrix(probs, 'probabilities');
    flat = m.data;
    cols = m.cols;
  }
  if (flat.length !== labels.length * cols)
    throw new InputError(
      `${labels.length} labels for ${flat.length / cols} rows of ${cols} probabilities`,
      'labels',
    );
  if (labels.length === 0) return NaN;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (flat[i * cols + c] > flat[i * cols + best]) best = c;
    if (best === labels[i]) correct++;
  }
  return (100 * correct) / labels.length;
}
