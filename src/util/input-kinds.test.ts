/** The vector/matrix functions accept tensors, arrays and `{data, rows, cols}` alike and validate them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { normalizePrior, priorFromLabels } from '../can/prior.js';
import { uncertainties } from '../can/uncertainty.js';
import { pearson } from '../cosent/spearman.js';
import { top1Accuracy } from '../childtuning/classifier.js';

await initBackend({ quiet: true });

const close = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  assert.ok(
    Array.from(a).every((v, i) => Math.abs(v - b[i]) < 1e-6),
    `${Array.from(a)} vs ${Array.from(b)}`,
  );

test('priorFromLabels / normalizePrior: a tensor gives a tensor, an array a Float64Array', () => {
  const fromArray = priorFromLabels([0, 1, 1, 2], 3);
  assert.ok(fromArray instanceof Float64Array);
  const t = priorFromLabels(tf.tensor1d([0, 1, 1, 2], 'int32'), 3);
  assert.ok(t instanceof tf.Tensor && t.rank === 1);
  close(t.dataSync(), fromArray);
  const n = normalizePrior(tf.tensor1d([2, 1, 1]), 3);
  close(n.dataSync(), [0.5, 0.25, 0.25]);
  tf.dispose([t, n]);
  assert.throws(() => priorFromLabels(tf.ones([2, 2]), 3), /labels.*1-D/);
  assert.throws(() => priorFromLabels([0, 3], 3), /label 3 out of range/);
});

test('uncertainties: every matrix kind gives the same values, in its own kind', () => {
  const rows = [
    [0.5, 0.5, 0],
    [0.98, 0.01, 0.01],
  ];
  const fromArray = uncertainties(rows, 2);
  const fromMatrix = uncertainties({ data: Float64Array.from(rows.flat()), rows: 2, cols: 3 }, 2);
  const t = uncertainties(tf.tensor2d(rows), 2);
  assert.ok(t instanceof tf.Tensor && t.rank === 1);
  close(fromArray, [1, fromArray[1]]);
  close(fromMatrix, fromArray);
  close(t.dataSync(), fromArray);
  t.dispose();
  assert.throws(() => uncertainties([[0.5, 0.5]], 3), /topk/);
});

test('pearson validates like spearman and reads tensors', () => {
  assert.equal(pearson(tf.tensor1d([1, 2, 3]), [2, 4, 6]), 1);
  assert.throws(() => pearson([1, 2, 3], [1, 2]), /lengths differ/);
  assert.throws(() => pearson([1], [1]), /at least 2/);
  assert.throws(() => pearson([1, NaN], [1, 2]), /value 1 is NaN/);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])), 'constant side: undefined correlation');
});

test('top1Accuracy: row-major with classes, or any matrix kind; label count checked', () => {
  const flat = new Float32Array([0.9, 0.1, 0.4, 0.6, 0.7, 0.3]);
  const rows = [
    [0.9, 0.1],
    [0.4, 0.6],
    [0.7, 0.3],
  ];
  const want = (100 * 2) / 3;
  assert.ok(Math.abs(top1Accuracy(flat, [0, 1, 1], 2) - want) < 1e-9);
  assert.ok(Math.abs(top1Accuracy(rows, [0, 1, 1]) - want) < 1e-9);
  const t = tf.tensor2d(rows);
  assert.ok(Math.abs(top1Accuracy(t, tf.tensor1d([0, 1, 1], 'int32')) - want) < 1e-9);
  t.dispose();
  assert.throws(() => top1Accuracy(flat, [0, 1], 2), /2 labels for 3 rows/);
  assert.throws(() => top1Accuracy(flat, [0, 1, 1], 0), /classes must be a positive integer/);
});
