import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/model.js';
import { chunkSize, mlmByLength, mlmByLengthAsync, windows, withInferenceSettings } from './extrapolation.js';

await initBackend();

test('windows: [CLS] body [SEP] of the given length, non-overlapping, spread over the text', () => {
  const stream = Array.from({ length: 100 }, (_, i) => 10 + i);
  const w = windows(stream, 12, 3, 1, 2);
  assert.equal(w.length, 3);
  for (const s of w) {
    assert.equal(s.length, 12);
    assert.equal(s[0], 1);
    assert.equal(s[11], 2);
  }
  const bodies = w.map((s) => s.slice(1, -1));
  assert.equal(new Set(bodies.flat()).size, 30, 'windows overlap');
  assert.ok(bodies[2][0] > 50, 'windows not spread over the text');
  assert.equal(windows(stream, 12, 99, 1, 2).length, 10);
  assert.throws(() => windows(stream, 2, 1, 1, 2), /too short/);
  assert.throws(() => windows(stream.slice(0, 5), 12, 1, 1, 2), /fewer than one sequence/);
});

test('chunkSize keeps B·heads·N² under the bound, at least 1', () => {
  assert.equal(chunkSize(1024, 4, 2 ** 24), 4);
  assert.equal(chunkSize(64, 4, 2 ** 24), 1024);
  assert.equal(chunkSize(4096, 16, 2 ** 24), 1);
  for (const n of [100, 333, 1024]) assert.ok(chunkSize(n, 4) * 4 * n * n <= 2 ** 24);
});

test('mlmByLength: chunked evaluation equals one big batch (|Δ| < 1e-5), async equals sync, no tensor leak, bad lengths rejected', async () => {
  const m = new Encoder({ vocabSize: 30, hidden: 16, layers: 1, heads: 2, position: 'rope', seed: 2 });
  const stream = Array.from({ length: 600 }, (_, i) => 5 + ((i * 13) % 25));
  const o = {
    stream,
    cls: 1,
    sep: 2,
    maskId: 3,
    vocabSize: 30,
    specialIds: new Set([0, 1, 2, 3, 4]),
    lengths: [16, 40],
    tokens: 240,
    seed: 4,
  };
  const whole = mlmByLength(m, o);
  const before = tf.memory().numTensors;
  let chunks = 0;
  const chunked = mlmByLength(m, { ...o, maxAttentionEntries: 2 * 40 * 40, onChunk: () => chunks++ });
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  assert.ok(chunks > 2);
  whole.forEach((r, i) => {
    assert.equal(r.predictions, chunked[i].predictions);
    assert.ok(Math.abs(r.accuracy - chunked[i].accuracy) < 1e-5);
    assert.ok(Math.abs(r.loss - chunked[i].loss) < 1e-5);
  });
  assert.deepEqual(
    whole.map((r) => r.sequences),
    [15, 6],
  );
  const viaAsync = await mlmByLengthAsync(m, { ...o, maxAttentionEntries: 2 * 40 * 40 });
  assert.deepEqual(viaAsync, chunked);
  assert.equal(tf.memory().numTensors, before, 'tensor leak (async)');
  assert.throws(() => mlmByLength(m, { ...o, lengths: [2] }), /lengths must be integers ≥ 3/);
  await assert.rejects(mlmByLengthAsync(m, { ...o, lengths: [2] }), /lengths must be integers ≥ 3/);
  m.dispose();
});

test('withInferenceSettings copies the weights and replaces only the named settings', () => {
  const m = new Encoder({
    vocabSize: 30,
    hidden: 16,
    layers: 1,
    heads: 2,
    position: 'rope',
    dropout: 0,
    attentionDropout: 0,
  });
  const c = withInferenceSettings(m, { ropeScaling: { kind: 'ntk', factor: 2 } });
  assert.deepEqual(c.config.ropeScaling, { kind: 'ntk', factor: 2 });
  assert.equal(m.config.ropeScaling, undefined);
  const back = withInferenceSettings(c, { ropeScaling: undefined });
  assert.ok(!('ropeScaling' in back.config));
  const x = tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32');
  const same = tf.tidy(
    () => tf.max(tf.abs(tf.sub(m.apply({ ids: x }).last, back.apply({ ids: x }).last))).dataSync()[0],
  );
  assert.ok(same < 1e-7);
  // Weights are copies: changing the original leaves the copy alone.
  const k = m.blocks[0].attention.key.kernel;
  k.assign(tf.zerosLike(k));
  assert.ok(tf.tidy(() => tf.sum(tf.abs(back.blocks[0].attention.key.kernel)).dataSync()[0]) > 0);
  tf.dispose(x);
  [m, c, back].forEach((e) => e.dispose());
});
