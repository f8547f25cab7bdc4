import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { accuracy, can, priorFromLabels } from './index.js';
import { canTune } from './tune.js';

await initBackend({ quiet: true });

/** A miscalibrated classifier: it under-predicts class 0, which is the most frequent class. */
function biased(rng: Rng, n: number) {
  const k = 4;
  const prior = [0.55, 0.15, 0.15, 0.15];
  const labels: number[] = [];
  const data = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let r = rng.next();
    let y = 0;
    while (y < k - 1 && r >= prior[y]) r -= prior[y++];
    labels.push(y);
    const logits = Array.from(
      { length: k },
      (_, j) => (j === y ? 1.2 : 0) + (j === 0 ? -0.6 : 0) + rng.normal(),
    );
    const e = logits.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => (data[i * k + j] = v / s));
  }
  return { probs: { data, rows: n, cols: k }, labels, prior };
}

test('canTune finds settings that help on validation, and they help on unseen data', () => {
  const rng = new Rng(4);
  const val = biased(rng, 1500);
  const test_ = biased(rng, 1500);
  const prior = priorFromLabels(val.labels, 4);
  const r = canTune(val.probs, val.labels, prior, { topk: [2, 3], alpha: [1, 2], iters: [1, 2] });
  assert.equal(r.tried, 2 * 2 * 2 * 7);
  assert.ok(r.apply && r.gain > 0.01, `validation gain ${r.gain}`);
  assert.ok(Math.abs(accuracy(can(val.probs, prior, r.options).probs, val.labels) - r.accuracyAfter) < 1e-12);
  const before = accuracy(test_.probs, test_.labels);
  const after = accuracy(can(test_.probs, prior, r.options).probs, test_.labels);
  assert.ok(after > before, `held-out accuracy ${before} -> ${after}`);
});

test('canTune declines to apply CAN when nothing beats the unadjusted accuracy', () => {
  // Perfectly separated rows: every row is right already, so no setting can gain.
  const probs = {
    data: new Float64Array([0.9, 0.05, 0.05, 0.05, 0.9, 0.05, 0.05, 0.05, 0.9]),
    rows: 3,
    cols: 3,
  };
  const r = canTune(probs, [0, 1, 2], [1, 1, 1]);
  assert.equal(r.apply, false);
  assert.equal(r.gain, 0);
});
