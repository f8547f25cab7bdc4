import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageRanks, pearson, spearman } from './spearman.js';
import { Rng } from '../util/rng.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('average ranks: ties share the mean of the ranks they span', () => {
  assert.deepEqual(Array.from(averageRanks([10, 20, 20, 5, 20])), [2, 4, 4, 1, 4]);
  assert.deepEqual(Array.from(averageRanks([3, 1, 2])), [3, 1, 2]);
  assert.deepEqual(Array.from(averageRanks([7, 7])), [1.5, 1.5]);
});

test('known values', () => {
  // Wikipedia's IQ vs hours-of-TV example: ρ = 1 − 6·194/(10·99) = −29/165 (no ties).
  const iq = [106, 86, 100, 101, 99, 103, 97, 113, 112, 110];
  const tv = [7, 0, 27, 50, 28, 29, 20, 12, 6, 17];
  close(spearman(iq, tv), -29 / 165);
  // Monotone but non-linear: exactly ±1.
  close(spearman([1, 2, 3, 4], [1, 8, 27, 64]), 1);
  close(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
});

test('with ties (hand-computed, and the value scipy.stats.spearmanr gives)', () => {
  // x ranks [1, 2.5, 2.5, 4], y ranks [1, 3, 2, 4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 → 4.5/√22.5.
  close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4.5 / Math.sqrt(22.5));
  // y ranks [1, 2, 3.5, 5, 3.5]; Pearson of ranks computed with NumPy: 0.8207826816681234.
  close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 0.8207826816681234);
});

test('invariant to monotone transforms; pearson of ranks equals 1 − 6Σd²/(n(n²−1)) without ties', () => {
  const rng = new Rng(4);
  const x = Array.from({ length: 50 }, () => rng.normal());
  const y = x.map((v) => v + rng.normal());
  close(
    spearman(x, y),
    spearman(
      x.map(Math.exp),
      y.map((v) => v ** 3),
    ),
    1e-12,
  );
  const rx = averageRanks(x);
  const ry = averageRanks(y);
  let d2 = 0;
  for (let i = 0; i < 50; i++) d2 += (rx[i] - ry[i]) ** 2;
  close(spearman(x, y), 1 - (6 * d2) / (50 * (50 * 50 - 1)), 1e-12);
  close(pearson(rx, ry), spearman(x, y));
});

test('undefined or bad input', () => {
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  assert.throws(() => spearman([1, 2], [1]), /lengths differ/);
  assert.throws(() => spearman([1], [1]), /at least 2/);
  assert.throws(() => spearman([1, NaN], [1, 2]), /x: value 1 is NaN/);
});
