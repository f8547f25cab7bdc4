/**
 * The inequality between input- and parameter-gradient norms of an MLP (Su's note
 * https://kexue.fm/archives/8796; Dherin et al. 2021, "The Geometric Occam's Razor"), in float64 JS.
 *
 * MLP: h⁽⁰⁾ = x, z⁽ᵗ⁾ = W⁽ᵗ⁾h⁽ᵗ⁾ + b⁽ᵗ⁾, h⁽ᵗ⁺¹⁾ = g_t(z⁽ᵗ⁾), t = 0..T−1, scalar output f = h⁽ᵀ⁾.
 * Statement:
 *
 *   ‖∇ₓf‖² · Σₜ (1 + ‖h⁽ᵗ⁾‖²) / (‖W⁽ᵗ⁾‖²·‖∇ₓh⁽ᵗ⁾‖²)  ≤  ‖∇_θf‖²
 *
 * with ‖h⁽ᵗ⁾‖, ‖∇ₓf‖ Euclidean norms of vectors, ‖W⁽ᵗ⁾‖ and ‖∇ₓh⁽ᵗ⁾‖ SPECTRAL norms (largest singular
 * value) of the weight matrix and of the Jacobian ∂h⁽ᵗ⁾/∂x (∇ₓh⁽⁰⁾ = I), and ‖∇_θf‖ the Euclidean norm
 * of the gradient over all weights and biases (Frobenius per matrix).
 *
 * Derivation. Let δ⁽ᵗ⁾ = ∂f/∂z⁽ᵗ⁾. Since z⁽ᵗ⁾ is affine in (W⁽ᵗ⁾, b⁽ᵗ⁾):
 *   ∂f/∂W⁽ᵗ⁾ = δ⁽ᵗ⁾h⁽ᵗ⁾ᵀ (rank one, Frobenius norm ‖δ⁽ᵗ⁾‖‖h⁽ᵗ⁾‖),  ∂f/∂b⁽ᵗ⁾ = δ⁽ᵗ⁾, so
 *   ‖∇_θf‖² = Σₜ ‖δ⁽ᵗ⁾‖²(1 + ‖h⁽ᵗ⁾‖²)                                      (an identity).
 * By the chain rule through z⁽ᵗ⁾ = W⁽ᵗ⁾h⁽ᵗ⁾(x) + b⁽ᵗ⁾:  ∇ₓf = (W⁽ᵗ⁾·∂h⁽ᵗ⁾/∂x)ᵀ δ⁽ᵗ⁾, hence
 *   ‖∇ₓf‖ ≤ ‖W⁽ᵗ⁾‖₂·‖∂h⁽ᵗ⁾/∂x‖₂·‖δ⁽ᵗ⁾‖   for every t,
 * i.e. ‖δ⁽ᵗ⁾‖² ≥ ‖∇ₓf‖²/(‖W⁽ᵗ⁾‖₂²‖∂h⁽ᵗ⁾/∂x‖₂²). Multiplying by (1 + ‖h⁽ᵗ⁾‖²) and summing gives the
 * statement. The spectral norm is what the step ‖Aᵀδ‖ ≤ ‖A‖‖δ‖ needs; Frobenius norms (≥ spectral)
 * would give a valid but weaker left side. Nothing about the activation is used, so it holds for any
 * g_t, and each layer's term is separately bounded by its own share ‖δ⁽ᵗ⁾‖²(1 + ‖h⁽ᵗ⁾‖²).
 * Equality holds for T = 1 (f = g(wᵀx + b): ‖∇ₓf‖ = |g'|‖w‖ exactly).
 *
 * Degenerate terms: if ‖W⁽ᵗ⁾‖·‖∂h⁽ᵗ⁾/∂x‖ = 0 then ∇ₓf = 0 (it factors through that product) and the
 * left side is 0; such a term is defined as 0 (0·∞ would be NaN).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../io/errors.js';
import { isLayersModel, mlpFromLayersModel, mlpFromLayersModelAsync } from './from-layers.js';
import { spectralNormSq } from './linalg.js';
import { rngOf, type Seed } from '../util/rng.js';

export type Activation = 'relu' | 'tanh' | 'gelu' | 'linear';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'gelu', 'linear'];

/** One layer z = Wh + b, h' = g(z); W row-major [outDim, inDim] (the note's layout). */
export interface DenseLayer {
  inDim: number;
  outDim: number;
  weight: Float64Array;
  bias: Float64Array;
  activation: Activation;
  /**
   * False for a layer without a bias parameter (b fixed at 0): then θ has no b⁽ᵗ⁾, and that layer's
   * terms use ‖h⁽ᵗ⁾‖² where the statement has 1 + ‖h⁽ᵗ⁾‖² (∂f/∂b⁽ᵗ⁾ = δ⁽ᵗ⁾ is what the 1 counts).
   * Default true.
   */
  hasBias?: boolean;
}

