/**
 * One API for every input kind (tensor, number[][], { data, rows, cols }), validation that names the
 * argument, the row and the value, `fromLogits`, async variants — and the silent wrong results
 * as regressions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import {
  accuracy,
  can,
  canAsync,
  canTune,
  canTuneAsync,
  emPrior,
  emPriorAsync,
  softmaxRows,
  topkAccuracy,
  type ProbMatrix,
} from './index.js';
import { maxAbsDiff, randomProbs } from './reference.test-util.js';

await initBackend({ quiet: true });

const toArray = (m: ProbMatrix) =>
  Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
const toTensor = (m: ProbMatrix) => tf.tensor2d(Float32Array.from(m.data), [m.rows, m.cols]);
const prior = [0.4, 0.3, 0.2, 0.1];
const settings = { threshold: 0.6, iters: 3, alpha: 1.5 };

test('regression: can returns { probs, adjusted, uncertainty } of the input kind for all three kinds', () => {
  const m = randomProbs(new Rng(21), 60, 4);
  const ref = can(m, prior, settings);
  assert.ok(ref.probs.data instanceof Float64Array && ref.probs.rows === 60 && ref.probs.cols === 4);

  // number[][] in (the README's snippet got `undefined` here): number[][] out.
  const arr = can(toArray(m), prior, settings);
  assert.ok(Array.isArray(arr.probs) && arr.probs.length === 60 && arr.probs[0].length === 4);
  assert.equal(maxAbsDiff(arr.probs.flat(), ref.probs.data), 0);
  assert.deepEqual(
    arr.adjusted,
    Array.from(ref.adjusted, (a) => a === 1),
  );
  assert.deepEqual(arr.uncertainty, Array.from(ref.uncertainty));

  // Tensor in: tensors out. The input is read as float32, so values agree to float32 precision.
  const before = tf.memory().numTensors;
  const t = toTensor(m);
  const pt = tf.tensor1d(prior);
  const r = can(t, pt, settings);
  assert.ok(r.probs instanceof tf.Tensor && r.adjusted instanceof tf.Tensor);
  assert.deepEqual(r.probs.shape, [60, 4]);
  assert.ok(maxAbsDiff(r.probs.dataSync(), ref.probs.data) < 1e-6);
  assert.deepEqual(Array.from(r.adjusted.dataSync()), Array.from(ref.adjusted));
  tf.dispose([t, pt, r.probs, r.adjusted, r.uncertainty]);
  assert.equal(tf.memory().numTensors, before);
});

test('canAsync equals can for every kind, on the batched (iters > 1) path, with no tensor leaks', async () => {
  const m = randomProbs(new Rng(22), 80, 4);
  const ref = can(m, prior, settings);
  const before = tf.memory().numTensors;
  const a = await canAsync(m, prior, settings);
  assert.equal(maxAbsDiff(a.probs.data, ref.probs.data), 0);
  const arr = await canAsync(toArray(m), prior, settings);
  assert.equal(maxAbsDiff(arr.probs.flat(), ref.probs.data), 0);
  const t = toTensor(m);
  const r = await canAsync(t, prior, settings);
  assert.ok(maxAbsDiff(await r.probs.data(), ref.probs.data) < 1e-6);
  tf.dispose([t, r.probs, r.adjusted, r.uncertainty]);
  assert.equal(tf.memory().numTensors, before);
});

test('fromLogits applies a row softmax first: equal to can on the softmax', () => {
  const rng = new Rng(23);
  const logits = { data: Float64Array.from({ length: 40 * 4 }, () => 2 * rng.normal()), rows: 40, cols: 4 };
  const a = can(logits, prior, { fromLogits: true, threshold: 0.5 });
  const b = can(softmaxRows(logits), prior, { threshold: 0.5 });
  assert.equal(maxAbsDiff(a.probs.data, b.probs.data), 0);
  assert.ok(a.adjusted.some((x) => x === 1));
  // Logits are not probabilities: without the flag they are rejected, not silently used.
  assert.throws(() => can(logits, prior), /^InputError: probs: row 1/);
});

test('regression: rows that are not probabilities are errors naming the argument, row and value', () => {
  // The example: [[2, 1, 0], …] used to come back unnormalised.
  assert.throws(
    () =>
      can(
        [
          [0.2, 0.3, 0.5],
          [2, 1, 0],
        ],
        [1, 1, 1],
      ),
    /probs: row 2 sums to 3\.00000, not 1 within 0\.001.*fromLogits/,
  );
  assert.throws(
    () =>
      can(
        [
          [0.5, 0.5],
          [1.1, -0.1],
        ],
        [1, 1],
      ),
    /probs: row 2, class 1: negative probability -0\.1/,
  );
  const t = tf.tensor2d([0.5, 0.5, NaN, 1], [2, 2]);
  assert.throws(() => can(t, [1, 1]), /probs: row 2, class 0: value is NaN/);
  t.dispose();
  const t3 = tf.zeros([2, 2, 2]);
  assert.throws(() => can(t3, [1, 1]), /probs: must be a 2-D tensor, got shape \[2,2,2\]/);
  t3.dispose();
  assert.throws(() => can([[0.5, 0.5], [1]], [1, 1]), /probs: row 2 has 1 values, row 1 has 2/);
  assert.throws(() => can([0.5, 0.5] as unknown as number[][], [1, 1]), /probs: must be an array of rows/);
  assert.throws(() => can('0.5,0.5' as unknown as number[][], [1, 1]), /probs: must be a 2-D tf\.Tensor/);
  assert.throws(() => can([[0.5, 0.5]], [1, -1]), /prior: class 1: invalid prior value -1/);
  assert.throws(() => can([[0.5, 0.5]], [1, 1, 1]), /prior: has 3 classes, the probabilities have 2/);
  assert.throws(() => can([[0.5, 0.5]], [1, 1], { iter: 3 } as never), /options: unknown option 'iter'/);
  assert.throws(
    () => can([[0.5, 0.5]], [1, 1], { fromLogits: 'yes' } as never),
    /fromLogits must be true or false/,
  );
  assert.throws(() => can([[0.5, 0.5]], [1, 1], { threshold: '0.5' } as never), /threshold must be a number/);
});

/** A miscalibrated 4-class classifier's validation set, in all three kinds. */
function validation() {
  const rng = new Rng(24);
  const m = randomProbs(rng, 120, 4, 1.5);
  const labels = Array.from({ length: 120 }, (_, i) => {
    // Labels correlated with the argmax, skewed to class 0.
    const row = m.data.subarray(i * 4, i * 4 + 4);
    return rng.next() < 0.3 ? 0 : row.indexOf(Math.max(...row));
  });
  return { m, labels };
}

