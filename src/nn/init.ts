/**
 * Weight initializers, drawn from the seeded `Rng` in JavaScript so that a model's initial weights
 * depend only on its seed, not on the backend.
 *
 * Truncated normal (BERT's default, σ = 0.02): draws beyond ±2σ are re-drawn, which removes the
 * tails, so the *actual* standard deviation is σ·√(1 − 2·2φ(2)/(2Φ(2) − 1)) ≈ 0.8796σ ≈ σ/1.1368.
 * (TensorFlow's and TF.js's `truncatedNormal` behave the same; Keras's VarianceScaling compensates by
 * dividing by 0.8796, BERT's `truncated_normal_initializer(0.02)` does not, so BERT's weights have
 * std ≈ 0.0176.) `truncatedStd(σ)` gives the exact value.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, rngOf, type Seed } from '../util/rng.js';

export type InitName = 'truncated-normal' | 'glorot-uniform' | 'glorot-normal' | 'he-normal' | 'lecun-normal';
export const INIT_NAMES: readonly InitName[] = [
  'truncated-normal',
  'glorot-uniform',
  'glorot-normal',
  'he-normal',
  'lecun-normal',
];

export interface Fans {
  fanIn: number;
  fanOut: number;
}

/** Fan-in/out of a weight shaped [in, out] (dense kernels) or [rows, cols] (embedding tables). */
export function fansOf(shape: readonly number[]): Fans {
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[shape.length - 2] * receptive, fanOut: shape[shape.length - 1] * receptive };
}

/** Standard normal density and distribution function (erf by Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
function phi(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}
export function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return s * y;
}
function bigPhi(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

/** Actual std of a normal(0, σ²) truncated to [−kσ, kσ]: ≈ 0.8796σ for k = 2. */
export function truncatedStd(sigma: number, k = 2): number {
  const z = 2 * bigPhi(k) - 1;
  return sigma * Math.sqrt(1 - (2 * k * phi(k)) / z);
}

/** Fills n draws of normal(0, σ²) re-drawn until within ±kσ. */
export function truncatedNormalArray(n: number, sigma: number, rng: Rng, k = 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z = rng.normal();
    while (Math.abs(z) > k) z = rng.normal();
    out[i] = sigma * z;
  }
  return out;
}

export function normalArray(n: number, std: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}

export function uniformArray(n: number, limit: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * limit;
  return out;
}

export interface InitSpec {
  name: InitName;
  /** σ for 'truncated-normal' (before truncation); ignored by the fan-based initializers. */
  std?: number;
}

/**
 * The standard deviation the initializer actually produces for a weight of the given fans:
 * truncated normal → truncatedStd(σ); Glorot → √(2/(in+out)) (uniform on ±√(6/(in+out)) has the same);
 * He → √(2/in); LeCun → √(1/in).
 */
export function documentedStd(spec: InitSpec, fans: Fans): number {
  switch (spec.name) {
    case 'truncated-normal':
      return truncatedStd(spec.std ?? 0.02);
    case 'glorot-uniform':
    case 'glorot-normal':
      return Math.sqrt(2 / (fans.fanIn + fans.fanOut));
    case 'he-normal':
      return Math.sqrt(2 / fans.fanIn);
    case 'lecun-normal':
      return Math.sqrt(1 / fans.fanIn);
  }
}

/** Raw draws for a weight of `shape` (fans from `fansOf(shape)` unless given). */
export function initArray(
  spec: InitSpec,
  shape: readonly number[],
  rng: Rng,
  fans = fansOf(shape),
): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (spec.name) {
    case 'truncated-normal':
      return truncatedNormalArray(n, spec.std ?? 0.02, rng);
    case 'glorot-uniform':
      return uniformArray(n, Math.sqrt(6 / (fans.fanIn + fans.fanOut)), rng);
    case 'glorot-normal':
    case 'he-normal':
    case 'lecun-normal':
      return normalArray(n, documentedStd(spec, fans), rng);
  }
}

export function initTensor(spec: InitSpec, shape: number[], seed: Seed, fans?: Fans): tf.Tensor {
  return tf.tensor(initArray(spec, shape, rngOf(seed, 'rng'), fans), shape, 'float32');
}
