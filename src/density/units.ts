/**
 * Active units (Burda et al. §5.2): latent unit u is active when A_u = Var_x(E_q[u | x]) > 0.01. We use
 * the posterior mean of each layer, propagated through the means of the layers below.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';
import type { VAE } from './vae.js';

/**
 * Per stochastic layer: the number of active units (A_u > `threshold`, default 0.01) and each unit's
 * A_u. `x` is [n, D] (n ≥ 2).
 *
 * @example
 * const test = tf.tensor2d(binarizeFixed(images), [images.length / 784, 784]);
 * const { active } = activeUnits(vae, test); // e.g. [19]: 19 of 50 latent units are used
 */
export function activeUnits(
  vae: VAE,
  x: tf.Tensor2D,
  threshold = 0.01,
): { active: number[]; variances: Float32Array[] } {
  return readBackSync(unitsWork(vae, x, threshold));
}

/**
 * As `activeUnits`, reading the variances back with `await data()` instead of `dataSync()`.
 *
 * @example
 * const { active } = await activeUnitsAsync(vae, tf.tensor2d(binarizeFixed(images), [images.length / 784, 784]));
 */
export function activeUnitsAsync(
  vae: VAE,
  x: tf.Tensor2D,
  threshold = 0.01,
): Promise<{ active: number[]; variances: Float32Array[] }> {
  return readBackAsync(unitsWork(vae, x, threshold));
}

function* unitsWork(
  vae: VAE,
  x: tf.Tensor2D,
  threshold: number,
): Generator<tf.Tensor, { active: number[]; variances: Float32Array[] }, ArrayLike<number>> {
  if (x.shape[0] < 2) throw new Error('active units need at least two datapoints');
  const means = vae.posteriorMeans(x);
  const variances: Float32Array[] = [];
  try {
    for (const m of means)
      variances.push(Float32Array.from(yield* readAndDispose(tf.tidy(() => tf.moments(m, 0).variance))));
  } finally {
    tf.dispose(means);
  }
  return { active: variances.map((v) => v.filter((a) => a > threshold).length), variances };
}
