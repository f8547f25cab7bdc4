/**
 * Binarized image data as the IWAE paper uses it: pixel intensities p ∈ [0, 1] are read as Bernoulli
 * probabilities. Training uses dynamic binarization — a fresh draw x ~ Bernoulli(p) for every
 * minibatch — so the model never sees the same binary image twice; the test set is binarized once with
 * a fixed seed so every model is scored on the same images. (`fixed` binarization of the training set
 * is the alternative; the paper's fixed-binarization MNIST is a different, published draw.)
 */
import { Rng, rngOf, type Seed } from '../util/rng.js';

/**
 * Draws binary images x ~ Bernoulli(p) element-wise: x = 1 where u ≤ p (u ~ U[0, 1)), as yburda/iwae
 * `datasets.py` draws it. A number seed gives the same draw every time; an `Rng` advances.
 *
 * @example
 * const rng = new Rng(1);
 * const batch = binarize(images.subarray(0, 20 * 784), rng); // 0/1 values; a new draw on each call
 */
export function binarize(p: Float32Array, seed: Seed): Float32Array {
  const rng = rngOf(seed, 'rng');
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = rng.next() <= p[i] ? 1 : 0;
  return out;
}

/**
 * The test-set convention: one binarization with a fixed seed (default 0), so every model is scored on
 * the same binary images.
 *
 * @example
 * const test = binarizeFixed(images); // the same 0/1 images every time
 */
export function binarizeFixed(p: Float32Array, seed = 0): Float32Array {
  return binarize(p, new Rng(0x5eed ^ seed));
}

/**
 * logit(clip(mean over rows, 0.001, 0.999)) per column: the Bernoulli decoder's initial output bias,
 * so an untrained model already predicts the average image. `data` is row-major [n, dim].
 *
 * @example
 * const bias = logitMean(images, 784); // Float32Array(784)
 * const v = VAEModel.build(paperConfig(1), { outputBias: bias });
 */
export function logitMean(data: Float32Array, dim: number): Float32Array {
  const n = data.length / dim;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`data length ${data.length} is not a positive multiple of ${dim}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < data.length; i++) mean[i % dim] += data[i] / n;
  return Float32Array.from(mean, (m) => {
    const p = Math.min(0.999, Math.max(0.001, m));
    return Math.log(p / (1 - p));
  });
}

/** The rows `idx` of a row-major [n, dim] array, gathered into one minibatch. */
export function gatherRows(data: Float32Array, dim: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) out.set(data.subarray(idx[i] * dim, (idx[i] + 1) * dim), i * dim);
  return out;
}

/**
 * Ren et al. (2019)'s input perturbation for the background model: each pixel is replaced, with
 * probability `rate`, by a uniform random intensity (values in [0, 1]). Returns a new array.
 *
 * @example
 * const background = perturb(images, 0.2, 1); // train the background model on these
 */
export function perturb(p: Float32Array, rate: number, seed: Seed): Float32Array {
  const rng = rngOf(seed, 'rng');
  if (!(rate >= 0 && rate <= 1)) throw new Error(`rate must be in [0, 1], got ${rate}`);
  const out = Float32Array.from(p);
  for (let i = 0; i < out.length; i++) if (rng.next() < rate) out[i] = rng.next();
  return out;
}
