/**
 * Honest tuning of CAN's settings: a grid search on a validation split the caller provides (never the
 * test labels). The confident rows of the validation set serve as the reference matrix, as they would
 * at deployment.
 */
import { can, CAN_DEFAULTS, type CanOptions } from './can.js';
import { accuracy, checkLabels, type ProbMatrix } from './matrix.js';

export interface CanGrid {
  topk?: number[];
  threshold?: number[];
  alpha?: number[];
  iters?: number[];
}

export interface CanTuneResult {
  /** The best settings on the validation split (the defaults when nothing beats them). */
  options: Required<CanOptions>;
  accuracyBefore: number;
  accuracyAfter: number;
  /** accuracyAfter − accuracyBefore on the validation split. */
  gain: number;
  /** False when no setting improved validation accuracy: then CAN should not be applied. */
  apply: boolean;
  tried: number;
}

export const DEFAULT_GRID: Required<CanGrid> = {
  topk: [2, 3, 5, 10],
  threshold: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
  alpha: [0.5, 1, 2, 3],
  iters: [1, 2, 3],
};

/**
 * Grid search over (topk, threshold, alpha, iters). Ties go to the setting met first in grid order,
 * which puts fewer iterations and smaller k first: the simplest setting that does as well.
 */
export function canTune(
  val: ProbMatrix,
  labels: ArrayLike<number>,
  prior: ArrayLike<number>,
  grid: CanGrid = {},
): CanTuneResult {
  checkLabels(labels, val.rows, val.cols, 'validation labels');
  const g = { ...DEFAULT_GRID, ...grid };
  const before = accuracy(val, labels);
  let best = { options: { ...CAN_DEFAULTS }, acc: -Infinity };
  let tried = 0;
  for (const iters of g.iters)
    for (const topk of g.topk.filter((k) => k >= 2 && k <= val.cols))
      for (const alpha of g.alpha)
        for (const threshold of g.threshold) {
          const options = { topk, threshold, alpha, iters };
          const acc = accuracy(can(val, prior, options), labels);
          tried++;
          if (acc > best.acc) best = { options, acc };
        }
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