export interface Mlp {
  layers: DenseLayer[];
}

/** erf to ~1e-15: Taylor series for |x| < 3, continued fraction of erfc beyond. */
export function erf64(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    // erf x = 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1))
    let term = a;
    let sum = a;
    const x2 = a * a;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc a = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...)))), evaluated bottom-up.
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (a + f);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  return Math.sign(x) * (1 - erfc);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** g(z) and g'(z). GELU is the exact z·Φ(z), as tf's erf-based GELU. */
export function activate(act: Activation, z: number): [number, number] {
  switch (act) {
    case 'relu':
      return z > 0 ? [z, 1] : [0, 0];
    case 'tanh': {
      const t = Math.tanh(z);
      return [t, 1 - t * t];
    }
    case 'gelu': {
      const cdf = 0.5 * (1 + erf64(z * Math.SQRT1_2));
      return [z * cdf, cdf + z * INV_SQRT_2PI * Math.exp(-0.5 * z * z)];
    }
    case 'linear':
      return [z, 1];
  }
}

/** Everything a forward + backward pass of f at one x gives. */
export interface MlpPass {
  f: number;
  /** h⁽ᵗ⁾, t = 0..T (h⁽⁰⁾ = x). */
  h: Float64Array[];
  /** δ⁽ᵗ⁾ = ∂f/∂z⁽ᵗ⁾, t = 0..T−1. */
  delta: Float64Array[];
  /** ∇ₓf. */
  inputGrad: Float64Array;
}

/** Checks an MLP's shapes, activations and values; errors name the layer. */
export function checkMlp(mlp: Mlp, inputDim?: number): void {
  if (!mlp || !Array.isArray(mlp.layers))
    throw new InputError('must be a tf.LayersModel of Dense layers or { layers: DenseLayer[] }', 'model');
  if (mlp.layers.length === 0) throw new InputError('MLP has no layers', 'model');
  mlp.layers.forEach((l, t) => {
    if (l.weight.length !== l.inDim * l.outDim || l.bias.length !== l.outDim) {
      throw new InputError(`layer ${t}: weight/bias sizes do not match ${l.outDim}×${l.inDim}`, 'model');
    }
    if (t > 0 && l.inDim !== mlp.layers[t - 1].outDim)
      throw new InputError(`layer ${t}: input size mismatch`, 'model');
    if (!(ACTIVATIONS as readonly string[]).includes(l.activation))
      throw new InputError(
        `layer ${t}: unknown activation '${l.activation}' (${ACTIVATIONS.join(', ')})`,
        'model',
      );
    const bad = [...Array.from(l.weight), ...Array.from(l.bias)].find((v) => !Number.isFinite(v));
    if (bad !== undefined) throw new InputError(`layer ${t}: a weight is ${bad}`, 'model');
  });
  if (mlp.layers[mlp.layers.length - 1].outDim !== 1)
    throw new InputError('the last layer must have one output', 'model');
  if (inputDim !== undefined && inputDim !== mlp.layers[0].inDim) {
    throw new InputError(`has ${inputDim} values but the MLP takes ${mlp.layers[0].inDim}`, 'x');
  }
}

/** Forward and backward pass at x. */
export function mlpPass(mlp: Mlp, x: ArrayLike<number>): MlpPass {
  const h: Float64Array[] = [Float64Array.from(x)];
  const slopes: Float64Array[] = [];
  for (const l of mlp.layers) {
    const prev = h[h.length - 1];
    const out = new Float64Array(l.outDim);
    const slope = new Float64Array(l.outDim);
    for (let i = 0; i < l.outDim; i++) {
      let z = l.bias[i];
      const o = i * l.inDim;
      for (let j = 0; j < l.inDim; j++) z += l.weight[o + j] * prev[j];
      [out[i], slope[i]] = activate(l.activation, z);
    }
    h.push(out);
    slopes.push(slope);
  }
  const T = mlp.layers.length;
  const delta: Float64Array[] = new Array(T);
  delta[T - 1] = Float64Array.from(slopes[T - 1]);
  for (let t = T - 1; t >= 0; t--) {
    const l = mlp.layers[t];
    // back = W⁽ᵗ⁾ᵀδ⁽ᵗ⁾ = ∂f/∂h⁽ᵗ⁾
    const back = new Float64Array(l.inDim);
    for (let i = 0; i < l.outDim; i++) {
      const d = delta[t][i];
      if (d === 0) continue;
      const o = i * l.inDim;
      for (let j = 0; j < l.inDim; j++) back[j] += l.weight[o + j] * d;
    }
    if (t === 0) return { f: h[T][0], h, delta, inputGrad: back };
    const s = slopes[t - 1];
    delta[t - 1] = back.map((v, j) => v * s[j]);
  }
  throw new Error('unreachable');
}

