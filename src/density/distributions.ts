/**
 * Log-densities used by the VAE, each summed over the last axis (pixels or latent dimensions): a
 * datapoint's log-likelihood is a sum over its dimensions, never an average, so bounds are in nats
 * per datapoint as in the IWAE paper.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedBernoulliLogPmf, fusedBernoulliLogPmfApplies } from '../nn/fused-bernoulli.js';
import { fusedGaussianLogPdf, fusedGaussianLogPdfApplies } from '../nn/fused-gaussian.js';
import { logSumExp } from '../nn/fused-logsumexp.js';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * log N(x; mean, exp(logVar)) summed over the last axis. Shapes broadcast. One kernel each way on backends
 * that have it ('aten'), for a tensor logVar.
 */
export function gaussianLogPdf(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor | number): tf.Tensor {
  if (typeof logVar !== 'number' && fusedGaussianLogPdfApplies(x, mean, logVar))
    return fusedGaussianLogPdf(x, mean, logVar);
  return tf.tidy(() => {
    const lv = typeof logVar === 'number' ? tf.scalar(logVar) : logVar;
    const d = tf.sub(x, mean);
    const quad = tf.mul(tf.square(d), tf.exp(tf.neg(lv)));
    const terms = tf.add(tf.add(quad, lv), LOG_2PI);
    return tf.mul(tf.sum(terms, -1), -0.5);
  });
}

/** log N(z; 0, I) summed over the last axis. */
export function standardNormalLogPdf(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const dim = z.shape[z.shape.length - 1];
    return tf.sub(tf.mul(tf.sum(tf.square(z), -1), -0.5), 0.5 * dim * LOG_2PI);
  });
}

/**
 * log Bernoulli(x; sigmoid(logits)) summed over the last axis, in the stable form
 * x·l − softplus(l) (tf.softplus is the overflow-safe max(l, 0) + log(1 + e^(−|l|))); x may be fractional (it is then the
 * cross-entropy, as for non-binarized inputs). One kernel each way on backends that have it ('aten').
 */
export function bernoulliLogPmf(x: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  if (fusedBernoulliLogPmfApplies(x, logits)) return fusedBernoulliLogPmf(x, logits);
  // Hand-written gradient d/dl = dy·(x − sigmoid(l)): three full-size passes instead of the seven that
  // autodiff of sum(x·l − softplus(l)) takes in tfjs (its Sum gradient materialises ones, Sub a Neg, …).
  // x is data: no gradient flows to it.
  const f = tf.customGrad((...args: unknown[]) => {
    const l = args[0] as tf.Tensor;
    const value = tf.tidy(() => tf.sum(tf.sub(tf.mul(x, l), tf.softplus(l)), -1));
    return {
      value,
      gradFunc: (dy: tf.Tensor) => tf.tidy(() => tf.mul(tf.expandDims(dy, -1), tf.sub(x, tf.sigmoid(l)))),
    };
  });
  return f(logits);
}

/**
 * log((1/k) Σⱼ exp(aⱼ)) along `axis`, stable for any magnitude (max subtracted before exp). In the
 * IWAE bound it runs over one datapoint's k samples (axis 1 of a [B, k] array), never across the batch.
 */
export function logMeanExp(a: tf.Tensor, axis: number): tf.Tensor {
  return tf.tidy(() => tf.sub(logSumExp(a, axis), Math.log(a.shape[axis < 0 ? a.rank + axis : axis])));
}
