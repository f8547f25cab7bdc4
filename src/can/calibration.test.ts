import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { calibration } from './calibration.js';

await initBackend({ quiet: true });

/** The textbook definition, written out independently: bin by ⌈p·B⌉, weight gaps by bin share. */
function referenceEce(rows: number[][], labels: number[], bins: number): number {
  const groups = Array.from({ length: bins }, () => ({ n: 0, conf: 0, hit: 0 }));
  rows.forEach((r, i) => {
    const p = Math.max(...r);
    const top = r.indexOf(p);
    const g = groups[Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1))];
    g.n++;
    g.conf += p;
    g.hit += top === labels[i] ? 1 : 0;
  });
  return groups.reduce(
    (e, g) => (g.n ? e + (g.n / rows.length) * Math.abs(g.hit / g.n - g.conf / g.n) : e),
    0,
  );
}

function randomRows(rng: Rng, n: number, k: number, sharpness: number): number[][] {
  return Array.from({ length: n }, () => {
    const e = Array.from({ length: k }, () => Math.exp(sharpness * rng.normal()));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

test('calibration matches the written-out definition on random probabilities (1e-12)', () => {
  const rng = new Rng(3);
  const rows = randomRows(rng, 500, 7, 2);
  const labels = rows.map(() => Math.floor(rng.next() * 7));
  for (const bins of [1, 10, 15]) {
    const c = calibration(rows, labels, { bins });
    assert.ok(Math.abs(c.ece - referenceEce(rows, labels, bins)) < 1e-12, `bins ${bins}`);
    assert.equal(
      c.bins.reduce((a, b) => a + b.count, 0),
      500,
    );
    assert.ok(c.mce >= c.ece - 1e-12);
  }
});

test('a classifier whose labels are drawn from its own probabilities is calibrated; a sharpened one is not', () => {
  const rng = new Rng(5);
  const rows = randomRows(rng, 20000, 5, 1.5);
  const draw = (r: number[]) => {
    let u = rng.next();
    let j = 0;
    while (j < r.length - 1 && u >= r[j]) u -= r[j++];
    return j;
  };
  const labels = rows.map(draw);
  const good = calibration(rows, labels);
  // Sampling noise only: 20,000 rows in 15 bins.
  assert.ok(good.ece < 0.02, `calibrated ECE ${good.ece}`);
  assert.ok(Math.abs(good.overconfidence) < 0.01, `overconfidence ${good.overconfidence}`);
  // Squaring and renormalising makes the same predictions more confident than they are right.
  const sharp = rows.map((r) => {
    const s = r.reduce((a, v) => a + v * v, 0);
    return r.map((v) => (v * v) / s);
  });
  const bad = calibration(sharp, labels);
  assert.ok(bad.ece > 0.05 && bad.overconfidence > 0.05, `sharpened ECE ${bad.ece}`);
});

test('calibration: exact small cases, tensors, bin edges and refusals', () => {
  const c = calibration(
    [
      [0.8, 0.2],
      [0.1, 0.9],
    ],
    [0, 1],
    { bins: 10 },
  );
  assert.ok(Math.abs(c.ece - 0.15) < 1e-12 && Math.abs(c.overconfidence + 0.15) < 1e-12);
  assert.equal(c.bins[7].count, 1); // 0.8 is in (0.7, 0.8]
  assert.equal(c.bins[8].count, 1);
  const t = tf.tensor2d([
    [0.8, 0.2],
    [0.1, 0.9],
  ]);
  // float32 tensor values: equal within float32 rounding.
  assert.ok(Math.abs(calibration(t, tf.tensor1d([0, 1], 'int32'), { bins: 10 }).ece - c.ece) < 1e-7);
  t.dispose();
  assert.equal(calibration([[1, 0]], [1], { bins: 4 }).bins[3].count, 1);
  assert.throws(() => calibration([[0.5, 0.5]], [2]), /labels.*out of range/);
  assert.throws(() => calibration([[0.5, 0.5]], [0], { bins: 0 }), /bins.*positive integer/);
  assert.throws(() => calibration([[3, 0.5]], [0]), /outside \[0, 1\]/);
});
