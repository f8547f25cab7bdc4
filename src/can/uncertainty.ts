/** The uncertainty CAN uses to decide which rows to adjust. */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import { toMatrix, type MatrixInput } from '../util/inputs.js';
import type { ProbMatrix } from './matrix.js';

/**
 * Entropy of row i's k largest probabilities renormalised to sum 1, divided by log k, so 0 means one
 * class holds all the top-k mass and 1 means the top k are tied. `buf` is scratch space of length k.
 */
export function topkEntropy(m: ProbMatrix, i: number, k: number, buf: Float64Array): number {
  // Keep the k largest values in buf, sorted descending (insertion: k is small).
  let filled = 0;
  const o = i * m.cols;
  for (let j = 0; j < m.cols; j++) {
    const v = m.data[o + j];
    if (filled === k && v <= buf[k - 1]) continue;
    let p = filled < k ? filled++ : k - 1;
    while (p > 0 && buf[p - 1] < v) {
      buf[p] = buf[p - 1];
      p--;
    }
    buf[p] = v;
  }
  let sum = 0;
  for (let j = 0; j < k; j++) sum += buf[j];
  if (!(sum > 0)) throw new InputError(`row ${i + 1} has no positive probability`);
  let h = 0;
  for (let j = 0; j < k; j++) {
    const p = buf[j] / sum;
    if (p > 0) h -= p * Math.log(p);
  }
  return h / Math.log(k);
}

/**
 * Uncertainty of every row of a probability matrix (see `topkEntropy`), in [0, 1]; `k` is an integer
 * from 2 to cols. A 2-D tensor gives a 1-D tensor; a `number[][]` or `{ data, rows, cols }` matrix a
 * Float64Array.
 *
 * @example
 * const m = { data: Float64Array.from([0.5, 0.5, 0, 0.98, 0.01, 0.01]), rows: 2, cols: 3 };
 * uncertainties(m, 2); // Float64Array [1, ≈0.08]
 */
export function uncertainties(probs: tf.Tensor, k: number): tf.Tensor1D;
export function uncertainties(probs: number[][] | ProbMatrix, k: number): Float64Array;
export function uncertainties(probs: MatrixInput, k: number): tf.Tensor1D | Float64Array;
export function uncertainties(probs: MatrixInput, k: number): tf.Tensor1D | Float64Array {
  const out = rowUncertainties(toMatrix(probs, 'probabilities').m, k);
  return probs instanceof tf.Tensor ? tf.tensor1d(Float32Array.from(out)) : out;
}

/** `uncertainties` of a `{ data, rows, cols }` matrix (what CAN calls on data it has already read). */
export function rowUncertainties(m: ProbMatrix, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 2 || k > m.cols) {
    throw new InputError(`topk must be an integer from 2 to the number of classes (${m.cols}), got ${k}`);
  }
  const out = new Float64Array(m.rows);
  const buf = new Float64Array(k);
  for (let i = 0; i < m.rows; i++) out[i] = topkEntropy(m, i, k, buf);
  return out;
}
