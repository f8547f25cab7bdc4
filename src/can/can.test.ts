import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { can, priorFromLabels, uncertainties } from './index.js';
import { directCan, maxAbsDiff, randomProbs } from './reference.test-util.js';

await initBackend({ quiet: true });

const skewed = (rng: Rng, k: number) => {
  const p = Array.from({ length: k }, () => Math.exp(2 * rng.normal()));
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / s);
};

// iters = 1 runs in float64: 1e-12. iters > 1 uses float32 matrix products: the 1e-6 bound.
const cases = [
  { rows: 40, cols: 5, topk: 3, threshold: 0.9, alpha: 1, iters: 1, tol: 1e-12 },
  { rows: 200, cols: 17, topk: 5, threshold: 0.7, alpha: 2, iters: 1, tol: 1e-12 },
  { rows: 150, cols: 10, topk: 2, threshold: 0.6, alpha: 0.5, iters: 1, tol: 1e-12 },
  { rows: 120, cols: 8, topk: 3, threshold: 0.8, alpha: 1, iters: 3, tol: 1e-6 },
  { rows: 300, cols: 30, topk: 4, threshold: 0.75, alpha: 1.5, iters: 2, tol: 1e-6 },
  { rows: 100, cols: 12, topk: 3, threshold: 0.6, alpha: 0.7, iters: 5, tol: 1e-6 },
];

for (const c of cases) {
  test(`can equals the direct per-row algorithm: ${JSON.stringify(c)}`, () => {
    const rng = new Rng(c.rows * 31 + c.cols);
    const p = randomProbs(rng, c.rows, c.cols);
    const prior = skewed(rng, c.cols);
    const { topk, threshold, alpha, iters } = c;
    const r = can(p, prior, { topk, threshold, alpha, iters });
    const ref = directCan(p, prior, c.topk, c.threshold, c.alpha, c.iters);
    const uncertain = r.adjusted.reduce((a, b) => a + b, 0);
    assert.ok(uncertain > 0 && uncertain < c.rows, `both kinds of rows present (${uncertain}/${c.rows})`);
    assert.ok(
      maxAbsDiff(r.probs.data, ref) <= c.tol,
      `max abs diff ${maxAbsDiff(r.probs.data, ref)} > ${c.tol}`,
    );
  });
}

test('confident rows are never modified and adjusted rows sum to 1', () => {
  const p = randomProbs(new Rng(7), 300, 9);
  const r = can(p, priorFromLabels([0, 1, 2, 3, 4, 5, 6, 7, 8, 8], 9), {
    threshold: 0.8,
    iters: 2,
    alpha: 2,
  });
  for (let i = 0; i < p.rows; i++) {
    const row = r.probs.data.subarray(i * 9, i * 9 + 9);
    if (!r.adjusted[i]) assert.deepEqual(Array.from(row), Array.from(p.data.subarray(i * 9, i * 9 + 9)));
    else assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  }
});

test('uncertainty is 0 for a one-hot top-k and 1 for a flat top-k', () => {
  const u = uncertainties({ data: new Float64Array([1, 0, 0, 0, 0.3, 0.3, 0.3, 0.1]), rows: 2, cols: 4 }, 3);
  assert.equal(u[0], 0);
  assert.ok(Math.abs(u[1] - 1) < 1e-12);
});

test('uncertain rows are adjusted independently: row order and other uncertain rows do not matter', () => {
  const p = randomProbs(new Rng(11), 80, 6);
  const prior = [0.3, 0.1, 0.2, 0.1, 0.2, 0.1];
  const full = can(p, prior, { threshold: 0.7, iters: 3 });
  const u = full.adjusted.indexOf(1);
  const confidentOnly = Array.from({ length: p.rows }, (_, i) => i).filter(
    (i) => !full.adjusted[i] || i === u,
  );
  const sub = {
    data: new Float64Array(confidentOnly.flatMap((i) => Array.from(p.data.subarray(i * 6, i * 6 + 6)))),
    rows: confidentOnly.length,
    cols: 6,
  };
  const alone = can(sub, prior, { threshold: 0.7, iters: 3 });
  const pos = confidentOnly.indexOf(u);
  assert.ok(
    maxAbsDiff(alone.probs.data.subarray(pos * 6, pos * 6 + 6), full.probs.data.subarray(u * 6, u * 6 + 6)) <
      1e-6,
  );
});

