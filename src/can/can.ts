/**
 * CAN — Classification with Alternating Normalization (Jia et al., Findings of EMNLP 2021; Su's note
 * https://kexue.fm/archives/8728). Rows whose top-k entropy is high are re-normalised, one at a time,
 * against the matrix of confident rows with the label prior:
 *
 *   Y = [confident rows; row], then `iters` times:
 *   Y ← Y^α;  divide each column by its sum;  multiply column j by prior_j;  divide each row by its sum.
 *
 * The adjusted row is Y's last row. Nothing here copies the confident matrix per row. After t iterations
 * Y = diag(a) · P^(α^t) · diag(b) with row scalings a and column scalings b, and the column scaling of an
 * iteration only needs the column sums Σ_i a_i^α P_ij^(α^t). With iters = 1 every a_i is 1, so those sums
 * are shared by all rows and each row costs O(classes). With iters > 1 the row scalings depend on the
 * uncertain row, so uncertain rows go in batches through two matrix products per iteration (a
 * Sinkhorn-style scaling), done by TensorFlow.js in float32 on the active backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import { checkProbMatrix, type ProbMatrix } from './matrix.js';
import { normalizePrior } from './prior.js';
import { uncertainties } from './uncertainty.js';

export interface CanOptions {
  /** How many of the largest probabilities the uncertainty looks at (2..classes). Default 3. */
  topk?: number;
  /** Rows with uncertainty ≥ threshold are adjusted. Default 0.9. */
  threshold?: number;
  /** Exponent applied to Y before each normalisation. Default 1. */
  alpha?: number;
  /** Number of alternating normalisations. Default 1. */
  iters?: number;
}

export const CAN_DEFAULTS: Required<CanOptions> = { topk: 3, threshold: 0.9, alpha: 1, iters: 1 };

export interface CanResult extends ProbMatrix {
  data: Float64Array;
  /** 1 where the row was uncertain and adjusted. */
  adjusted: Uint8Array;
  /** Normalised top-k entropy of each input row. */
  uncertainty: Float64Array;
}

export interface CanTensorResult {
  probs: tf.Tensor2D;
  adjusted: tf.Tensor1D;
  uncertainty: tf.Tensor1D;
}

/**
 * More iterations change nothing: with α ≠ 1 the exponent α^t under- or overflows float64 long before,
 * and with α = 1 the alternating normalisation has converged; the cap keeps a typo from exhausting memory.
 */
export const CAN_MAX_ITERS = 100;

/** Rows must sum to 1 within this (float32 sums over thousands of classes stay far inside it). */
const ROW_SUM_TOLERANCE = 1e-3;

function resolveOptions(opts: CanOptions, classes: number): Required<CanOptions> {
  // topk defaults to 3, or to every class when there are fewer.
  const o = { ...CAN_DEFAULTS, topk: Math.min(CAN_DEFAULTS.topk, classes), ...opts };
  if (!Number.isInteger(o.topk) || o.topk < 2 || o.topk > classes) {
    throw new InputError(`topk must be an integer from 2 to ${classes}, got ${o.topk}`);
  }
  if (!Number.isFinite(o.threshold)) throw new InputError(`threshold must be a number, got ${o.threshold}`);
  if (!(o.alpha > 0) || !Number.isFinite(o.alpha)) throw new InputError(`alpha must be > 0, got ${o.alpha}`);
  if (!Number.isInteger(o.iters) || o.iters < 1 || o.iters > CAN_MAX_ITERS)
    throw new InputError(`iters must be an integer from 1 to ${CAN_MAX_ITERS}, got ${o.iters}`);
  return o;
}

/** x^α, skipping the pow where α = 1 (the common case). */
function pow(x: number, alpha: number): number {
  return alpha === 1 ? x : Math.pow(x, alpha);
}

/** b_j = prior_j / denominator_j, with 0 where a column is empty (its entries are all 0 anyway). */
function scaleColumn(prior: number, denominator: number): number {
  return denominator > 0 ? prior / denominator : 0;
}

