/** Label priors for CAN: class frequencies of training labels, uniform, or a given vector. */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import { toVector, type VectorInput } from '../util/inputs.js';

/** A vector result in the kind of the input: a 1-D tensor for a tensor, else a Float64Array. */
function asKindOf(input: VectorInput, v: Float64Array): tf.Tensor1D | Float64Array {
  return input instanceof tf.Tensor ? tf.tensor1d(Float32Array.from(v)) : v;
}

/**
 * Class frequencies of `labels` (integers in 0..classes-1), as a distribution; classes that never occur
 * get 0. Labels as an array give a Float64Array, as a 1-D tensor a 1-D tensor.
 *
 * @example
 * priorFromLabels([0, 1, 1, 2], 3); // Float64Array [0.25, 0.5, 0.25]
 * priorFromLabels(tf.tensor1d([0, 1, 1, 2], 'int32'), 3); // tf.Tensor1D [0.25, 0.5, 0.25]
 */
export function priorFromLabels(labels: tf.Tensor, classes: number): tf.Tensor1D;
export function priorFromLabels(labels: ArrayLike<number>, classes: number): Float64Array;
export function priorFromLabels(labels: VectorInput, classes: number): tf.Tensor1D | Float64Array;
export function priorFromLabels(input: VectorInput, classes: number): tf.Tensor1D | Float64Array {
  const labels = toVector(input, 'labels');
  const counts = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      throw new InputError(`label ${y} out of range 0..${classes - 1}`, 'labels', i + 1);
    }
    counts[y]++;
  }
  if (labels.length === 0) throw new InputError('no labels to estimate a prior from', 'labels');
  return asKindOf(
    input,
    counts.map((c) => c / labels.length),
  );
}

/**
 * The uniform distribution over `classes` classes, for when the label prior is unknown.
 *
 * @example
 * uniformPrior(4); // Float64Array [0.25, 0.25, 0.25, 0.25]
 */
export function uniformPrior(classes: number): Float64Array {
  return new Float64Array(classes).fill(1 / classes);
}

/**
 * Checks a prior vector (`classes` entries, non-negative, finite, not all zero) and rescales it to sum 1;
 * throws an `InputError` naming `where` otherwise. An array gives a Float64Array, a 1-D tensor a tensor.
 *
 * @example
 * normalizePrior([2, 1, 1], 3); // Float64Array [0.5, 0.25, 0.25]
 */
export function normalizePrior(prior: tf.Tensor, classes: number, where?: string): tf.Tensor1D;
export function normalizePrior(prior: ArrayLike<number>, classes: number, where?: string): Float64Array;
export function normalizePrior(
  prior: VectorInput,
  classes: number,
  where?: string,
): tf.Tensor1D | Float64Array;
export function normalizePrior(
  input: VectorInput,
  classes: number,
  where = 'prior',
): tf.Tensor1D | Float64Array {
  const prior = toVector(input, where);
  if (prior.length !== classes) {
    throw new InputError(`has ${prior.length} classes, the probabilities have ${classes}`, where);
  }
  let sum = 0;
  for (let j = 0; j < classes; j++) {
    const v = prior[j];
    if (!Number.isFinite(v) || v < 0) throw new InputError(`class ${j}: invalid prior value ${v}`, where);
    sum += v;
  }
  if (!(sum > 0)) throw new InputError('all prior values are zero', where);
  return asKindOf(
    input,
    Float64Array.from({ length: classes }, (_, j) => prior[j] / sum),
  );
}