/** Jacobians ∂h⁽ᵗ⁾/∂x, t = 0..T−1, row-major [dim(h⁽ᵗ⁾), dim(x)]. */
export function hiddenJacobians(mlp: Mlp, pass: MlpPass): Float64Array[] {
  const d0 = mlp.layers[0].inDim;
  const eye = new Float64Array(d0 * d0);
  for (let i = 0; i < d0; i++) eye[i * d0 + i] = 1;
  const out = [eye];
  for (let t = 0; t < mlp.layers.length - 1; t++) {
    const l = mlp.layers[t];
    const prev = out[t];
    const next = new Float64Array(l.outDim * d0);
    for (let i = 0; i < l.outDim; i++) {
      // g'(z⁽ᵗ⁾), recomputed from z (δ only carries it multiplied by downstream factors).
      let z = l.bias[i];
      const o = i * l.inDim;
      for (let j = 0; j < l.inDim; j++) z += l.weight[o + j] * pass.h[t][j];
      const slope = activate(l.activation, z)[1];
      if (slope === 0) continue;
      for (let j = 0; j < l.inDim; j++) {
        const w = l.weight[o + j] * slope;
        if (w === 0) continue;
        const po = j * d0;
        for (let k = 0; k < d0; k++) next[i * d0 + k] += w * prev[po + k];
      }
    }
    out.push(next);
  }
  return out;
}

/** One weight layer t's terms of the inequality (norms squared, at the given x). */
export interface LayerTerms {
  /** ‖h⁽ᵗ⁾‖². */
  hNormSq: number;
  /** ‖W⁽ᵗ⁾‖₂² (spectral). */
  weightNormSq: number;
  /** ‖∂h⁽ᵗ⁾/∂x‖₂² (spectral). */
  jacobianNormSq: number;
  /** ‖δ⁽ᵗ⁾‖². */
  deltaNormSq: number;
  /** This layer's share of the left side: ‖∇ₓf‖²(1+‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖²‖∂h⁽ᵗ⁾/∂x‖²) (no 1 without a bias). */
  left: number;
  /** This layer's share of the right side: ‖δ⁽ᵗ⁾‖²(1+‖h⁽ᵗ⁾‖²) = ‖∂f/∂(W⁽ᵗ⁾, b⁽ᵗ⁾)‖² (no 1 without a bias). */
  right: number;
}

/** `gradientPenaltyInequality`'s result: both sides at x, their ratio and the per-layer terms. */
export interface InequalityResult {
  /** f(x). */
  f: number;
  /** ‖∇ₓf‖². */
  inputGradNormSq: number;
  /** ‖∇_θf‖². */
  paramGradNormSq: number;
  /** The left side, ‖∇ₓf‖² · Σₜ (1 + ‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖²‖∇ₓh⁽ᵗ⁾‖²). */
  left: number;
  /** The right side, ‖∇_θf‖² (the sum of the layers' `right`). */
  right: number;
  /** right/left (≥ 1 when the inequality holds; Infinity when left = 0). */
  ratio: number;
  /** One entry per weight layer, input side first. */
  layers: LayerTerms[];
}

function sq(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}

/** Spectral norms of the weights, which do not depend on x (compute once per MLP). */
export function weightSpectralNormsSq(mlp: Mlp): number[] {
  return mlp.layers.map((l) => spectralNormSq(l.weight, l.outDim, l.inDim));
}

/** A model the inequality is computed for: a `tf.LayersModel` of Dense layers or kexue's float64 `Mlp`. */
export type InequalityModel = Mlp | tfl.LayersModel;

/** The float64 MLP of either kind of model. */
export function asMlp(model: InequalityModel): Mlp {
  return isLayersModel(model) ? mlpFromLayersModel(model) : model;
}

/** As `asMlp`, reading a `tf.LayersModel`'s weights with `await data()`. */
async function asMlpAsync(model: InequalityModel): Promise<Mlp> {
  return isLayersModel(model) ? mlpFromLayersModelAsync(model) : model;
}