/** Writes b ⊙ z, normalised to sum 1, into out at offset o. */
function writeNormalized(
  out: Float64Array,
  o: number,
  b: ArrayLike<number>,
  z: ArrayLike<number>,
  bo = 0,
): void {
  const k = z.length;
  let sum = 0;
  for (let j = 0; j < k; j++) sum += out[o + j] = b[bo + j] * z[j];
  if (sum > 0) for (let j = 0; j < k; j++) out[o + j] /= sum;
}

/** iters = 1: the column sums of the confident rows are shared by every uncertain row. */
function adjustOneIteration(
  p: ProbMatrix,
  prior: Float64Array,
  alpha: number,
  confident: number[],
  uncertain: number[],
  out: Float64Array,
): void {
  const k = p.cols;
  const d = p.data;
  const colsum = new Float64Array(k);
  for (const i of confident) for (let j = 0; j < k; j++) colsum[j] += pow(d[i * k + j], alpha);
  const z = new Float64Array(k);
  const b = new Float64Array(k);
  for (const u of uncertain) {
    for (let j = 0; j < k; j++) {
      z[j] = pow(d[u * k + j], alpha);
      b[j] = scaleColumn(prior[j], colsum[j] + z[j]);
    }
    writeNormalized(out, u * k, b, z);
  }
}

function gatherRows(p: ProbMatrix, rows: number[]): Float32Array {
  const k = p.cols;
  const out = new Float32Array(rows.length * k);
  rows.forEach((r, i) => out.set(p.data.subarray(r * k, (r + 1) * k), i * k));
  return out;
}

/** Powers P^(α^t) for t = 1..iters, as [m, k] tensors and their transposes. */
function confidentPowers(
  conf: tf.Tensor2D,
  alpha: number,
  iters: number,
): { z: tf.Tensor2D[]; zt: tf.Tensor2D[] } {
  const z: tf.Tensor2D[] = [];
  let cur = conf;
  for (let t = 1; t <= iters; t++) {
    if (alpha !== 1) cur = tf.pow(cur, alpha);
    z.push(cur);
  }
  // With α = 1 every power is P itself: one transpose serves all iterations.
  const zt = alpha === 1 ? [tf.transpose(conf)] : z.map((m) => tf.transpose(m));
  return { z, zt };
}

/**
 * One batch of uncertain rows for iters > 1. State: a [B, m] (confident-row scalings, one set per
 * uncertain row), au [B, 1] (the uncertain row's own scaling); b [B, k] column scalings.
 */
function adjustBatch(
  zs: tf.Tensor2D[],
  zts: tf.Tensor2D[],
  prior: tf.Tensor1D,
  rowsZ: tf.Tensor2D,
  alpha: number,
): Float32Array {
  return tf.tidy(() => {
    const B = rowsZ.shape[0];
    const m = zs[0].shape[0];
    let a: tf.Tensor2D | null = null; // all ones at t = 1
    let au: tf.Tensor2D = tf.ones([B, 1]);
    let zu: tf.Tensor2D = rowsZ;
    let b: tf.Tensor2D = tf.zeros([B, zs[0].shape[1]]);
    for (let t = 0; t < zs.length; t++) {
      if (t > 0 && alpha !== 1) zu = tf.pow(zu, alpha);
      const confSums: tf.Tensor2D =
        a === null
          ? tf.tile(tf.sum(zs[t], 0, true), [B, 1])
          : tf.matMul(alpha === 1 ? a : tf.pow(a, alpha), zs[t]);
      const denom = tf.add(confSums, tf.mul(alpha === 1 ? au : tf.pow(au, alpha), zu));
      b = tf.where(tf.greater(denom, 0), tf.div(prior, denom), tf.zerosLike(denom)) as tf.Tensor2D;
      if (t + 1 < zs.length) {
        a = m > 0 ? tf.reciprocal(tf.matMul(b, zts[Math.min(t, zts.length - 1)])) : null;
        au = tf.reciprocal(tf.sum(tf.mul(b, zu), 1, true));
      }
    }
    const y = tf.mul(b, zu);
    return tf.div(y, tf.sum(y, 1, true)).dataSync() as Float32Array;
  });
}

