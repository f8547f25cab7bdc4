/**
 * Calibration of a classifier's probabilities: expected calibration error (ECE) over equal-width
 * confidence bins (Naeini et al., AAAI 2015; Guo et al., "On Calibration of Modern Neural Networks",
 * ICML 2017, whose 15 bins are the default). CAN trusts the confident rows and corrects the
 * uncertain ones against them, so how well the confidences match accuracies says whether it can help.
 */
import { InputError } from '../io/errors.js';
import { toMatrix, toVector, type MatrixInput, type VectorInput } from '../util/inputs.js';
import { argmaxRow, checkLabels } from './matrix.js';

/** One confidence bin of `calibration`: rows whose top probability lies in (lower, upper]. */
export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean top probability of the bin's rows (NaN when empty). */
  confidence: number;
  /** Fraction of the bin's rows whose top class is the label (NaN when empty). */
  accuracy: number;
}

/** What `calibration` returns: the errors and the bins (a reliability diagram's data). */
export interface CalibrationResult {
  /** Σ_b (n_b / n) · |accuracy_b − confidence_b|: the expected calibration error, a fraction. */
  ece: number;
  /** The largest |accuracy_b − confidence_b| over non-empty bins (maximum calibration error). */
  mce: number;
  /** Mean top probability minus accuracy over all rows: > 0 is over-confident. */
  overconfidence: number;
  bins: CalibrationBin[];
}

/**
 * Expected and maximum calibration error of `probs` (rows are examples; a 2-D tensor, `number[][]` or
 * `{ data, rows, cols }`) against integer `labels`, with the top probability of each row as its
 * confidence, in `bins` equal-width bins over [0, 1] (default 15). Errors are fractions, not percent.
 *
 * @example
 * // Both rows right at confidences 0.8 and 0.9: under-confident, so overconfidence is −0.15.
 * const c = calibration([[0.8, 0.2], [0.1, 0.9]], [0, 1], { bins: 10 });
 * c.ece; // (0.2 + 0.1) / 2 = 0.15
 */
export function calibration(
  probs: MatrixInput,
  labels: VectorInput,
  opts: { bins?: number } = {},
): CalibrationResult {
  const m = toMatrix(probs, 'probs').m;
  const y = toVector(labels, 'labels');
  checkLabels(y, m.rows, m.cols, 'labels');
  const nBins = opts.bins ?? 15;
  if (!Number.isInteger(nBins) || nBins < 1)
    throw new InputError(`must be a positive integer, got ${nBins}`, 'bins');
  if (m.rows === 0) throw new InputError('has no rows: calibration needs at least one', 'probs');
  const count = new Float64Array(nBins);
  const conf = new Float64Array(nBins);
  const hit = new Float64Array(nBins);
  for (let i = 0; i < m.rows; i++) {
    const top = argmaxRow(m, i);
    const p = m.data[i * m.cols + top];
    if (!(p >= 0 && p <= 1))
      throw new InputError(`row ${i + 1}: top probability ${p} is outside [0, 1]`, 'probs');
    // Bins are (lower, upper]; a confidence of exactly 0 goes to the first.
    const b = Math.min(nBins - 1, Math.max(0, Math.ceil(p * nBins) - 1));
    count[b]++;
    conf[b] += p;
    if (top === y[i]) hit[b]++;
  }
  let ece = 0;
  let mce = 0;
  let confSum = 0;
  let hitSum = 0;
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < nBins; b++) {
    const n = count[b];
    const bin = {
      lower: b / nBins,
      upper: (b + 1) / nBins,
      count: n,
      confidence: n ? conf[b] / n : NaN,
      accuracy: n ? hit[b] / n : NaN,
    };
    bins.push(bin);
    confSum += conf[b];
    hitSum += hit[b];
    if (!n) continue;
    const gap = Math.abs(bin.accuracy - bin.confidence);
    ece += (n / m.rows) * gap;
    mce = Math.max(mce, gap);
  }
  return { ece, mce, overconfidence: (confSum - hitSum) / m.rows, bins };
}
