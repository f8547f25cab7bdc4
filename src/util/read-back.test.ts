import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readAndDispose, readBackAsync, readBackSync } from './read-back.js';

function* twice(): Generator<tf.Tensor, number, ArrayLike<number>> {
  const a = yield* readAndDispose(tf.tensor1d([1, 2]));
  const b = yield* readAndDispose(tf.tensor1d([3]));
  return a[0] + a[1] + b[0];
}

test('readAndDispose: sync and async drivers read each tensor and free it', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  assert.equal(readBackSync(twice()), 6);
  assert.equal(await readBackAsync(twice()), 6);
  assert.equal(tf.memory().numTensors, before);
});

test('readAndDispose frees the tensor when the read fails and the work is abandoned', () => {
  const before = tf.memory().numTensors;
  function* failing(): Generator<tf.Tensor, number, ArrayLike<number>> {
    const t = tf.tensor1d([1]);
    t.dataSync = () => {
      throw new Error('read failed');
    };
    const v = yield* readAndDispose(t);
    return v[0];
  }
  assert.throws(() => readBackSync(failing()), /read failed/);
  assert.equal(tf.memory().numTensors, before);
});
