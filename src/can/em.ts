/**
 * Label-shift adaptation: estimate the deployment prior from unlabeled predictions with the EM procedure
 * of Saerens, Latinne & Decaestecker, "Adjusting the outputs of a classifier to new a priori
 * probabilities: a simple procedure", Neural Computation 14(1), 2002.
 *
 *   E: p_new(y|x) ∝ p(y|x) · π_new(y) / π_train(y)      M: π_new(y) = mean over x of p_new(y|x)
 */
import { checkProbMatrix, type ProbMatrix } from './matrix.js';
import { normalizePrior } from './prior.js';

export interface EmPriorResult {
  prior: Float64Array;
  /** Posteriors re-weighted to the estimated prior. */
  probs: ProbMatrix;
  iterations: number;
  converged: boolean;
}

export function emPrior(
  probs: ProbMatrix,
  trainPrior: ArrayLike<number>,
  { maxIters = 1000, tol = 1e-8 }: { maxIters?: number; tol?: number } = {},
): EmPriorResult {
  checkProbMatrix(probs);
  const { rows, cols } = probs;
  const base = normalizePrior(trainPrior, cols, 'training prior');
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