function checkPointShape(x: tf.Tensor): void {
  if (!(x.rank === 1 || (x.rank === 2 && x.shape[0] === 1)))
    throw new InputError(`must be one point: a [d] or [1, d] tensor, got [${x.shape}]`, 'x');
}

function checkBatchShape(x: tf.Tensor): void {
  if (x.rank !== 2) throw new InputError(`must be a [n, d] tensor, got [${x.shape}]`, 'x');
}

/** One input point as finite float64 values: a 1-D (or [1, d]) tensor or an array. */
function pointOf(x: ArrayLike<number> | tf.Tensor): ArrayLike<number> {
  let v: ArrayLike<number>;
  if (x instanceof tf.Tensor) {
    checkPointShape(x);
    v = x.dataSync();
  } else if (x && typeof (x as ArrayLike<number>).length === 'number') v = x;
  else throw new InputError('must be a 1-D tensor or an array of numbers', 'x');
  for (let i = 0; i < v.length; i++)
    if (!Number.isFinite(v[i])) throw new InputError(`value ${i} is ${v[i]}`, 'x');
  return v;
}

/**
 * Both sides of the inequality and the per-layer terms at one input x. `model` is a `tf.LayersModel`
 * made of Dense layers (relu/tanh/gelu/linear, one output unit; anything else is an error) or a
 * float64 `Mlp` with W row-major [out, in] — the transpose of a TF.js kernel.
 *
 * @example
 * const r = gradientPenaltyInequality(model, [0.1, -0.3, 0.5, 2]); // r.left ≤ r.right
 */
export function gradientPenaltyInequality(
  model: InequalityModel,
  x: ArrayLike<number> | tf.Tensor,
  weightNormsSq?: number[],
): InequalityResult {
  const mlp = asMlp(model);
  x = pointOf(x);
  checkMlp(mlp, x.length);
  weightNormsSq ??= weightSpectralNormsSq(mlp);
  const pass = mlpPass(mlp, x);
  const jac = hiddenJacobians(mlp, pass);
  const d0 = mlp.layers[0].inDim;
  const inputGradNormSq = sq(pass.inputGrad);
  const layers = mlp.layers.map((l, t): LayerTerms => {
    const hNormSq = sq(pass.h[t]);
    const weightNormSq = weightNormsSq[t];
    const jacobianNormSq = t === 0 ? 1 : spectralNormSq(jac[t], l.inDim, d0);
    const deltaNormSq = sq(pass.delta[t]);
    const den = weightNormSq * jacobianNormSq;
    const factor = (l.hasBias === false ? 0 : 1) + hNormSq;
    const left = inputGradNormSq === 0 || den === 0 ? 0 : (inputGradNormSq * factor) / den;
    return { hNormSq, weightNormSq, jacobianNormSq, deltaNormSq, left, right: deltaNormSq * factor };
  });
  const left = layers.reduce((a, l) => a + l.left, 0);
  const right = layers.reduce((a, l) => a + l.right, 0);
  return {
    f: pass.f,
    inputGradNormSq,
    paramGradNormSq: right,
    left,
    right,
    ratio: left === 0 ? Infinity : right / left,
    layers,
  };
}

/**
 * As `gradientPenaltyInequality`, reading a `tf.LayersModel`'s weights and a tensor `x` with
 * `await data()` instead of `dataSync()` (a browser page on webgl keeps responding).
 *
 * @example
 * const r = await gradientPenaltyInequalityAsync(critic, tf.tensor1d([0.1, -0.3, 0.5, 2]));
 */
export async function gradientPenaltyInequalityAsync(
  model: InequalityModel,
  x: ArrayLike<number> | tf.Tensor,
  weightNormsSq?: number[],
): Promise<InequalityResult> {
  if (x instanceof tf.Tensor) checkPointShape(x);
  const mlp = await asMlpAsync(model);
  return gradientPenaltyInequality(mlp, x instanceof tf.Tensor ? await x.data() : x, weightNormsSq);
}

/**
 * As `gradientPenaltyInequalityBatch`, reading a `tf.LayersModel`'s weights and a tensor `x` with
 * `await data()` instead of `dataSync()`.
 *
 * @example
 * const rows = await gradientPenaltyInequalityBatchAsync(critic, tf.randomNormal([16, 4]));
 */
export async function gradientPenaltyInequalityBatchAsync(
  model: InequalityModel,
  x: ArrayLike<number> | number[][] | tf.Tensor,
  n?: number,
): Promise<InequalityResult[]> {
  if (x instanceof tf.Tensor) checkBatchShape(x);
  const mlp = await asMlpAsync(model);
  if (x instanceof tf.Tensor) return gradientPenaltyInequalityBatch(mlp, await x.data(), x.shape[0]);
  return gradientPenaltyInequalityBatch(mlp, x, n);
}

