import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/rng.js';
import { emPrior } from './em.js';

/** Exact Bayes posteriors of 1-D Gaussian classes under the training prior, for samples of a shifted prior. */
function shiftedSample(rng: Rng, n: number, trainPrior: number[], truePrior: number[]) {
  const means = [-2, 0, 2];
  const data = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    let r = rng.next();
    let y = 0;
    while (y < 2 && r >= truePrior[y]) r -= truePrior[y++];
    const x = means[y] + rng.normal();
    const lik = means.map((m, j) => Math.exp(-0.5 * (x - m) ** 2) * trainPrior[j]);
    const s = lik.reduce((a, b) => a + b, 0);
    lik.forEach((v, j) => (data[i * 3 + j] = v / s));
  }
  return { data, rows: n, cols: 3 };
}

test('EM recovers a known shifted prior from unlabeled posteriors', () => {
  const train = [1 / 3, 1 / 3, 1 / 3];
  const truth = [0.6, 0.3, 0.1];
  const r = emPrior(shiftedSample(new Rng(1), 20000, train, truth), train);
  assert.ok(r.converged);
  // Sampling error of a proportion over 20,000 draws is < 0.004; 0.02 leaves room for EM's own bias.
  truth.forEach((p, j) => assert.ok(Math.abs(r.prior[j] - p) < 0.02, `class ${j}: ${r.prior[j]} vs ${p}`));
  const naive = [0, 1, 2].map((j) => {
    let s = 0;
    for (let i = 0; i < 20000; i++) s += r.probs.data[i * 3 + j];
    return s / 20000;
  });
  naive.forEach((p, j) =>
    assert.ok(Math.abs(p - r.prior[j]) < 1e-6, 'the fixed point: prior = mean posterior'),
  );
});

test('EM leaves the prior unchanged when there is no shift', () => {
  const train = [0.5, 0.3, 0.2];
  const r = emPrior(shiftedSample(new Rng(2), 20000, train, train), train);
  train.forEach((p, j) => assert.ok(Math.abs(r.prior[j] - p) < 0.02));
});
