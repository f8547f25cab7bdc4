/**
 * Spearman rank correlation, the STS evaluation metric: Pearson correlation of the ranks, tied values
 * sharing the average of the ranks they span (scipy.stats.spearmanr's default). Computed in float64.
 */
import { InputError } from '../io/errors.js';
import { toVector, type VectorInput } from '../util/inputs.js';

/** 1-based ranks with ties given their average rank. */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && x[order[end]] === x[order[start]]) end++;
    // Positions start..end-1 (0-based) share ranks start+1..end: their mean is (start + 1 + end) / 2.
    const r = (start + 1 + end) / 2;
    for (let p = start; p < end; p++) ranks[order[p]] = r;
    start = end;
  }
  return ranks;
}

/**
 * Pearson correlation of two equally long sequences — 1-D tensors or arrays — of at least 2 finite
 * values (an `InputError` otherwise); NaN when either side is constant (the correlation is undefined).
 *
 * @example
 * pearson([1, 2, 3], [2, 4, 6]); // → 1
 * pearson([1, 2, 3], [1, 3, 2]); // → 0.5
 */
export function pearson(xs: VectorInput, ys: VectorInput): number {
  const [x, y] = checkPair(xs, ys, 'pearson');
  return pearsonOf(x, y);
}

/** Two equally long, finite sequences of at least 2 values, read from tensors or arrays. */
function checkPair(xs: VectorInput, ys: VectorInput, what: string): [ArrayLike<number>, ArrayLike<number>] {
  const x = toVector(xs, 'x');
  const y = toVector(ys, 'y');
  if (x.length !== y.length) throw new InputError(`lengths differ (${x.length} vs ${y.length})`, what);
  if (x.length < 2) throw new InputError('needs at least 2 values', what);
  for (const [name, a] of [
    ['x', x],
    ['y', y],
  ] as const) {
    for (let i = 0; i < a.length; i++)
      if (!Number.isFinite(a[i])) throw new InputError(`value ${i} is ${a[i]}`, name);
  }
  return [x, y];
}

function pearsonOf(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/**
 * Spearman's ρ of two equally long sequences — 1-D tensors or arrays — (average ranks for ties); NaN if
 * either is constant.
 *
 * @example
 * spearman([0.9, 0.1, 0.5, 0.7], [5, 0, 2, 3]); // → 1: the same order
 * spearman(tf.tensor1d([0.2, 0.4, 0.1]), [1, 2, 3]); // → -0.5
 */
export function spearman(xs: VectorInput, ys: VectorInput): number {
  const [x, y] = checkPair(xs, ys, 'spearman');
  return pearsonOf(averageRanks(x), averageRanks(y));
}
