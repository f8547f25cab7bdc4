import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { FIRST_START, FirstModel, evaluateFirst, firstBatch, trainFirst } from './first.js';
import { logNScale } from './scale.js';

await initBackend();

test('FIRST batches: $ then n bits; the label is the first bit; both labels occur', () => {
  const { ids, labels } = firstBatch(64, 7, new Rng(1));
  assert.deepEqual(ids.shape, [64, 8]);
  const x = ids.arraySync();
  const y = Array.from(labels.dataSync());
  x.forEach((row, b) => {
    assert.equal(row[0], FIRST_START);
    assert.ok(row.slice(1).every((v) => v === 0 || v === 1));
    assert.equal(y[b], row[1]);
  });
  assert.ok(y.some((v) => v === 1) && y.some((v) => v === 0));
  assert.throws(() => firstBatch(2, 0, new Rng(1)), /positive integer/);
  tf.dispose([ids, labels]);
});

test('FIRST model learns the task in a few steps (loss falls below log 2), without leaking tensors', () => {
  const m = new FirstModel({ scale: logNScale({ base: Math.E, clamp: 1 }), seed: 3 });
  const start = evaluateFirst(m, 8, 64, 5);
  const before = tf.memory().numTensors;
  trainFirst(m, { steps: 150, batch: 32, minLength: 5, maxLength: 8, lr: 3e-3, seed: 3 });
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  const end = evaluateFirst(m, 8, 64, 5);
  assert.ok(end.loss < start.loss && end.loss < Math.log(2) / 2, `loss ${start.loss} → ${end.loss}`);
  assert.ok(end.accuracy > 0.9, `accuracy ${end.accuracy}`);
  assert.throws(() => trainFirst(m, { steps: 1, minLength: 5, maxLength: 3 }), /bad length range/);
  m.dispose();
});
