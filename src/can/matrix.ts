/** Row-major probability matrices, their validation and the accuracy measures CAN is judged by. */
import { InputError } from '../io/errors.js';
import { toMatrix, toVector, type MatrixInput, type VectorInput } from '../util/inputs.js';

/** A row-major matrix: `data[i * cols + j]` is row i, column j (a row per example, a column per class). */
export interface ProbMatrix {
  data: Float64Array | Float32Array;
  rows: number;
  cols: number;
}

/** Checks shape, finiteness and non-negativity; `where` names the source in the error. */
export function checkProbMatrix(m: ProbMatrix, where = 'probabilities', sumTolerance?: number): void {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 0 || m.cols < 0) {
    throw new InputError(`invalid shape [${m.rows}, ${m.cols}]`, where);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new InputError(
      `has ${m.data.length} values, shape [${m.rows}, ${m.cols}] needs ${m.rows * m.cols}`,
      where,
    );
  }
  if (m.cols < 2) throw new InputError(`needs at least 2 classes, got ${m.cols}`, where);
  for (let i = 0; i < m.rows; i++) {
    let sum = 0;
    for (let j = 0; j < m.cols; j++) {
      const v = m.data[i * m.cols + j];
      if (!Number.isFinite(v)) throw new InputError(`row ${i + 1}, class ${j}: value is ${v}`, where);
      if (v < 0) throw new InputError(`row ${i + 1}, class ${j}: negative probability ${v}`, where);
      sum += v;
    }
    if (sumTolerance !== undefined && Math.abs(sum - 1) > sumTolerance) {
      throw new InputError(
        `row ${i + 1} sums to ${sum.toPrecision(6)}, not 1 within ${sumTolerance} (if these are logits, pass { fromLogits: true }, or --logits on the command line)`,
        where,
      );
    }
  }
}

/** Shape, at least 2 classes and finite values (for logits, which may be negative and sum to anything). */
export function checkProbMatrixShape(m: ProbMatrix, where: string): void {
  if (m.data.length !== m.rows * m.cols)
    throw new InputError(
      `has ${m.data.length} values, shape [${m.rows}, ${m.cols}] needs ${m.rows * m.cols}`,
      where,
    );
  if (m.cols < 2) throw new InputError(`needs at least 2 classes, got ${m.cols}`, where);
  const bad = m.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new InputError(
      `row ${Math.floor(bad / m.cols) + 1}, class ${bad % m.cols}: value is ${m.data[bad]}`,
      where,
    );
}

/** Labels are integers in 0..classes-1, one per row; errors name `where` and the 1-based row. */
export function checkLabels(
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
  where = 'labels',
): void {
  if (labels.length !== rows) throw new InputError(`${labels.length} labels for ${rows} rows`, where);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      throw new InputError(`label ${y} out of range 0..${classes - 1}`, where, i + 1);
    }
  }
}

/** Index of the largest value of row i (the first one on ties). */
export function argmaxRow(m: ProbMatrix, i: number): number {
  let best = 0;
  let bestV = -Infinity;
  for (let j = 0; j < m.cols; j++) {
    const v = m.data[i * m.cols + j];
    if (v > bestV) {
      bestV = v;
      best = j;
    }
  }
  return best;
}

/**
 * Fraction of rows (optionally only those with `mask[i] === want`) whose argmax is the label. `probs`
 * is a 2-D tensor, `number[][]` or `{ data, rows, cols }`; labels a 1-D tensor or array.
 *
 * @example
 * accuracy([[0.9, 0.1], [0.2, 0.8]], [0, 0]); // 0.5
 */
export function accuracy(
  probs: MatrixInput,
  labels: VectorInput,
  mask?: ArrayLike<number>,
  want = 1,
): number {
  const m = toMatrix(probs, 'probs').m;
  labels = toVector(labels, 'labels');
  checkLabels(labels, m.rows, m.cols, 'labels');
  if (mask !== undefined && mask.length !== m.rows)
    throw new InputError(`has ${mask.length} entries for ${m.rows} rows`, 'mask');
  let hit = 0;
  let n = 0;
  for (let i = 0; i < m.rows; i++) {
    if (mask && mask[i] !== want) continue;
    n++;
    if (argmaxRow(m, i) === labels[i]) hit++;
  }
  return n === 0 ? NaN : hit / n;
}

/**
 * Fraction of rows whose label is among the k largest values (ties broken towards lower index); NaN for
 * no rows. Inputs as for `accuracy`.
 *
 * @example
 * topkAccuracy([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]], [1, 0], 2); // 0.5 (label 1 is 2nd, label 0 is 3rd)
 */
export function topkAccuracy(probs: MatrixInput, labels: VectorInput, k: number): number {
  const m = toMatrix(probs, 'probs').m;
  labels = toVector(labels, 'labels');
  checkLabels(labels, m.rows, m.cols, 'labels');
  if (!Number.isInteger(k) || k < 1) throw new InputError(`must be a positive integer, got ${k}`, 'k');
  let hit = 0;
  for (let i = 0; i < m.rows; i++) {
    const y = labels[i];
    const py = m.data[i * m.cols + y];
    let rank = 0;
    for (let j = 0; j < m.cols; j++) {
      const v = m.data[i * m.cols + j];
      if (v > py || (v === py && j < y)) rank++;
    }
    if (rank < k) hit++;
  }
  return m.rows === 0 ? NaN : hit / m.rows;
}

/** Row-wise softmax of logits, in float64. */
export function softmaxRows(m: ProbMatrix): ProbMatrix {
  const out = new Float64Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.cols;
    let max = -Infinity;
    for (let j = 0; j < m.cols; j++) max = Math.max(max, m.data[o + j]);
    let sum = 0;
    for (let j = 0; j < m.cols; j++) sum += out[o + j] = Math.exp(m.data[o + j] - max);
    for (let j = 0; j < m.cols; j++) out[o + j] /= sum;
  }
  return { data: out, rows: m.rows, cols: m.cols };
}
