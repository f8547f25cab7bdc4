import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { stopGradient } from './stop-gradient.js';

await initBackend({ quiet: true });

test('stopGradient: same values, zero gradient, no tensor left behind', () => {
  const x = tf.tensor1d([2, 3]);
  const before = tf.memory().numTensors;
  const y = stopGradient(x);
  assert.deepEqual(Array.from(y.dataSync()), [2, 3]);
  y.dispose();
  // d/dx Σ x·sg(x) = sg(x) = x; d/dx Σ sg(x)² = 0.
  const g1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, stopGradient(v))))(x);
  const g2 = tf.grad((v: tf.Tensor) => tf.sum(tf.square(stopGradient(v))))(x);
  assert.deepEqual(Array.from(g1.dataSync()), [2, 3]);
  assert.deepEqual(Array.from(g2.dataSync()), [0, 0]);
  // Second order: d²/dx² Σ x²·sg(x) = 2·sg(x).
  const h = tf.grad((v: tf.Tensor) =>
    tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.square(u), stopGradient(u))))(v)),
  )(x);
  assert.deepEqual(Array.from(h.dataSync()), [4, 6]);
  tf.dispose([g1, g2, h]);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});
