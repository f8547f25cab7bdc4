/**
 * Random draws as one kernel where the backend has one. tfjs-core's `tf.randomNormal` and
 * `tf.randomUniform` fill their buffers in JavaScript loops (about 50 ns per normal draw): in an IWAE
 * k = 5 step on 'aten' (batch 100) drawing the latent noise and binarizing the images took 1–2 ms of
 * about 17. kexue's 'aten' registers `KexueRandomNormal` (ATen's normal, as torch.randn, from a generator
 * made per call from the seed) and `KexueBernoulli` (counter-based and parallel, like the dropout mask).
 * Elsewhere the tfjs ops run.
 *
 * A seed gives the same numbers on every call on a given backend, for any thread count; the native
 * kernels and the tfjs ops draw different numbers from the same seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradientOnce } from '../grad/register-once.js';

/** Kernel: standard-normal float32 draws of `shape` from `seed` (attributes only, no inputs). */
export const RANDOM_NORMAL = 'KexueRandomNormal';
/** Kernel: 1 with probability p, else 0, per element of the float32 input `p`, from `seed`. */
export const BERNOULLI = 'KexueBernoulli';

const has = (kernel: string) => tf.getKernel(kernel, tf.getBackend()) !== undefined;

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
}

/**
 * Standard-normal draws N(0, 1) of `shape`, reproducible from an integer `seed`.
 *
 * @example
 * const eps = standardNormal([100, 5, 50], 7); // the same numbers for seed 7 on this backend
 */
export function standardNormal(shape: number[], seed: number): tf.Tensor {
  checkSeed(seed);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new Error(`shape must be non-negative integers, got [${shape}]`);
  if (has(RANDOM_NORMAL)) return tf.engine().runKernel(RANDOM_NORMAL, {}, { shape, seed }) as tf.Tensor;
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

// Sampling has no pathwise derivative; the gradient to the probabilities is zero, as for tf.round.
const bernoulliGradient: tf.GradConfig = {
  kernelName: BERNOULLI,
  inputsToSave: ['p'],
  gradFunc: (_dy, [p]) => ({ p: () => tf.zerosLike(p) }),
};

/**
 * One Bernoulli draw per element: 1 with probability `p` (values below 0 act as 0, above 1 as 1), else
 * 0, as float32 — the dynamic binarization of grey-level images, say. Reproducible from `seed`.
 *
 * @example
 * const grey = tf.tensor2d([[0.1, 0.9, 0.5]]);
 * const x = bernoulli(grey, 3); // e.g. [[0, 1, 1]]: 0/1 values, a new draw per seed
 */
export function bernoulli(p: tf.Tensor, seed: number): tf.Tensor {
  checkSeed(seed);
  if (p.dtype !== 'float32') throw new Error(`bernoulli: p must be float32, got ${p.dtype}`);
  if (has(BERNOULLI)) {
    registerGradientOnce(bernoulliGradient);
    return tf.engine().runKernel(BERNOULLI, { p }, { seed }) as tf.Tensor;
  }
  return tf.tidy(() => tf.cast(tf.less(tf.randomUniform(p.shape, 0, 1, 'float32', seed), p), 'float32'));
}
