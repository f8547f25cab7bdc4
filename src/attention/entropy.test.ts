import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/model.js';
import { attentionEntropy, attentionEntropyAsync, entropyChart, rowEntropy } from './entropy.js';

await initBackend();

test('row entropy: uniform over n keys is log n, one-hot is 0, zero entries count as 0·log 0 = 0 (|Δ| < 1e-5)', () => {
  tf.tidy(() => {
    const p = tf.tensor3d([
      [
        [0.25, 0.25, 0.25, 0.25],
        [1, 0, 0, 0],
        [0.5, 0.5, 0, 0],
        [0.7, 0.1, 0.1, 0.1],
      ],
    ]);
    const h = Array.from(rowEntropy(p).dataSync());
    const ref = [Math.log(4), 0, Math.log(2), -(0.7 * Math.log(0.7) + 3 * 0.1 * Math.log(0.1))];
    h.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) < 1e-5, `row ${i}: ${v} vs ${ref[i]}`));
  });
});

/** An encoder whose queries are all zero: every attention row is uniform over its unmasked keys. */
function uniformEncoder(): Encoder {
  const m = new Encoder({
    vocabSize: 20,
    hidden: 16,
    layers: 2,
    heads: 4,
    position: 'rope',
    dropout: 0.1,
    attentionDropout: 0.1,
  });
  for (const b of m.blocks) {
    b.attention.query.kernel.assign(tf.zerosLike(b.attention.query.kernel));
    b.attention.query.bias!.assign(tf.zerosLike(b.attention.query.bias!));
  }
  return m;
}

test('attentionEntropy of uniform attention is log n per layer and head, n from each row’s mask; async alike', async () => {
  const m = uniformEncoder().train(true);
  const ids = tf.tensor2d(
    [
      [1, 2, 3, 4, 5, 0, 0, 0],
      [1, 2, 3, 4, 5, 6, 7, 8],
    ],
    [2, 8],
    'int32',
  );
  const mask = tf.tensor2d([
    [1, 1, 1, 1, 1, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 1, 1],
  ]);
  // The first forward pass builds the RoPE tables each attention layer keeps until m.dispose().
  tf.tidy(() => {
    m.apply({ ids, mask });
  });
  const before = tf.memory().numTensors;
  const e = attentionEntropy(m, { ids, mask });
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  // 5 rows see 5 keys, 8 rows see 8: the mean over unmasked rows.
  const expected = (5 * Math.log(5) + 8 * Math.log(8)) / 13;
  assert.equal(e.perHead.length, 2);
  for (const layer of e.perHead) {
    assert.equal(layer.length, 4);
    for (const h of layer) assert.ok(Math.abs(h - expected) < 1e-4, `${h} vs ${expected}`);
  }
  assert.ok(Math.abs(e.meanKeys - (25 + 64) / 13) < 1e-9);
  assert.deepEqual(await attentionEntropyAsync(m, { ids, mask }), e);
  assert.equal(tf.memory().numTensors, before, 'tensor leak (async)');
  // Probes are removed and the training mode restored afterwards.
  assert.ok(m.blocks.every((b) => b.attention.probe === undefined));
  assert.equal(m.training, true);
  tf.dispose([ids, mask]);
  m.dispose();
});

test('attentionEntropy of a trained-looking (random) encoder is below log n and the same on a repeat', () => {
  const m = new Encoder({
    vocabSize: 20,
    hidden: 16,
    layers: 1,
    heads: 2,
    position: 'rope',
    initStd: 0.5,
    init: 'truncated-normal',
  });
  const ids = tf.tensor2d([Array.from({ length: 12 }, (_, i) => 1 + i)], [1, 12], 'int32');
  const a = attentionEntropy(m, { ids });
  const b = attentionEntropy(m, { ids });
  assert.deepEqual(a, b);
  for (const h of a.perHead[0]) assert.ok(h < Math.log(12) && h > 0);
  tf.dispose(ids);
  m.dispose();
});

test('entropyChart: one series per (curve, layer) plus the log n reference', () => {
  const c = entropyChart([
    {
      name: 'O',
      lengths: [16, 32],
      perLayer: [
        [1, 2],
        [1.5, 2.5],
      ],
    },
    {
      name: 'E',
      lengths: [16, 32],
      perLayer: [
        [1, 2],
        [1.1, 2.1],
      ],
      std: [
        [0, 0],
        [0.1, 0.1],
      ],
    },
  ]);
  assert.deepEqual(
    c.series.map((s) => s.name),
    ['O layer 1', 'O layer 2', 'E layer 1', 'E layer 2', 'uniform attention (log n)'],
  );
  assert.deepEqual(c.series[1].y, [2, 2.5]);
  assert.deepEqual(c.series[3].err, [0, 0.1]);
  assert.deepEqual(c.series[4].y, [Math.log(16), Math.log(32)]);
});
