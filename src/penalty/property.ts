/**
 * Random cases for the inequality's property check (test, CLI and experiment share them): MLPs of
 * depth 1–8 (number of weight layers), hidden widths 1–64, input sizes 1–64, one hidden activation
 * per MLP among relu/tanh/gelu/linear, output linear or the same activation, weight scales
 * log-uniform in [0.2, 5]·1/√fan_in, and in 30% of cases weights trained for a few steps on a random
 * regression task. The input is a Gaussian point with a log-uniform scale in [0.1, 10].
 */
import {
  ACTIVATIONS,
  randomMlp,
  trainMlp,
  gradientPenaltyInequality,
  type Activation,
  type Mlp,
} from './inequality.js';
import { Rng, rngOf, type Seed } from '../util/rng.js';

export interface InequalityCase {
  mlp: Mlp;
  x: Float64Array;
  depth: number;
  activation: Activation;
  trained: boolean;
}

function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo)));
}

function gaussian(rng: Rng, d: number, scale: number): Float64Array {
  return Float64Array.from({ length: d }, () => rng.normal() * scale);
}

export function randomInequalityCase(seed: Seed, maxDepth = 8, maxWidth = 64): InequalityCase {
  const rng = rngOf(seed, 'rng');
  const depth = 1 + rng.int(maxDepth);
  const inputDim = 1 + rng.int(maxWidth);
  const widths = Array.from({ length: depth - 1 }, () => 1 + rng.int(maxWidth));
  const activation = ACTIVATIONS[rng.int(ACTIVATIONS.length)];
  const mlp = randomMlp(rng, {
    inputDim,
    widths,
    activation,
    outputActivation: rng.next() < 0.5 ? 'linear' : activation,
    weightScale: logUniform(rng, 0.2, 5),
    biasScale: rng.next() * 0.5,
  });
  const trained = rng.next() < 0.3;
  if (trained) {
    const xs = Array.from({ length: 6 }, () => gaussian(rng, inputDim, 1));
    const ys = xs.map(() => rng.normal());
    trainMlp(mlp, xs, ys, 6, 0.3);
  }
  return { mlp, x: gaussian(rng, inputDim, logUniform(rng, 0.1, 10)), depth, activation, trained };
}

/** `inequalitySurvey`'s summary of right/left over random cases. */
export interface RatioSummary {
  cases: number;
  /** Cases with left side 0 (∇ₓf = 0, e.g. dead ReLUs): the inequality holds trivially. */
  zeroLeft: number;
  /** Cases with right < left·(1 − tol): violations. */
  violations: number;
  /** Quantiles of right/left over cases with left > 0. */
  quantiles: { q: number; ratio: number }[];
  /** Median ratio by depth. */
  medianByDepth: { depth: number; cases: number; median: number }[];
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Runs `count` random cases (see the file header) from `seed` (a number or a kexue `Rng`) and summarises
 * right/left; `tol` is the relative slack before a case counts as a violation; `onProgress` gets
 * (cases done, count).
 *
 * @example
 * const s = inequalitySurvey(0, 500);
 * s.violations; // 0: the inequality held in every case
 * s.quantiles.find((q) => q.q === 0.5)?.ratio; // the median of right/left (≥ 1)
 */
export function inequalitySurvey(
  seed: Seed,
  count: number,
  tol = 1e-9,
  onProgress?: (done: number, total: number) => void,
): RatioSummary {
  const rng = rngOf(seed, 'rng');
  const ratios: number[] = [];
  const byDepth = new Map<number, number[]>();
  let zeroLeft = 0;
  let violations = 0;
  for (let i = 0; i < count; i++) {
    const c = randomInequalityCase(rng);
    const r = gradientPenaltyInequality(c.mlp, c.x);
    onProgress?.(i + 1, count);
    if (r.left === 0) {
      zeroLeft++;
      continue;
    }
    if (r.right < r.left * (1 - tol)) violations++;
    ratios.push(r.ratio);
    const list = byDepth.get(c.depth) ?? [];
    list.push(r.ratio);
    byDepth.set(c.depth, list);
  }
  ratios.sort((a, b) => a - b);
  return {
    cases: count,
    zeroLeft,
    violations,
    quantiles: [0, 0.01, 0.1, 0.5, 0.9, 0.99, 1].map((q) => ({ q, ratio: quantile(ratios, q) })),
    medianByDepth: [...byDepth.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([depth, list]) => ({
        depth,
        cases: list.length,
        median: quantile(
          list.sort((a, b) => a - b),
          0.5,
        ),
      })),
  };
}
