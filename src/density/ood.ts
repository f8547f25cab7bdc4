/**
 * Out-of-distribution scores. Nalisnick et al. (2019) found that likelihood models can give an unseen
 * data set *higher* likelihood than their own test set (e.g. trained on Fashion-MNIST, MNIST looks more
 * likely); Ren et al. (2019) correct for population-level background statistics with a likelihood ratio
 * log p_model(x) − log p_background(x), the background model trained on perturbed inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import { toVector, type VectorInput } from '../util/inputs.js';

/**
 * Area under the ROC curve for separating `inDist` from `outDist` by a score where higher means
 * "in-distribution": P(s_in > s_out) + ½ P(tie), computed by ranking (O(n log n)). 0.5 = chance;
 * below 0.5 the out-of-distribution set scores higher.
 *
 * @example
 * auroc([3, 2, 5], [1, 2, 0]); // → 0.944 (8.5 of 9 pairs ordered right, the tie counting ½)
 * auroc(tf.tensor1d([0.9, 0.8]), [0.1, 0.85]); // → 0.75
 */
export function auroc(inScores: VectorInput, outScores: VectorInput): number {
  const inDist = toVector(inScores, 'inDist');
  const outDist = toVector(outScores, 'outDist');
  const nIn = inDist.length;
  const nOut = outDist.length;
  if (nIn === 0) throw new InputError('no scores', 'inDist');
  if (nOut === 0) throw new InputError('no scores', 'outDist');
  for (const [name, a] of [
    ['inDist', inDist],
    ['outDist', outDist],
  ] as const)
    for (let i = 0; i < a.length; i++)
      if (Number.isNaN(a[i])) throw new InputError(`score ${i} is NaN`, name);
  const all = [
    ...Array.from(inDist, (v) => ({ v, pos: true })),
    ...Array.from(outDist, (v) => ({ v, pos: false })),
  ];
  all.sort((a, b) => a.v - b.v);
  // Mann-Whitney U with mid-ranks for ties.
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const mid = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (all[t].pos) rankSum += mid;
    i = j + 1;
  }
  return (rankSum - (nIn * (nIn + 1)) / 2) / (nIn * nOut);
}

/**
 * Element-wise log p_model(x) − log p_background(x): a new tensor for two tensors, else a Float64Array.
 * Use it as the OOD score (higher = in-distribution), e.g. with `auroc`.
 *
 * @example
 * likelihoodRatio([-80, -95], [-85, -90]); // → Float64Array [5, -5]
 * likelihoodRatio(tf.tensor1d([-80, -95]), tf.tensor1d([-85, -90])); // → tf.Tensor1D [5, -5]
 */
export function likelihoodRatio(model: tf.Tensor, background: tf.Tensor): tf.Tensor1D;
export function likelihoodRatio(model: ArrayLike<number>, background: ArrayLike<number>): Float64Array;
export function likelihoodRatio(model: VectorInput, background: VectorInput): tf.Tensor1D | Float64Array {
  if (model instanceof tf.Tensor && background instanceof tf.Tensor) {
    if (model.rank !== 1 || !tf.util.arraysEqual(model.shape, background.shape))
      throw new InputError(
        `needs two 1-D tensors of one shape, got [${model.shape}] and [${background.shape}]`,
        'likelihoodRatio',
      );
    return tf.sub(model, background) as tf.Tensor1D;
  }
  const m = toVector(model, 'model');
  const b = toVector(background, 'background');
  if (m.length !== b.length)
    throw new InputError(`score lengths differ: ${m.length} vs ${b.length}`, 'likelihoodRatio');
  return Float64Array.from(m, (v, i) => v - b[i]);
}
