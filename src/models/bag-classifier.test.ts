import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { NgramVocab, type Bags } from '../text/ngrams.js';
import { BagClassifier, RowAdam, argmaxAccuracy } from './bag-classifier.js';

/** Texts of class c mix c's own characters with shared noise, so the classes are separable. */
function toySplit(n: number, rng: Rng): { texts: string[]; labels: number[] } {
  const own = ['甲乙丙丁', '子丑寅卯', '金木水火'];
  const noise = '的一是在不了有和人这中大为上个国';
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = rng.int(own.length);
    let t = '';
    for (let j = 0; j < 8; j++) t += rng.next() < 0.3 ? own[c][rng.int(4)] : noise[rng.int(noise.length)];
    texts.push(t);
    labels.push(c);
  }
  return { texts, labels };
}

function toy() {
  const rng = new Rng(7);
  const train = toySplit(300, rng);
  const dev = toySplit(100, rng);
  const vocab = NgramVocab.build(train.texts, { orders: [1, 2] });
  return { vocab, train, dev, trainBags: vocab.encode(train.texts), devBags: vocab.encode(dev.texts) };
}

test('learns a separable toy set, probabilities sum to 1, no tensors leak', async () => {
  await initBackend({ quiet: true });
  const { vocab, train, dev, trainBags, devBags } = toy();
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const model = new BagClassifier({
    vocabSize: vocab.size,
    classes: 3,
    dim: 16,
    batchSize: 32,
    maxEpochs: 8,
    patience: 8,
    seed: 3,
  });
  const fit = model.fit(trainBags, train.labels, devBags, dev.labels, {
    onEpoch: () => counts.push(tf.memory().numTensors),
  });
  assert.equal(fit.epochs, 8);
  assert.ok(new Set(counts).size === 1, `tensor count changed across epochs: ${counts.join(',')}`);
  const probs = model.predictProbs(devBags);
  for (let i = 0; i < dev.labels.length; i++) {
    const s = probs.subarray(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${i} sums to ${s}`);
  }
  const acc = argmaxAccuracy(probs, dev.labels, 3);
  assert.ok(acc > 0.9, `dev accuracy ${acc}`);
  assert.equal(fit.bestDevAccuracy, Math.max(...fit.history.map((h) => h.devAccuracy)));
  // The restored weights are the best epoch's: predicting again reproduces its dev accuracy.
  assert.equal(acc, fit.bestDevAccuracy);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('same seed, same model; the sparse pooling op matches plain TF.js matMul pooling', async () => {
  await initBackend({ quiet: true });
  const { vocab, train, dev, trainBags, devBags } = toy();
  const run = (bagOp: 'sparse' | 'matmul', pooling: 'mean' | 'sqrt', hidden: number) => {
    const m = new BagClassifier({
      vocabSize: vocab.size,
      classes: 3,
      dim: 8,
      hidden,
      pooling,
      maxEpochs: 2,
      patience: 2,
      seed: 5,
      bagOp,
    });
    m.fit(trainBags, train.labels, devBags, dev.labels);
    const p = m.predictProbs(devBags);
    m.dispose();
    return p;
  };
  for (const [pooling, hidden] of [
    ['mean', 0],
    ['sqrt', 6],
  ] as const) {
    const a = run('sparse', pooling, hidden);
    const b = run('matmul', pooling, hidden);
    const again = run('sparse', pooling, hidden);
    assert.deepEqual(again, a);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    // Two training epochs in float32 with different summation orders: agreement to 1e-4.
    assert.ok(worst < 1e-4, `max |sparse - matmul| = ${worst}`);
  }
});

test('RowAdam on all rows equals tf.train.adam; untouched rows stay put', async () => {
  await initBackend({ quiet: true });
  const rng = new Rng(11);
  const rows = 5;
  const dim = 3;
  const init = Float32Array.from({ length: rows * dim }, () => rng.normal());
  const table = init.slice();
  const adam = new RowAdam(table, dim, 0.05);
  const v = tf.variable(tf.tensor2d(init, [rows, dim]));
  const opt = tf.train.adam(0.05);
  for (let step = 0; step < 5; step++) {
    const g = Float32Array.from({ length: rows * dim }, () => rng.normal());
    adam.step([0, 1, 2, 3, 4], g);
    tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor2d(g, [rows, dim]) }]));
  }
  const ref = v.dataSync();
  for (let i = 0; i < table.length; i++) assert.ok(Math.abs(table[i] - ref[i]) < 1e-5, `entry ${i}`);
  tf.dispose(v);
  opt.dispose();
  const sparse = init.slice();
  new RowAdam(sparse, dim, 0.05).step([3], [1, -1, 2]);
  assert.deepEqual(sparse.subarray(0, 3 * dim), init.subarray(0, 3 * dim));
  assert.notDeepEqual(sparse.subarray(3 * dim, 4 * dim), init.subarray(3 * dim, 4 * dim));
});

test('rejects labels out of range', async () => {
  await initBackend({ quiet: true });
  const bags: Bags = {
    rows: 1,
    offsets: Int32Array.from([0, 1]),
    ids: Int32Array.from([0]),
    counts: Float32Array.from([1]),
  };
  const m = new BagClassifier({ vocabSize: 1, classes: 2 });
  assert.throws(() => m.fit(bags, [2], bags, [0]), RangeError);
  m.dispose();
});
