/**
 * The penalty experiment's classifiers: the MLP's float64 per-class scalar network reproduces its
 * logits (1e-4), and both penalised losses of the CNN (double backprop through conv2d) have weight
 * gradients matching central differences (tanh variant, h = 1e-2, relative L2 error ≤ 1e-2 over the first conv
 * kernel; float32).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { centralDifferences, relErr } from '../util/compare.test-util.js';
import { MlpClassifier, SmallCnn, penalisedLoss, type PenaltyKind } from './classifiers.js';
import { mlpPass } from './inequality.js';

await initBackend({ quiet: true });
await tf.setBackend('cpu');

function images(rng: Rng, n: number): tf.Tensor2D {
  return tf.tensor2d(
    Array.from({ length: n * 784 }, () => rng.next()),
    [n, 784],
  );
}

test('MlpClassifier.toScalarMlp reproduces the logits', () => {
  const rng = new Rng(1);
  const model = new MlpClassifier(rng, [16, 8]);
  const x = images(rng, 3);
  const logits = model.logits(x).arraySync();
  const xs = x.arraySync();
  for (let i = 0; i < 3; i++) {
    for (const y of [0, 4, 9]) {
      const f = mlpPass(model.toScalarMlp(y), xs[i]).f;
      assert.ok(Math.abs(f - logits[i][y]) < 1e-4 * (1 + Math.abs(f)), `sample ${i} class ${y}`);
    }
  }
  model.dispose();
});

for (const kind of ['input', 'parameter'] as PenaltyKind[]) {
  test(`CNN with the ${kind} penalty: weight gradients vs central differences`, () => {
    const rng = new Rng(2);
    // tanh: with ReLU the input penalty jumps where units switch, so finite differences are meaningless
    const model = new SmallCnn(rng, 'tanh');
    const x = images(rng, 2);
    const y = tf.oneHot(tf.tensor1d([3, 7], 'int32'), 10) as tf.Tensor2D;
    const loss = () => penalisedLoss(model, x, y, kind, 1);
    const k1 = model.trainableVariables()[0];
    const { grads } = tf.variableGrads(loss, [k1]);
    const g = grads[k1.name].dataSync();
    const err = relErr(g, centralDifferences(loss, k1, 1e-2));
    assert.ok(err <= 1e-2, `rel err ${err}`);
    model.dispose();
  });
}
