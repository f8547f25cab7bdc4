/**
 * Label-shift adaptation: estimate the deployment prior from unlabeled predictions with the EM procedure
 * of Saerens, Latinne & Decaestecker, "Adjusting the outputs of a classifier to new a priori
 * probabilities: a simple procedure", Neural Computation 14(1), 2002.
 *
 *   E: p_new(y|x) ∝ p(y|x) · π_new(y) / π_train(y)      M: π_new(y) = mean over x of p_new(y|x)
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import { CAN_ROW_SUM_TOLERANCE } from './can.js';
import {
  fromMatrixAs,
  toMatrix,
  toMatrixAsync,
  toVector,
  toVectorAsync,
  type MatrixInput,
  type ProbMatrixKind,
  type VectorInput,
} from '../util/inputs.js';
import { checkProbMatrix, softmaxRows, type ProbMatrix } from './matrix.js';
import { normalizePrior } from './prior.js';

/** `emPrior`'s result; `probs` is of the kind of the input (a new tensor for a tensor: dispose it). */
export interface EmPriorResult<P = ProbMatrix> {
  prior: Float64Array;
  /** Posteriors re-weighted to the estimated prior. */
  probs: P;
  iterations: number;
  converged: boolean;
}

/** `emPrior`'s options. */
export interface EmPriorOptions {
  /** Most EM iterations (default 1000). */
  maxIters?: number;
  /** Stop when no class's prior moves by more than this (default 1e-8). */
  tol?: number;
  /** `probs` holds logits: apply a row softmax first. */
  fromLogits?: boolean;
}

/**
 * The deployment prior of unlabeled predictions `probs` (2-D tensor, `number[][]` or
 * `{ data, rows, cols }`, rows summing to 1 within 1e-3) from a classifier trained under `trainPrior`.
 *
 * @example
 * // probs: the model's predictions on unlabeled deployment data; labels: the training labels
 * const trainPrior = priorFromLabels(labels, probs.shape[1]);
 * const { prior: deployPrior, converged } = emPrior(probs, trainPrior);
 * const adjusted = can(probs, deployPrior).probs; // or use emPrior's own re-weighted `probs`
 */
export function emPrior(
  probs: tf.Tensor,
  trainPrior: VectorInput,
  opts?: EmPriorOptions,
): EmPriorResult<tf.Tensor2D>;
export function emPrior(
  probs: number[][],
  trainPrior: VectorInput,
  opts?: EmPriorOptions,
): EmPriorResult<number[][]>;
export function emPrior(
  probs: ProbMatrix,
  trainPrior: VectorInput,
  opts?: EmPriorOptions,
): EmPriorResult<ProbMatrix>;
export function emPrior(
  probs: MatrixInput,
  trainPrior: VectorInput,
  opts: EmPriorOptions = {},
): EmPriorResult<tf.Tensor2D | number[][] | ProbMatrix> {
  const { m, kind } = toMatrix(probs, 'probs');
  return emOn(m, kind, toVector(trainPrior, 'trainPrior'), opts);
}

/**
 * `emPrior` reading tensors with `await data()` (no blocking GPU read-back); same result.
 *
 * @example
 * const { prior: deployPrior, iterations } = await emPriorAsync(probs, priorFromLabels(labels, 3));
 */
export async function emPriorAsync(
  probs: tf.Tensor,
  trainPrior: VectorInput,
  opts?: EmPriorOptions,
): Promise<EmPriorResult<tf.Tensor2D>>;
export async function emPriorAsync(
  probs: number[][],
  trainPrior: VectorInput,
  opts?: EmPriorOptions,
): Promise<EmPriorResult<number[][]>>;
export async function emPriorAsync(
  probs: ProbMatrix,
  trainPrior: VectorInput,
  opts?: EmPriorOptions,
): Promise<EmPriorResult<ProbMatrix>>;
export async function emPriorAsync(
  probs: MatrixInput,
  trainPrior: VectorInput,
  opts: EmPriorOptions = {},
): Promise<EmPriorResult<tf.Tensor2D | number[][] | ProbMatrix>> {
  const { m, kind } = await toMatrixAsync(probs, 'probs');
  return emOn(m, kind, await toVectorAsync(trainPrior, 'trainPrior'), opts);
}

function emOn(
  m: ProbMatrix,
  kind: ProbMatrixKind,
  trainPrior: ArrayLike<number>,
  opts: EmPriorOptions,
): EmPriorResult<tf.Tensor2D | number[][] | ProbMatrix> {
  const { maxIters = 1000, tol = 1e-8, fromLogits = false } = opts;
  if (!Number.isInteger(maxIters) || maxIters < 1)
    throw new InputError(`maxIters must be a positive integer, got ${maxIters}`, 'options');
  if (!(tol >= 0)) throw new InputError(`tol must be a number ≥ 0, got ${tol}`, 'options');
  const p = fromLogits ? softmaxRows(m) : m;
  checkProbMatrix(p, 'probs', CAN_ROW_SUM_TOLERANCE);
  const r = emMatrix(p, trainPrior, maxIters, tol);
  return { ...r, probs: fromMatrixAs(r.probs, kind) };
}

function emMatrix(
  probs: ProbMatrix,
  trainPrior: ArrayLike<number>,
  maxIters: number,
  tol: number,
): EmPriorResult {
  const { rows, cols } = probs;
  const base = normalizePrior(trainPrior, cols, 'trainPrior');
  let prior = Float64Array.from(base);
  const post = new Float64Array(rows * cols);
  for (let it = 1; it <= maxIters; it++) {
    const next = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) {
        s += post[o + j] = base[j] > 0 ? (probs.data[o + j] * prior[j]) / base[j] : 0;
      }
      for (let j = 0; j < cols; j++) next[j] += post[o + j] /= s > 0 ? s : 1;
    }
    let delta = 0;
    for (let j = 0; j < cols; j++) {
      next[j] /= rows;
      delta = Math.max(delta, Math.abs(next[j] - prior[j]));
    }
    prior = next;
    if (delta < tol) return { prior, probs: { data: post, rows, cols }, iterations: it, converged: true };
  }
  return { prior, probs: { data: post, rows, cols }, iterations: maxIters, converged: false };
}
