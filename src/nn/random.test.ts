/**
 * kexue's random draws on the backend initBackend picks (aten: the native kernels) and on cpu (the tfjs
 * ops): moments and frequencies within 5 standard errors, the same numbers again for a seed and other
 * numbers for another, for any thread count on aten, the Bernoulli gradient zero, no leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { loadAddon } from '../backend/aten/addon.js';
import { BERNOULLI, RANDOM_NORMAL, bernoulli, standardNormal } from './random.js';

const picked = await initBackend({ quiet: true });

for (const backend of [...new Set([picked, 'cpu'])]) {
  test(`standardNormal on ${backend}: moments, tails and seeding`, async () => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const n = 200_000;
    const [a, again, other] = [7, 7, 8].map((s) => standardNormal([n / 100, 100], s));
    assert.deepEqual(a.shape, [n / 100, 100]);
    assert.equal(a.dtype, 'float32');
    const x = a.dataSync();
    let [m1, m2, m4, over2] = [0, 0, 0, 0];
    for (const v of x) {
      m1 += v / n;
      m2 += (v * v) / n;
      m4 += v ** 4 / n;
      if (Math.abs(v) > 2) over2++;
    }
    // Standard errors: mean 1/√n, E x² √(2/n), E x⁴ √(96/n), P(|x| > 2) = 0.0455 binomial.
    assert.ok(Math.abs(m1) < 5 / Math.sqrt(n), `mean ${m1}`);
    assert.ok(Math.abs(m2 - 1) < 5 * Math.sqrt(2 / n), `E x² ${m2}`);
    assert.ok(Math.abs(m4 - 3) < 5 * Math.sqrt(96 / n), `E x⁴ ${m4}`);
    const p2 = 0.0455;
    assert.ok(Math.abs(over2 - n * p2) < 5 * Math.sqrt(n * p2 * (1 - p2)), `|x| > 2: ${over2}`);
    assert.deepEqual(again.dataSync(), x, 'same seed, same draws');
    assert.notDeepEqual(other.dataSync(), x, 'another seed, other draws');
    tf.dispose([a, again, other]);
    assert.equal(tf.memory().numTensors, before, 'tensor leak');
    assert.throws(() => standardNormal([2, -1], 1), /shape must be non-negative integers/);
    assert.throws(() => standardNormal([2], 0.5), /seed must be an integer/);
    if (backend === 'aten') assert.ok(tf.getKernel(RANDOM_NORMAL, 'aten'), 'aten has the native kernel');
  });

  test(`bernoulli on ${backend}: frequencies per probability, edges, seeding, gradient`, async () => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const levels = [-0.5, 0, 0.01, 0.3, 0.5, 0.9, 1, 1.5];
    const per = 20_000;
    const probs = new Float32Array(levels.length * per).map((_, i) => levels[i % levels.length]);
    const p = tf.tensor2d(probs, [per, levels.length]);
    const [a, again, other] = [3, 3, 4].map((s) => bernoulli(p, s));
    const x = a.dataSync();
    levels.forEach((level, j) => {
      let ones = 0;
      for (let i = j; i < x.length; i += levels.length) {
        assert.ok(x[i] === 0 || x[i] === 1, `value ${x[i]}`);
        ones += x[i];
      }
      const q = Math.min(1, Math.max(0, level));
      if (q === 0 || q === 1) assert.equal(ones, q * per, `p = ${level}: always ${q}`);
      else
        assert.ok(Math.abs(ones - per * q) < 5 * Math.sqrt(per * q * (1 - q)), `p = ${level}: ${ones} ones`);
    });
    assert.deepEqual(again.dataSync(), x, 'same seed, same draws');
    assert.notDeepEqual(other.dataSync(), x, 'another seed, other draws');
    const g = tf.grad((q: tf.Tensor) => tf.sum(bernoulli(q, 3)))(p);
    assert.ok(
      g.dataSync().every((v) => v === 0),
      'zero gradient to the probabilities',
    );
    const ints = tf.tensor1d([1], 'int32');
    assert.throws(() => bernoulli(ints, 1), /p must be float32/);
    tf.dispose([p, a, again, other, g, ints]);
    assert.equal(tf.memory().numTensors, before, 'tensor leak');
    if (backend === 'aten') assert.ok(tf.getKernel(BERNOULLI, 'aten'), 'aten has the native kernel');
  });
}

test('aten draws the same numbers with one thread as with two', { skip: picked !== 'aten' }, async () => {
  await tf.setBackend('aten');
  const addon = loadAddon()!;
  const threads = addon.getThreads();
  const draw = () =>
    tf.tidy(() => [
      standardNormal([300, 400], 5).dataSync(),
      bernoulli(tf.fill([300, 400], 0.4), 5).dataSync(),
    ]);
  try {
    addon.setThreads(1);
    const one = draw();
    addon.setThreads(2);
    assert.deepEqual(draw(), one);
  } finally {
    addon.setThreads(threads);
  }
});