/**
 * The inequality at each row of a batch: x is a [n, d] tensor, a number[][], or row-major values with
 * `n` given.
 *
 * @example
 * const rows = gradientPenaltyInequalityBatch(critic, [[0.1, -0.3, 0.5, 2], [1, 0, 0, -1]]);
 * rows.every((r) => r.left <= r.right * (1 + 1e-9)); // → true
 */
export function gradientPenaltyInequalityBatch(
  model: InequalityModel,
  x: ArrayLike<number> | number[][] | tf.Tensor,
  n?: number,
): InequalityResult[] {
  const mlp = asMlp(model);
  checkMlp(mlp);
  const d = mlp.layers[0].inDim;
  if (x instanceof tf.Tensor) {
    checkBatchShape(x);
    n = x.shape[0];
    x = x.dataSync();
  } else if (Array.isArray(x) && Array.isArray(x[0])) {
    const rows = x as number[][];
    n = rows.length;
    if (rows.some((r) => r.length !== d)) throw new InputError(`every row must have ${d} values`, 'x');
    x = rows.flat();
  }
  const flat = x as ArrayLike<number>;
  if (n === undefined) throw new InputError('row-major values need the row count n', 'n');
  if (flat.length !== n * d) throw new InputError(`has ${flat.length} values, expected ${n}×${d}`, 'x');
  const norms = weightSpectralNormsSq(mlp);
  const out: InequalityResult[] = [];
  for (let i = 0; i < n; i++) {
    out.push(gradientPenaltyInequality(mlp, Array.prototype.slice.call(flat, i * d, (i + 1) * d), norms));
  }
  return out;
}

export interface RandomMlpOptions {
  inputDim: number;
  widths: number[];
  activation: Activation;
  outputActivation?: Activation;
  /** Weight std = weightScale/√fan_in (default 1). */
  weightScale?: number;
  /** Bias std (default 0.1). */
  biasScale?: number;
}

export function randomMlp(seed: Seed, o: RandomMlpOptions): Mlp {
  const rng = rngOf(seed, 'rng');
  const dims = [o.inputDim, ...o.widths, 1];
  const layers: DenseLayer[] = [];
  for (let t = 0; t + 1 < dims.length; t++) {
    const [inDim, outDim] = [dims[t], dims[t + 1]];
    const std = (o.weightScale ?? 1) / Math.sqrt(inDim);
    layers.push({
      inDim,
      outDim,
      weight: Float64Array.from({ length: inDim * outDim }, () => rng.normal() * std),
      bias: Float64Array.from({ length: outDim }, () => rng.normal() * (o.biasScale ?? 0.1)),
      activation: t + 2 === dims.length ? (o.outputActivation ?? 'linear') : o.activation,
    });
  }
  return { layers };
}

/**
 * A few steps of plain gradient descent on ½(f(x) − y)² over a small random regression set, so that
 * the property test also covers weights shaped by training (correlated with the data), not only i.i.d.
 * draws. The step is normalised by the gradient norm to stay stable at every depth and width.
 */
export function trainMlp(mlp: Mlp, xs: Float64Array[], ys: number[], steps: number, lr: number): void {
  for (let s = 0; s < steps; s++) {
    const gw = mlp.layers.map((l) => new Float64Array(l.weight.length));
    const gb = mlp.layers.map((l) => new Float64Array(l.bias.length));
    xs.forEach((x, i) => {
      const p = mlpPass(mlp, x);
      const r = (p.f - ys[i]) / xs.length;
      mlp.layers.forEach((l, t) => {
        for (let a = 0; a < l.outDim; a++) {
          const d = r * p.delta[t][a];
          if (d === 0) continue;
          gb[t][a] += d;
          for (let b = 0; b < l.inDim; b++) gw[t][a * l.inDim + b] += d * p.h[t][b];
        }
      });
    });
    const norm = Math.sqrt(gw.reduce((a, g) => a + sq(g), 0) + gb.reduce((a, g) => a + sq(g), 0));
    if (!(norm > 0)) return;
    const step = lr / Math.max(1, norm);
    mlp.layers.forEach((l, t) => {
      for (let k = 0; k < l.weight.length; k++) l.weight[k] -= step * gw[t][k];
      for (let k = 0; k < l.bias.length; k++) l.bias[k] -= step * gb[t][k];
    });
  }
}
