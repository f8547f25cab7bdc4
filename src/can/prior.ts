/** Label priors for CAN: class frequencies of training labels, uniform, or a given vector. */
import { InputError } from '../io/errors.js';

/**
 * Class frequencies of `labels` (integers in 0..classes-1), as a distribution; classes that never occur
 * get 0.
 *
 * @example
 * priorFromLabels([0, 1, 1, 2], 3); // Float64Array [0.25, 0.5, 0.25]
 */
export function priorFromLabels(labels: ArrayLike<number>, classes: number): Float64Array {
  const counts = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      throw new InputError(`label ${y} out of range 0..${classes - 1}`, 'labels', i + 1);
    }
    counts[y]++;
  }
  if (labels.length === 0) throw new InputError('no labels to estimate a prior from', 'labels');
  return counts.map((c) => c / labels.length);
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
 * throws an `InputError` naming `where` otherwise.
 *
 * @example
 * normalizePrior([2, 1, 1], 3); // Float64Array [0.5, 0.25, 0.25]
 */
export function normalizePrior(prior: ArrayLike<number>, classes: number, where = 'prior'): Float64Array {
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
  return Float64Array.from({ length: classes }, (_, j) => prior[j] / sum);
}
