/**
 * kexue's dropout on the backend initBackend picks (aten: the native mask kernel) and on cpu (tf.dropout):
 * the multiplier is 0 or 1/(1 − rate), keeps 1 − rate of the elements (within 4 binomial standard
 * deviations), repeats with the seed, and its gradient is the same multiplier.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { DROPOUT_MASK, dropout } from './layers.js';

const picked = await initBackend({ quiet: true });

for (const backend of [...new Set([picked, 'cpu'])]) {
  test(`dropout on ${backend}: values, keep rate, seeding and gradient`, async () => {
    await tf.setBackend(backend);
    const rate = 0.3;
    const x = tf.add(tf.randomNormal([64, 50, 8], 0, 1, 'float32', 1), 3); // no zeros of its own
    const before = tf.memory().numTensors;
    const [y, again, other, grad] = tf.tidy(() => [
      dropout(x, rate, true, new Rng(7)),
      dropout(x, rate, true, new Rng(7)),
      dropout(x, rate, true, new Rng(8)),
      tf.grad((z: tf.Tensor) => tf.sum(dropout(z, rate, true, new Rng(7))))(x),
    ]);
    const [xs, ys, gs] = [x.dataSync(), y.dataSync(), grad.dataSync()];
    let kept = 0;
    ys.forEach((v, i) => {
      if (v === 0) assert.equal(gs[i], 0, `gradient ${i}`);
      else {
        kept++;
        assert.ok(Math.abs(v - xs[i] / (1 - rate)) <= 1e-5 * Math.abs(v), `value ${i}`);
        assert.ok(Math.abs(gs[i] - 1 / (1 - rate)) <= 1e-6, `gradient ${i}`);
      }
    });
    const n = ys.length;
    const sd = Math.sqrt(n * rate * (1 - rate));
    assert.ok(Math.abs(kept - n * (1 - rate)) < 4 * sd, `kept ${kept} of ${n}`);
    assert.deepEqual(again.dataSync(), ys, 'same seed, same mask');
    assert.notDeepEqual(other.dataSync(), ys, 'another seed, another mask');
    assert.equal(dropout(x, rate, false, new Rng(7)), x, 'identity when not training');
    tf.dispose([y, again, other, grad]);
    assert.equal(tf.memory().numTensors, before, 'tensor leak');
    if (backend === 'aten') assert.ok(tf.getKernel(DROPOUT_MASK, 'aten'), 'aten has the native mask');
    x.dispose();
  });
}
