import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { cosentLoss } from './loss.js';
import { CoSENTLoss, CosineMSELoss, SoftmaxLoss, makeObjective } from './objectives.js';

await initBackend({ quiet: true });

const rng = new Rng(21);
const B = 5;
const D = 3;
const rand = () => Array.from({ length: B }, () => Array.from({ length: D }, () => rng.normal()));
const u = rand();
const v = rand();
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const cos = u.map((ui, i) => dot(ui, v[i]) / Math.sqrt(dot(ui, ui) * dot(v[i], v[i])));
const value = (f: () => tf.Scalar) => tf.tidy(() => f().dataSync()[0]);

test('SoftmaxLoss: cross-entropy of softmax(W[u; v; |u−v|] + b), by hand in float64', () => {
  const labels = Float64Array.from([0, 2, 1, 2, 0]);
  const obj = new SoftmaxLoss(D, 3, 7);
  const w = obj.classifier.kernel.arraySync() as number[][];
  let want = 0;
  for (let i = 0; i < B; i++) {
    const f = [...u[i], ...v[i], ...u[i].map((x, k) => Math.abs(x - v[i][k]))];
    const logits = [0, 1, 2].map((c) => f.reduce((s, x, k) => s + x * w[k][c], 0)); // bias starts at 0
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, z) => s + Math.exp(z - m), 0));
    want += (lse - logits[labels[i]]) / B;
  }
  const got = value(() => obj.loss(tf.tensor2d(u), tf.tensor2d(v), labels));
  assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
  // Graded labels round to classes; the classifier is trainable and receives a gradient.
  const params = [...obj.parameters()];
  assert.deepEqual(
    params.map(([n]) => n),
    ['classifier.kernel', 'classifier.bias'],
  );
  const { grads } = tf.variableGrads(() =>
    obj.loss(tf.tensor2d(u), tf.tensor2d(v), Float64Array.from([0.2, 1.6, 1, 2.4, 0])),
  );
  assert.ok(tf.sum(tf.abs(grads[params[0][1].name])).dataSync()[0] > 0);
  assert.throws(
    () => obj.loss(tf.tensor2d(u), tf.tensor2d(v), Float64Array.from([0, 3, 1, 2, 0])),
    /outside the classes 0..2/,
  );
  obj.dispose();
});

test('CosineMSELoss: mean (cos − (label − min)/(max − min))²', () => {
  const labels = Float64Array.from([0, 5, 2.5, 1, 4]);
  const want = cos.reduce((s, c, i) => s + (c - labels[i] / 5) ** 2, 0) / B;
  const got = value(() => new CosineMSELoss(0, 5).loss(tf.tensor2d(u), tf.tensor2d(v), labels));
  assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
  assert.throws(() => new CosineMSELoss(1, 1), /non-empty/);
});

test('CoSENTLoss is cosentLoss; makeObjective derives classes and label range from the data', () => {
  const labels = Float64Array.from([1, 0, 1, 1, 0]);
  const a = value(() => new CoSENTLoss(20).loss(tf.tensor2d(u), tf.tensor2d(v), labels));
  const b = value(() => cosentLoss(tf.tensor2d(u), tf.tensor2d(v), labels, { method: 'pairwise' }));
  assert.ok(Math.abs(a - b) < 1e-5);
  const soft = makeObjective('softmax', 8, [0, 5, 3.2]);
  assert.equal((soft as SoftmaxLoss).numLabels, 6);
  soft.dispose();
  const mse = makeObjective('cosine-mse', 8, [0, 1, 1, 0]) as CosineMSELoss;
  assert.deepEqual([mse.labelMin, mse.labelMax], [0, 1]);
  assert.throws(() => makeObjective('softmax', 8, [-1, 1]), /labels ≥ 0/);
  assert.deepEqual(makeObjective('cosent', 8, [0, 1], { scale: 30 }).describe(), {
    name: 'cosent',
    scale: 30,
  });
});
