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
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';
import { InputError } from '../io/errors.js';
import {
  fromMatrixAs,
  toMatrix,
  toMatrixAsync,
  toVector,
  toVectorAsync,
  type InputKind,
  type MatrixInput,
  type VectorInput,
} from '../util/inputs.js';
import { checkProbMatrix, checkProbMatrixShape, softmaxRows, type ProbMatrix } from './matrix.js';
import { normalizePrior } from './prior.js';
import { rowUncertainties } from './uncertainty.js';

/** CAN's settings (what `canTune` searches over). */
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

/** `can`'s options: the settings, and how to read the input. */
export interface CanCallOptions extends CanOptions {
  /** `probs` holds logits: apply a row softmax (in float64) first. Default false. */
  fromLogits?: boolean;
  /**
   * Called as the uncertain rows are adjusted, with (rows done, uncertain rows): for a progress bar on
   * large matrices with several iterations.
   */
  onProgress?: (done: number, total: number) => void;
}

/** The defaults of `can`'s settings. */
export const CAN_DEFAULTS: Required<CanOptions> = { topk: 3, threshold: 0.9, alpha: 1, iters: 1 };

/**
 * `can`'s result: `probs` is the adjusted matrix in the kind of the input, `adjusted` marks the rows that
 * were uncertain and adjusted, `uncertainty` is each input row's normalised top-k entropy.
 */
export interface CanResultOf<P, A, U> {
  probs: P;
  adjusted: A;
  uncertainty: U;
}
/** `can` on a `{ data, rows, cols }` matrix: a float64 matrix, a 0/1 mask and float64 entropies. */
export type CanMatrixResult = CanResultOf<ProbMatrix & { data: Float64Array }, Uint8Array, Float64Array>;
/** `can` on a tensor: new float32 [rows, cols], bool [rows] and float32 [rows] tensors (dispose them). */
export type CanTensorResult = CanResultOf<tf.Tensor2D, tf.Tensor1D, tf.Tensor1D>;
/** `can` on a `number[][]`: plain arrays. */
export type CanArrayResult = CanResultOf<number[][], boolean[], number[]>;
/**
 * `can`'s result on a `{ data, rows, cols }` matrix (the name from before tensor inputs).
 *
 * @deprecated Use `CanMatrixResult`.
 */
export type CanResult = CanMatrixResult;

/**
 * More iterations change nothing: with α ≠ 1 the exponent α^t under- or overflows float64 long before,
 * and with α = 1 the alternating normalisation has converged; the cap keeps a typo from exhausting memory.
 */
export const CAN_MAX_ITERS = 100;

/**
 * Rows of `probs` must sum to 1 within this (float32 softmax outputs over thousands of classes stay
 * far inside it).
 */
export const CAN_ROW_SUM_TOLERANCE = 1e-3;

function resolveOptions(opts: CanOptions, classes: number): Required<CanOptions> {
  // topk defaults to 3, or to every class when there are fewer; undefined fields keep their default.
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  const o = { ...CAN_DEFAULTS, topk: Math.min(CAN_DEFAULTS.topk, classes), ...given };
  for (const key of Object.keys(given))
    if (!(key in CAN_DEFAULTS))
      throw new InputError(
        `unknown option '${key}' (allowed: topk, threshold, alpha, iters, fromLogits)`,
        'options',
      );
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
 * uncertain row), au [B, 1] (the uncertain row's own scaling); b [B, k] column scalings. Returns the
 * adjusted rows as a tensor for the caller to read back (synchronously or not).
 */
function adjustBatch(
  zs: tf.Tensor2D[],
  zts: tf.Tensor2D[],
  prior: tf.Tensor1D,
  rowsZ: tf.Tensor2D,
  alpha: number,
): tf.Tensor2D {
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
    return tf.div(y, tf.sum(y, 1, true)) as tf.Tensor2D;
  });
}

/**
 * iters > 1, as a generator: it yields each batch's adjusted rows as a tensor and is sent back their
 * values, so one body serves the sync (`dataSync`) and async (`await data()`) drivers.
 */
function* adjustIterated(
  p: ProbMatrix,
  prior: Float64Array,
  alpha: number,
  iters: number,
  confident: number[],
  uncertain: number[],
  out: Float64Array,
  onProgress?: (done: number, total: number) => void,
): Generator<tf.Tensor2D, void, ArrayLike<number>> {
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
      const yT = adjustBatch(z, zt, priorT, rowsZ as tf.Tensor2D, alpha);
      rowsZ.dispose();
      const y = yield* readAndDispose(yT);
      rows.forEach((u, i) => {
        for (let j = 0; j < k; j++) out[u * k + j] = y[i * k + j];
      });
      onProgress?.(s + rows.length, uncertain.length);
    }
  } finally {
    tf.dispose([conf, priorT, ...z, ...zt]);
  }
}

