/**
 * Fréchet distance between generated and real images on features of an MNIST classifier that kexue
 * trains itself (an MLP 784–256–128–10; features = the 128 ReLU units before the output), as a
 * stand-in for Inception features on 28×28 digits:
 *
 *   FID = ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁^½ Σ₂ Σ₁^½)^½
 *
 * (Tr (Σ₁Σ₂)^½ equals Tr (Σ₁^½Σ₂Σ₁^½)^½, whose argument is symmetric PSD, so two symmetric
 * eigen-decompositions suffice.) Computed in float64.
 */
import * as tf from '@tensorflow/tfjs-core';
import { logSoftmax } from '../grad/index.js';
import { symmetricEigen } from '../penalty/linalg.js';
import { Rng } from '../util/rng.js';
import { MlpNet } from './nets.js';

/** Mean and covariance of a set of feature vectors, as `frechetDistance` takes them. */
export interface FeatureStats {
  /** [dim]. */
  mean: Float64Array;
  /** Row-major [dim, dim], unbiased (divided by n − 1). */
  cov: Float64Array;
  dim: number;
}

/**
 * Mean and unbiased covariance of n feature vectors given row-major as [n, dim] (n ≥ 2), in float64.
 *
 * @example
 * const stats = featureStats([0, 0, 2, 2, 4, 1], 3, 2); // three 2-D points
 * stats.mean; // Float64Array [2, 1]
 * stats.cov; // Float64Array [4, 1, 1, 1]
 */
export function featureStats(features: ArrayLike<number>, n: number, dim: number): FeatureStats {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += features[i * dim + j] / n;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) c[j] = features[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      if (c[a] === 0) continue;
      for (let b = 0; b <= a; b++) cov[a * dim + b] += c[a] * c[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b <= a; b++) {
      cov[a * dim + b] /= n - 1;
      cov[b * dim + a] = cov[a * dim + b];
    }
  }
  return { mean, cov, dim };
}

/** Symmetric PSD square root (negative rounding-level eigenvalues clipped to 0). */
function sqrtPsd(m: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(m, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vi = vectors[i * n + k] * s;
      for (let j = 0; j < n; j++) out[i * n + j] += vi * vectors[j * n + k];
    }
  }
  return out;
}

function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/**
 * The Fréchet distance between two Gaussians given by their feature statistics (FID when the features
 * come from `FeatureClassifier`): ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁^½ Σ₂ Σ₁^½)^½, clamped at 0.
 * Both must have the same `dim`.
 *
 * @example
 * const p = featureStats([0, 0, 2, 2, 4, 1], 3, 2);
 * frechetDistance(p, p); // ≈ 0
 * const q = featureStats([1, 0, 3, 2, 5, 1], 3, 2); // the same points shifted by (1, 0)
 * frechetDistance(p, q); // ≈ 1
 */
export function frechetDistance(p: FeatureStats, q: FeatureStats): number {
  const n = p.dim;
  let d = 0;
  for (let i = 0; i < n; i++) d += (p.mean[i] - q.mean[i]) ** 2;
  let tr = 0;
  for (let i = 0; i < n; i++) tr += p.cov[i * n + i] + q.cov[i * n + i];
  const s = sqrtPsd(p.cov, n);
  const m = matMul(matMul(s, q.cov, n), s, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) m[i * n + j] = m[j * n + i] = 0.5 * (m[i * n + j] + m[j * n + i]);
  const { values } = symmetricEigen(m, n);
  let cross = 0;
  for (const v of values) cross += Math.sqrt(Math.max(0, v));
  return Math.max(0, d + tr - 2 * cross);
}

/**
 * The feature classifier: train, score, embed. Images are rows of 784 values in [0, 1], labels the digits
 * 0..9; the seed fixes the initial weights.
 *
 * @example
 * const clf = new FeatureClassifier(0);
 * clf.train(images, Uint8Array.from(labels), 3, 0); // 3 epochs, shuffle seed 0
 * const fake = new Float32Array(1000 * 784).map(() => Math.random()); // e.g. a generator's samples
 * const fid = frechetDistance(clf.stats(images, labels.length), clf.stats(fake, 1000));
 * clf.dispose();
 */
export class FeatureClassifier {
  readonly net: MlpNet;

  constructor(seed: number) {
    this.net = new MlpNet({ dims: [784, 256, 128, 10], activation: 'relu' }, new Rng(seed));
  }

  train(images: Float32Array, labels: Uint8Array, epochs: number, seed: number, batch = 128): void {
    const n = labels.length;
    const opt: tf.Optimizer = tf.train.adam(1e-3);
    const rng = new Rng(seed);
    const vars = this.net.trainableVariables();
    for (let e = 0; e < epochs; e++) {
      const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
      for (let s = 0; s + batch <= n; s += batch) {
        const idx = order.slice(s, s + batch);
        tf.tidy(() => {
          const xb = new Float32Array(batch * 784);
          idx.forEach((k, i) => xb.set(images.subarray(k * 784, (k + 1) * 784), i * 784));
          const x = tf.tensor2d(xb, [batch, 784]);
          const y = tf.oneHot(
            tf.tensor1d(
              idx.map((k) => labels[k]),
              'int32',
            ),
            10,
          );
          const { grads } = tf.variableGrads(
            () => tf.neg(tf.mean(tf.sum(tf.mul(y, logSoftmax(this.net.apply(x))), 1))) as tf.Scalar,
            vars,
          );
          opt.applyGradients(grads);
        });
      }
    }
    opt.dispose();
  }

  /** Penultimate-layer features, [n, 128]. */
  features(images: Float32Array, n: number, chunk = 1000): Float32Array {
    const out = new Float32Array(n * 128);
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      const f = tf.tidy(() => {
        let h = tf.tensor2d(images.subarray(i * 784, (i + m) * 784), [m, 784]);
        for (const l of this.net.layers.slice(0, 2)) h = tf.relu(l.apply(h)) as tf.Tensor2D;
        return h;
      });
      out.set(f.dataSync(), i * 128);
      f.dispose();
    }
    return out;
  }

  accuracy(images: Float32Array, labels: Uint8Array): number {
    let right = 0;
    const n = labels.length;
    for (let i = 0; i < n; i += 1000) {
      const m = Math.min(1000, n - i);
      const pred = tf.tidy(() =>
        tf.argMax(this.net.apply(tf.tensor2d(images.subarray(i * 784, (i + m) * 784), [m, 784])), 1),
      );
      const p = pred.dataSync();
      for (let k = 0; k < m; k++) if (p[k] === labels[i + k]) right++;
      pred.dispose();
    }
    return right / n;
  }

  stats(images: Float32Array, n: number): FeatureStats {
    return featureStats(this.features(images, n), n, 128);
  }

  dispose(): void {
    this.net.dispose();
  }
}