function adjustIterated(
  p: ProbMatrix,
  prior: Float64Array,
  alpha: number,
  iters: number,
  confident: number[],
  uncertain: number[],
  out: Float64Array,
): void {
  const k = p.cols;
  const m = confident.length;
  // Keep a batch's [B, m] scalings around 32 MB.
  const batch = Math.max(1, Math.min(uncertain.length, 1024, Math.floor(8e6 / Math.max(m, 1))));
  const conf = tf.tensor2d(gatherRows(p, confident), [m, k]);
  const priorT = tf.tensor1d(Float32Array.from(prior));
  const { z, zt } = confidentPowers(conf, alpha, iters);
  try {
    for (let s = 0; s < uncertain.length; s += batch) {
      const rows = uncertain.slice(s, s + batch);
      const rowsZ = tf.tidy(() => {
        const r = tf.tensor2d(gatherRows(p, rows), [rows.length, k]);
        return alpha === 1 ? r : tf.pow(r, alpha);
      });
      const y = adjustBatch(z, zt, priorT, rowsZ as tf.Tensor2D, alpha);
      rowsZ.dispose();
      rows.forEach((u, i) => {
        for (let j = 0; j < k; j++) out[u * k + j] = y[i * k + j];
      });
    }
  } finally {
    tf.dispose([conf, priorT, ...z, ...zt]);
  }
}

function canMatrix(probs: ProbMatrix, prior: ArrayLike<number>, opts: CanOptions): CanResult {
  checkProbMatrix(probs, 'probabilities', ROW_SUM_TOLERANCE);
  const o = resolveOptions(opts, probs.cols);
  const pi = normalizePrior(prior, probs.cols);
  const uncertainty = uncertainties(probs, o.topk);
  const adjusted = new Uint8Array(probs.rows);
  const confident: number[] = [];
  const uncertain: number[] = [];
  uncertainty.forEach((h, i) => {
    if (h >= o.threshold) {
      adjusted[i] = 1;
      uncertain.push(i);
    } else confident.push(i);
  });
  const out = new Float64Array(probs.data); // a typed-array copy (Float64Array.from iterates: slow)
  if (uncertain.length > 0) {
    if (o.iters === 1) adjustOneIteration(probs, pi, o.alpha, confident, uncertain, out);
    else adjustIterated(probs, pi, o.alpha, o.iters, confident, uncertain, out);
  }
  return { data: out, rows: probs.rows, cols: probs.cols, adjusted, uncertainty };
}

/**
 * Adjusts low-confidence rows of `probs` with the label `prior` (any non-negative vector; only its
 * direction matters). Takes a row-major matrix or a 2-D tensor and returns the same kind.
 */
export function can(probs: ProbMatrix, prior: ArrayLike<number>, opts?: CanOptions): CanResult;
export function can(probs: tf.Tensor2D, prior: ArrayLike<number>, opts?: CanOptions): CanTensorResult;
export function can(
  probs: ProbMatrix | tf.Tensor2D,
  prior: ArrayLike<number>,
  opts: CanOptions = {},
): CanResult | CanTensorResult {
  if (!(probs instanceof tf.Tensor)) return canMatrix(probs, prior, opts);
  if (probs.rank !== 2) throw new InputError(`probabilities must be a 2-D tensor, got rank ${probs.rank}`);
  const [rows, cols] = probs.shape;
  const r = canMatrix({ data: probs.dataSync() as Float32Array, rows, cols }, prior, opts);
  return {
    probs: tf.tensor2d(Float32Array.from(r.data), [rows, cols], 'float32'),
    adjusted: tf.tensor1d(r.adjusted, 'bool'),
    uncertainty: tf.tensor1d(Float32Array.from(r.uncertainty), 'float32'),
  };
}
