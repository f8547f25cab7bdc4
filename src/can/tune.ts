/**
 * Honest tuning of CAN's settings: a grid search on a validation split the caller provides (never the
 * test labels). The confident rows of the validation set serve as the reference matrix, as they would
 * at deployment.
 */
import { InputError } from '../io/errors.js';
import { can, canAsync, CAN_DEFAULTS, CAN_ROW_SUM_TOLERANCE, type CanOptions } from './can.js';
import {
  toMatrix,
  toMatrixAsync,
  toVector,
  toVectorAsync,
  type MatrixInput,
  type VectorInput,
} from '../util/inputs.js';
import { accuracy, checkLabels, checkProbMatrix, softmaxRows, type ProbMatrix } from './matrix.js';

/** The values `canTune` tries for each of CAN's settings; a missing key uses `DEFAULT_GRID`'s. */
export interface CanGrid {
  topk?: number[];
  threshold?: number[];
  alpha?: number[];
  iters?: number[];
}

/** `canTune`'s result: the chosen settings and validation accuracy with and without them. */
export interface CanTuneResult {
  /** The best settings on the validation split (the defaults when nothing beats them). */
  options: Required<CanOptions>;
  accuracyBefore: number;
  accuracyAfter: number;
  /** accuracyAfter − accuracyBefore on the validation split. */
  gain: number;
  /** False when no setting improved validation accuracy: then CAN should not be applied. */
  apply: boolean;
  /** Number of settings evaluated. */
  tried: number;
}

/** The grid `canTune` searches by default (4 · 7 · 4 · 3 = 336 settings when every topk fits). */
export const DEFAULT_GRID: Required<CanGrid> = {
  topk: [2, 3, 5, 10],
  threshold: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
  alpha: [0.5, 1, 2, 3],
  iters: [1, 2, 3],
};

/** How `canTune` reads its validation probabilities. */
export interface CanTuneOptions {
  /** The validation matrix holds logits: apply a row softmax first (as `can`'s `fromLogits`). */
  fromLogits?: boolean;
  /** Called after each setting of the grid is scored, with (settings done, settings in the grid). */
  onProgress?: (done: number, total: number) => void;
}

/** The grid's settings in search order, after checking the grid. */
function gridSettings(grid: CanGrid, cols: number): Required<CanOptions>[] {
  if (grid === null || typeof grid !== 'object') throw new InputError('must be an object of arrays', 'grid');
  const g = { ...DEFAULT_GRID, ...grid };
  for (const [key, values] of Object.entries(g)) {
    if (!(key in DEFAULT_GRID))
      throw new InputError(`unknown key '${key}' (allowed: topk, threshold, alpha, iters)`, 'grid');
    if (!Array.isArray(values) || values.length === 0)
      throw new InputError(`${key} must be a non-empty array of numbers`, 'grid');
  }
  const out: Required<CanOptions>[] = [];
  for (const iters of g.iters)
    for (const topk of g.topk.filter((k) => k >= 2 && k <= cols))
      for (const alpha of g.alpha)
        for (const threshold of g.threshold) out.push({ topk, threshold, alpha, iters });
  if (out.length === 0)
    throw new InputError(`no topk in [${g.topk}] fits ${cols} classes (2..${cols})`, 'grid');
  return out;
}

/** Validation matrix (softmaxed if asked) checked as probabilities, and labels checked against it. */
function prepare(m: ProbMatrix, labels: ArrayLike<number>, fromLogits: boolean | undefined): ProbMatrix {
  const val = fromLogits ? softmaxRows(m) : m;
  checkProbMatrix(val, 'val', CAN_ROW_SUM_TOLERANCE);
  checkLabels(labels, val.rows, val.cols, 'labels');
  return val;
}

function summarize(
  before: number,
  best: { options: Required<CanOptions>; acc: number },
  tried: number,
): CanTuneResult {
  const apply = best.acc > before;
  return {
    options: apply ? best.options : { ...CAN_DEFAULTS },
    accuracyBefore: before,
    accuracyAfter: apply ? best.acc : before,
    gain: apply ? best.acc - before : 0,
    apply,
    tried,
  };
}

/**
 * Grid search over (topk, threshold, alpha, iters). Ties go to the setting met first in grid order,
 * which puts fewer iterations and smaller k first: the simplest setting that does as well.
 * `val` is a 2-D tensor, `number[][]` or `{ data, rows, cols }`; `labels` and `prior` are 1-D tensors
 * or arrays. On webgl/webgpu prefer `canTuneAsync`.
 *
 * @example
 * const tuned = canTune(probs, labels, prior); // a validation split's predictions and labels
 * const test = model.predict(x) as tf.Tensor2D;
 * const adjusted = tuned.apply ? can(test, prior, tuned.options).probs : test;
 */
export function canTune(
  val: MatrixInput,
  labels: VectorInput,
  prior: VectorInput,
  grid: CanGrid = {},
  opts: CanTuneOptions = {},
): CanTuneResult {
  const y = toVector(labels, 'labels');
  const v = prepare(toMatrix(val, 'val').m, y, opts.fromLogits);
  const pi = toVector(prior, 'prior');
  const settings = gridSettings(grid, v.cols);
  let best = { options: { ...CAN_DEFAULTS }, acc: -Infinity };
  settings.forEach((options, i) => {
    const acc = accuracy(can(v, pi, options).probs, y);
    if (acc > best.acc) best = { options, acc };
    opts.onProgress?.(i + 1, settings.length);
  });
  return summarize(accuracy(v, y), best, settings.length);
}

/**
 * `canTune` without synchronous GPU read-backs; same arguments and result.
 *
 * @example
 * const tuned = await canTuneAsync(probs, labels, prior, { iters: [1], alpha: [1] });
 * console.log(tuned.apply, tuned.gain, tuned.options); // e.g. true 0.012 { topk: 3, threshold: 0.9, ... }
 */
export async function canTuneAsync(
  val: MatrixInput,
  labels: VectorInput,
  prior: VectorInput,
  grid: CanGrid = {},
  opts: CanTuneOptions = {},
): Promise<CanTuneResult> {
  const y = await toVectorAsync(labels, 'labels');
  const v = prepare((await toMatrixAsync(val, 'val')).m, y, opts.fromLogits);
  const pi = await toVectorAsync(prior, 'prior');
  const settings = gridSettings(grid, v.cols);
  let best = { options: { ...CAN_DEFAULTS }, acc: -Infinity };
  for (const [i, options] of settings.entries()) {
    const acc = accuracy((await canAsync(v, pi, options)).probs, y);
    if (acc > best.acc) best = { options, acc };
    opts.onProgress?.(i + 1, settings.length);
  }
  return summarize(accuracy(v, y), best, settings.length);
}