test('regression: canTune takes tensors (labels and prior too), arrays and matrices alike; async equal', async () => {
  const { m, labels } = validation();
  const grid = { topk: [2, 3], alpha: [1, 2], iters: [1, 2], threshold: [0.5, 0.7, 0.9] };
  const ref = canTune(m, labels, prior, grid);
  assert.equal(ref.tried, 24);
  const before = tf.memory().numTensors;
  const t = toTensor(m);
  const yt = tf.tensor1d(labels, 'int32');
  const pt = tf.tensor1d(prior);
  const fromTensor = canTune(t, yt, pt, grid);
  assert.deepEqual(fromTensor.options, ref.options);
  assert.equal(fromTensor.accuracyBefore, ref.accuracyBefore);
  assert.equal(fromTensor.accuracyAfter, ref.accuracyAfter);
  assert.deepEqual(canTune(toArray(m), labels, prior, grid), ref);
  assert.deepEqual(await canTuneAsync(t, yt, pt, grid), fromTensor);
  tf.dispose([t, yt, pt]);
  assert.equal(tf.memory().numTensors, before);
});

test('canTune and accuracy reject bad labels and grids by name', () => {
  const { m, labels } = validation();
  assert.throws(() => canTune(m, labels.slice(1), prior), /labels: 119 labels for 120 rows/);
  assert.throws(
    () => canTune(m, [...labels.slice(1), 7], prior),
    /labels, line 120: label 7 out of range 0\.\.3/,
  );
  assert.throws(() => canTune(m, labels, prior, { topk: [9] }), /grid: no topk in \[9\] fits 4 classes/);
  assert.throws(() => canTune(m, labels, prior, { alpha: [] }), /grid: alpha must be a non-empty array/);
  assert.throws(() => accuracy(m, labels.slice(2)), /labels: 118 labels for 120 rows/);
  assert.throws(() => topkAccuracy(m, labels, 0), /k: must be a positive integer/);
  assert.equal(
    accuracy(
      [
        [0.9, 0.1],
        [0.2, 0.8],
      ],
      [0, 0],
    ),
    0.5,
  );
});

test('emPrior(Async): the result probs have the input kind; unnormalised rows are rejected', async () => {
  const { m } = validation();
  const ref = emPrior(m, [1, 1, 1, 1]);
  const before = tf.memory().numTensors;
  const t = toTensor(m);
  const pt = tf.tensor1d([1, 1, 1, 1]);
  const r = emPrior(t, pt);
  assert.ok(r.probs instanceof tf.Tensor);
  assert.ok(maxAbsDiff(r.prior, ref.prior) < 1e-5, 'float32 input: prior within 1e-5');
  tf.dispose([t, pt, r.probs]);
  assert.equal(tf.memory().numTensors, before);
  const t2 = toTensor(m);
  const ra = await emPriorAsync(t2, [1, 1, 1, 1]);
  const rs = emPrior(t2, [1, 1, 1, 1]);
  assert.deepEqual(ra.prior, rs.prior);
  tf.dispose([t2, ra.probs, rs.probs]);
  const arr = emPrior(toArray(m), [1, 1, 1, 1]);
  assert.ok(Array.isArray(arr.probs));
  assert.throws(() => emPrior([[0.6, 0.6]], [1, 1]), /probs: row 1 sums to 1\.20000/);
});