/** The matrix result before the adjusted rows are filled in, and the work that fills them. */
function canPlan(
  probs: ProbMatrix,
  prior: ArrayLike<number>,
  opts: CanCallOptions,
): { result: CanMatrixResult; work: Generator<tf.Tensor2D, void, ArrayLike<number>> | null } {
  const { fromLogits, onProgress, ...settings } = opts;
  if (fromLogits !== undefined && typeof fromLogits !== 'boolean')
    throw new InputError(`fromLogits must be true or false, got ${String(fromLogits)}`, 'options');
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw new InputError(`onProgress must be a function, got ${typeof onProgress}`, 'options');
  if (fromLogits) {
    checkProbMatrixShape(probs, 'probs (logits)');
    probs = softmaxRows(probs);
  }
  checkProbMatrix(probs, 'probs', CAN_ROW_SUM_TOLERANCE);
  const o = resolveOptions(settings, probs.cols);
  const pi = normalizePrior(prior, probs.cols);
  const uncertainty = rowUncertainties(probs, o.topk);
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
  const result = { probs: { data: out, rows: probs.rows, cols: probs.cols }, adjusted, uncertainty };
  if (uncertain.length === 0) return { result, work: null };
  if (o.iters === 1) {
    adjustOneIteration(probs, pi, o.alpha, confident, uncertain, out);
    onProgress?.(uncertain.length, uncertain.length);
    return { result, work: null };
  }
  return {
    result,
    work: adjustIterated(probs, pi, o.alpha, o.iters, confident, uncertain, out, onProgress),
  };
}

function canMatrix(probs: ProbMatrix, prior: ArrayLike<number>, opts: CanCallOptions): CanMatrixResult {
  const { result, work } = canPlan(probs, prior, opts);
  if (work) readBackSync(work);
  return result;
}

async function canMatrixAsync(
  probs: ProbMatrix,
  prior: ArrayLike<number>,
  opts: CanCallOptions,
): Promise<CanMatrixResult> {
  const { result, work } = canPlan(probs, prior, opts);
  if (work) await readBackAsync(work);
  return result;
}

/** The matrix result in the kind of the input. */
function resultAs(r: CanMatrixResult, kind: InputKind): CanMatrixResult | CanTensorResult | CanArrayResult {
  if (kind === 'matrix') return r;
  if (kind === 'array')
    return {
      probs: fromMatrixAs(r.probs, 'array'),
      adjusted: Array.from(r.adjusted, (a) => a === 1),
      uncertainty: Array.from(r.uncertainty),
    };
  return {
    probs: fromMatrixAs(r.probs, 'tensor'),
    adjusted: tf.tensor1d(r.adjusted, 'bool'),
    uncertainty: tf.tensor1d(Float32Array.from(r.uncertainty), 'float32'),
  };
}

/** The prior as numbers (a tensor is read back; `normalizePrior` then checks it). */
function priorValues(prior: VectorInput): ArrayLike<number> {
  return toVector(prior, 'prior');
}

/**
 * Adjusts low-confidence rows of `probs` with the label `prior` (any non-negative vector; only its
 * direction matters). `probs` is a 2-D `tf.Tensor`, a `number[][]` or a `{ data, rows, cols }` matrix;
 * the result is always `{ probs, adjusted, uncertainty }` with `probs` of the same kind as the input
 * (a new float32 tensor for a tensor — dispose it, and `adjusted`/`uncertainty` are 1-D tensors too).
 *
 * Rows must be probabilities: finite, non-negative, summing to 1 within `CAN_ROW_SUM_TOLERANCE`
 * (1e-3); pass `{ fromLogits: true }` to apply a softmax first. Errors name the argument, the row
 * and the value. On webgl/webgpu prefer `canAsync`, which reads tensors back without blocking.
 *
 * @example
 * const { probs: adjusted, adjusted: mask } = can(model.predict(x) as tf.Tensor2D, prior);
 * const r = can([[0.5, 0.3, 0.2], [0.98, 0.01, 0.01]], [0.2, 0.5, 0.3]); // r.probs: number[][]
 */
export function can(probs: tf.Tensor, prior: VectorInput, opts?: CanCallOptions): CanTensorResult;
export function can(probs: number[][], prior: VectorInput, opts?: CanCallOptions): CanArrayResult;
export function can(probs: ProbMatrix, prior: VectorInput, opts?: CanCallOptions): CanMatrixResult;
export function can(
  probs: MatrixInput,
  prior: VectorInput,
  opts?: CanCallOptions,
): CanMatrixResult | CanTensorResult | CanArrayResult;
export function can(
  probs: MatrixInput,
  prior: VectorInput,
  opts: CanCallOptions = {},
): CanMatrixResult | CanTensorResult | CanArrayResult {
  checkOptionsObject(opts);
  const { m, kind } = toMatrix(probs, 'probs');
  return resultAs(canMatrix(m, priorValues(prior), opts), kind);
}

/**
 * `can` without synchronous GPU read-backs (`await data()`); same arguments and results.
 *
 * @example
 * const { probs: adjusted, adjusted: mask } = await canAsync(model.predict(x) as tf.Tensor2D, prior);
 * const r = await canAsync([[0.5, 0.3, 0.2]], [0.2, 0.5, 0.3], { topk: 2 }); // r.probs: number[][]
 */
export async function canAsync(
  probs: tf.Tensor,
  prior: VectorInput,
  opts?: CanCallOptions,
): Promise<CanTensorResult>;
export async function canAsync(
  probs: number[][],
  prior: VectorInput,
  opts?: CanCallOptions,
): Promise<CanArrayResult>;
export async function canAsync(
  probs: ProbMatrix,
  prior: VectorInput,
  opts?: CanCallOptions,
): Promise<CanMatrixResult>;
export async function canAsync(
  probs: MatrixInput,
  prior: VectorInput,
  opts: CanCallOptions = {},
): Promise<CanMatrixResult | CanTensorResult | CanArrayResult> {
  checkOptionsObject(opts);
  const { m, kind } = await toMatrixAsync(probs, 'probs');
  const pi = await toVectorAsync(prior, 'prior');
  return resultAs(await canMatrixAsync(m, pi, opts), kind);
}

function checkOptionsObject(opts: unknown): void {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new InputError(`must be an object such as { topk: 3 }, got ${String(opts)}`, 'options');
}
