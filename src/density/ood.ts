/**
 * Out-of-distribution scores. Nalisnick et al. (2019) found that likelihood models can give an unseen
 * data set *higher* likelihood than their own test set (e.g. trained on Fashion-MNIST, MNIST looks more
 * likely); Ren et al. (2019) correct for population-level background statistics with a likelihood ratio
 * log p_model(x) − log p_background(x), the background model trained on perturbed inputs.
 */

/**
 * Area under the ROC curve for separating `inDist` from `outDist` by a score where higher means
 * "in-distribution": P(s_in > s_out) + ½ P(tie), computed by ranking (O(n log n)). 0.5 = chance;
 * below 0.5 the out-of-distribution set scores higher.
 */
export function auroc(inDist: ArrayLike<number>, outDist: ArrayLike<number>): number {
  const nIn = inDist.length;
  const nOut = outDist.length;
  if (nIn === 0 || nOut === 0) throw new Error('auroc needs scores for both sets');
  const all = [
    ...Array.from(inDist, (v) => ({ v, pos: true })),
    ...Array.from(outDist, (v) => ({ v, pos: false })),
  ];
  if (all.some((a) => Number.isNaN(a.v))) throw new Error('auroc: a score is NaN');
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

/** Element-wise log p_model(x) − log p_background(x). */
export function likelihoodRatio(model: ArrayLike<number>, background: ArrayLike<number>): Float64Array {
  if (model.length !== background.length)
    throw new Error(`score lengths differ: ${model.length} vs ${background.length}`);
  return Float64Array.from(model, (v, i) => v - background[i]);
}
