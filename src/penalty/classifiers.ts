/**
 * Small image classifiers for the penalty experiments (28×28 gray inputs, 10 classes), and a training
 * step that adds either gradient penalty:
 *   input      λ·E‖∇ₓℓ(x, y)‖²   (ℓ the per-sample cross-entropy, gradient per sample)
 *   parameter  λ·‖∇_θ L‖²         (L the batch-mean cross-entropy)
 * Cross-entropy uses kexue's `logSoftmax`, whose second derivatives are correct.
 */
import * as tf from '@tensorflow/tfjs-core';
import { logSoftmax } from '../grad/index.js';
import { Module } from '../nn/module.js';
import { initTensor } from '../nn/init.js';
import { MlpNet } from '../gan/nets.js';
import { Rng, type Seed } from '../util/rng.js';
import { inputGradientPenalty, parameterGradientPenalty } from './penalties.js';
import type { Mlp } from './inequality.js';

export interface Classifier extends Module {
  /** Logits [n, 10] for images [n, 784]. */
  logits(x: tf.Tensor2D): tf.Tensor2D;
}

export class MlpClassifier extends MlpNet implements Classifier {
  constructor(seed: Seed, hidden = [128, 64]) {
    super({ dims: [784, ...hidden, 10], activation: 'relu' }, seed);
  }

  logits(x: tf.Tensor2D): tf.Tensor2D {
    return this.apply(x);
  }

  /**
   * The float64 MLP computing the logit of class `y` (the last layer restricted to that row), in the
   * inequality's layout (W [out, in]).
   */
  toScalarMlp(y: number): Mlp {
    return {
      layers: this.layers.map((l, t) => {
        const last = t === this.layers.length - 1;
        const k = l.kernel.dataSync();
        const b = l.bias.dataSync();
        const rows = last ? [y] : Array.from({ length: l.outDim }, (_, i) => i);
        const weight = new Float64Array(rows.length * l.inDim);
        rows.forEach((r, i) => {
          for (let j = 0; j < l.inDim; j++) weight[i * l.inDim + j] = k[j * l.outDim + r];
        });
        return {
          inDim: l.inDim,
          outDim: rows.length,
          weight,
          bias: Float64Array.from(rows, (r) => b[r]),
          activation: last ? 'linear' : 'relu',
        };
      }),
    };
  }
}

/** conv 3×3/2 (8) → ReLU → conv 3×3/2 (16) → ReLU → dense 10: 28 → 14 → 7 (ReLU or tanh). */
export class SmallCnn extends Module implements Classifier {
  private readonly k1: tf.Variable;
  private readonly b1: tf.Variable;
  private readonly k2: tf.Variable;
  private readonly b2: tf.Variable;
  private readonly w3: tf.Variable;
  private readonly b3: tf.Variable;

  /** `tanh` makes the net smooth (tests of second derivatives against finite differences). */
  constructor(
    rng: Rng,
    private readonly act: 'relu' | 'tanh' = 'relu',
  ) {
    super();
    const he = { name: 'he-normal' as const };
    this.k1 = this.param('conv1.kernel', initTensor(he, [3, 3, 1, 8], rng));
    this.b1 = this.param('conv1.bias', tf.zeros([8]));
    this.k2 = this.param('conv2.kernel', initTensor(he, [3, 3, 8, 16], rng));
    this.b2 = this.param('conv2.bias', tf.zeros([16]));
    this.w3 = this.param('dense.kernel', initTensor({ name: 'glorot-uniform' }, [7 * 7 * 16, 10], rng));
    this.b3 = this.param('dense.bias', tf.zeros([10]));
  }

  logits(x: tf.Tensor2D): tf.Tensor2D {
    const n = x.shape[0];
    let h = tf.reshape(x, [n, 28, 28, 1]) as tf.Tensor4D;
    const g = this.act === 'relu' ? tf.relu : tf.tanh;
    h = g(tf.add(tf.conv2d(h, this.k1 as tf.Tensor4D, 2, 'same'), this.b1));
    h = g(tf.add(tf.conv2d(h, this.k2 as tf.Tensor4D, 2, 'same'), this.b2));
    return tf.add(tf.matMul(tf.reshape(h, [n, 7 * 7 * 16]), this.w3 as tf.Tensor2D), this.b3) as tf.Tensor2D;
  }
}

export type PenaltyKind = 'none' | 'input' | 'parameter';

/** Per-sample cross-entropy, shape [n]. */
export function perSampleCrossEntropy(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(onehot, logSoftmax(logits)), 1)) as tf.Tensor1D;
}

/** The training objective: mean cross-entropy plus the chosen penalty. */
export function penalisedLoss(
  model: Classifier,
  x: tf.Tensor2D,
  onehot: tf.Tensor2D,
  kind: PenaltyKind,
  weight: number,
): tf.Scalar {
  const meanLoss = () => tf.mean(perSampleCrossEntropy(model.logits(x), onehot)) as tf.Scalar;
  switch (kind) {
    case 'none':
      return meanLoss();
    case 'input':
      return tf.add(
        meanLoss(),
        inputGradientPenalty((xx) => perSampleCrossEntropy(model.logits(xx as tf.Tensor2D), onehot), x, {
          weight,
        }),
      ) as tf.Scalar;
    case 'parameter': {
      const { loss, penalty } = parameterGradientPenalty(meanLoss, model.trainableVariables(), { weight });
      return tf.add(loss, penalty) as tf.Scalar;
    }
  }
}

/** Both penalty values (λ = 1) of the current model on a batch: E‖∇ₓℓ‖² and ‖∇_θL‖². */
export function penaltyValues(
  model: Classifier,
  x: tf.Tensor2D,
  onehot: tf.Tensor2D,
): { input: number; parameter: number } {
  return tf.tidy(() => {
    const input = inputGradientPenalty(
      (xx) => perSampleCrossEntropy(model.logits(xx as tf.Tensor2D), onehot),
      x,
    );
    const { penalty } = parameterGradientPenalty(
      () => tf.mean(perSampleCrossEntropy(model.logits(x), onehot)) as tf.Scalar,
      model.trainableVariables(),
    );
    return { input: input.dataSync()[0], parameter: penalty.dataSync()[0] };
  });
}