test('the prior only matters up to scale, and a uniform prior with no confident rows leaves a flat prior', () => {
  const p = randomProbs(new Rng(3), 60, 5);
  const a = can(p, [1, 2, 3, 4, 5], { threshold: 0.8 });
  const b = can(p, [10, 20, 30, 40, 50], { threshold: 0.8 });
  assert.ok(maxAbsDiff(a.probs.data, b.probs.data) < 1e-15);
  const flat = { data: new Float64Array([0.34, 0.33, 0.33]), rows: 1, cols: 3 };
  const r = can(flat, [0.5, 0.25, 0.25], { threshold: 0.5 });
  assert.ok(maxAbsDiff(r.probs.data, [0.5, 0.25, 0.25]) < 1e-12, 'alone, the row becomes the prior');
});

test('tensor in, tensor out, no tensors leaked', () => {
  const p = randomProbs(new Rng(5), 50, 4);
  const before = tf.memory().numTensors;
  const t = tf.tensor2d(Float32Array.from(p.data), [50, 4]);
  const r = can(t, [0.25, 0.25, 0.25, 0.25], { threshold: 0.8, iters: 2 });
  assert.deepEqual(r.probs.shape, [50, 4]);
  assert.equal(r.adjusted.dtype, 'bool');
  tf.dispose([t, r.probs, r.adjusted, r.uncertainty]);
  can(p, [1, 1, 1, 1], { threshold: 0.5, iters: 3 });
  assert.equal(tf.memory().numTensors, before);
});

test('bad input is rejected with a clear message', () => {
  const p = { data: new Float64Array([0.5, 0.5, 0.2, 0.8]), rows: 2, cols: 2 };
  assert.throws(() => can(p, [1, 1, 1], { topk: 2 }), /3 classes, the probabilities have 2/);
  assert.throws(() => can(p, [1, 1], { topk: 3 }), /topk/);
  assert.throws(
    () => can({ ...p, data: new Float64Array([0.5, NaN, 0.2, 0.8]) }, [1, 1], { topk: 2 }),
    /NaN/,
  );
  assert.throws(
    () => can({ ...p, data: new Float64Array([1.5, -0.5, 0.2, 0.8]) }, [1, 1], { topk: 2 }),
    /negative/,
  );
  assert.throws(() => can({ data: new Float64Array([1, 1]), rows: 2, cols: 1 }, [1]), /at least 2 classes/);
});

test('bad inputs are errors, never a silently wrong answer; topk defaults to min(3, classes)', () => {
  // Rows that are not probabilities (here: scores) would come back unnormalised.
  assert.throws(
    () => can({ data: Float64Array.of(2, 1, 0, 0.2, 0.3, 0.5), rows: 2, cols: 3 }, [1, 1, 1]),
    /row 1 sums to 3/,
  );
  assert.throws(
    () => can({ data: Float64Array.of(0.5, 0.5, 0.2, 0.8), rows: 2, cols: 2 }, [1, 1], { iters: 1e9 }),
    /iters must be an integer from 1 to 100/,
  );
  // Two classes: the default top-k is 2, not an error.
  const r = can({ data: Float64Array.of(0.5, 0.5, 0.99, 0.01), rows: 2, cols: 2 }, [0.9, 0.1]);
  assert.deepEqual(Array.from(r.adjusted), [1, 0]);
  assert.ok(r.probs.data[0] > 0.5, 'the prior favours class 0');
});

test('can reports progress over the uncertain rows (iterated and one-step) and rejects a non-function', () => {
  const rows = Array.from({ length: 50 }, (_, i) => (i % 2 ? [0.34, 0.33, 0.33] : [0.9, 0.05, 0.05]));
  for (const iters of [1, 3]) {
    const calls: [number, number][] = [];
    const r = can(rows, [0.2, 0.5, 0.3], { iters, onProgress: (d, t) => calls.push([d, t]) });
    const uncertain = r.adjusted.filter(Boolean).length;
    assert.equal(uncertain, 25);
    assert.deepEqual(calls[calls.length - 1], [uncertain, uncertain]);
    assert.ok(
      calls.every(([d], i) => i === 0 || d > calls[i - 1][0]),
      'monotone',
    );
  }
  assert.throws(
    () => can(rows, [0.2, 0.5, 0.3], { onProgress: 1 as unknown as () => void }),
    /onProgress must be a function/,
  );
});
