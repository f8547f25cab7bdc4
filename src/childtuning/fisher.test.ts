import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { fisherInformation } from './fisher.js';

await initBackend({ quiet: true });

test('fisherInformation on a tiny linear model equals a plain loop of clipped squared gradients (|Δ| < 1e-5)', async () => {
  // loss(batch) = mean_j (x_j·w + b − y_j)²; ∂/∂w = 2/B Σ r_j x_j, ∂/∂b = 2/B Σ r_j.
  const rng = new Rng(2);
  const d = 3;
  const w0 = [0.5, -0.3, 0.8];
  const b0 = 0.1;
  const batches = [0, 1, 2, 3].map(() =>
    Array.from({ length: 4 }, () => ({
      x: Array.from({ length: d }, () => rng.normal() * 2),
      y: rng.normal(),
    })),
  );
  const w = tf.variable(tf.tensor1d(w0));
  const b = tf.variable(tf.scalar(b0));
  const lossFn = (batch: { x: number[]; y: number }[]) =>
    tf.tidy(() => {
      const x = tf.tensor2d(batch.map((e) => e.x));
      const y = tf.tensor1d(batch.map((e) => e.y));
      const pred = tf.add(tf.squeeze(tf.matMul(x, tf.reshape(w, [d, 1])), [1]), b);
      return tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
    });
  for (const clip of [0, 1]) {
    const done: number[] = [];
    const fisher = await fisherInformation(
      lossFn,
      new Map<string, tf.Variable>([
        ['w', w],
        ['b', b],
      ]),
      batches,
      { clipNorm: clip, onBatch: (n) => done.push(n) },
    );
    assert.deepEqual(done, [1, 2, 3, 4]);
    const fw = new Float64Array(d);
    let fb = 0;
    for (const batch of batches) {
      const gw = new Float64Array(d);
      let gb = 0;
      for (const e of batch) {
        const r = e.x.reduce((s, xi, i) => s + xi * w0[i], b0) - e.y;
        e.x.forEach((xi, i) => (gw[i] += (2 * r * xi) / batch.length));
        gb += (2 * r) / batch.length;
      }
      // Per-tensor clipping, torch's clip_grad_norm_: coefficient min(1, c/(‖g‖ + 1e-6)).
      const cw = clip > 0 ? Math.min(1, clip / (Math.hypot(...gw) + 1e-6)) : 1;
      const cb = clip > 0 ? Math.min(1, clip / (Math.abs(gb) + 1e-6)) : 1;
      gw.forEach((g, i) => (fw[i] += (g * cw) ** 2 / batches.length));
      fb += (gb * cb) ** 2 / batches.length;
    }
    const got = fisher.get('w')!.dataSync();
    for (let i = 0; i < d; i++)
      assert.ok(Math.abs(got[i] - fw[i]) < 1e-5 * Math.max(1, fw[i]), `w${i}: ${got[i]} vs ${fw[i]}`);
    assert.ok(Math.abs(fisher.get('b')!.dataSync()[0] - fb) < 1e-5 * Math.max(1, fb));
    tf.dispose([...fisher.values()]);
  }
  // Arrays of variables are keyed by the variables' own names; async iterables work too.
  async function* gen() {
    yield* batches;
  }
  const before = tf.memory().numTensors;
  const byName = await fisherInformation(lossFn, [w, b], gen());
  assert.deepEqual([...byName.keys()], [w.name, b.name]);
  tf.dispose([...byName.values()]);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  await assert.rejects(fisherInformation(lossFn, [w], []), /no batches/);
  await assert.rejects(
    fisherInformation(() => tf.add(tf.scalar(NaN), tf.sum(w)) as tf.Scalar, [w], [0]),
    /loss of batch 1 is NaN/,
  );
  assert.equal(tf.memory().numTensors, before, 'tensors leaked on errors');
  tf.dispose([w, b]);
});
