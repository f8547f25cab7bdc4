/**
 * Penalties on TF.js models: `trainStep` with each penalty takes the SGD step −η∇θ(L + penalty), checked
 * by central differences of the objective (float32, h = 1e-2, 2% relative); `parameterGradientPenalty`
 * takes a LayersModel or its variables alike; `gradientNormalize` honours `training`; seeds as numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { gradientNormalize } from '../gan/gradnorm.js';
import { SpectralNormalization } from '../nn/spectral-norm.js';
import { Rng } from '../util/rng.js';
import { inputGradientPenalty, interpolate, parameterGradientPenalty, trainStep } from './index.js';

await initBackend({ quiet: true });

function classifier(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 5,
        inputShape: [3],
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotNormal({ seed }),
        biasInitializer: 'randomNormal',
      }),
      tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }) }),
    ],
  });
}

const x = tf.tensor2d([
  [0.5, -1, 0.3],
  [1.2, 0.4, -0.7],
  [-0.3, 0.8, 1.1],
  [0.9, -0.2, -1.4],
]);
const y = tf.oneHot(tf.tensor1d([0, 2, 1, 2], 'int32'), 3);

/** L + penalty at the model's current weights, forward only. */
function objective(model: tfl.LayersModel, kind: 'input' | 'parameter', weight: number): number {
  return tf.tidy(() => {
    const per = (xx: tf.Tensor) =>
      tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(model.apply(xx, { training: true }) as tf.Tensor)), -1));
    const mean = () => tf.mean(per(x)) as tf.Scalar;
    const pen =
      kind === 'input'
        ? inputGradientPenalty(per, x, { weight })
        : parameterGradientPenalty(mean, model, { weight }).penalty;
    return tf.add(mean(), pen).dataSync()[0];
  });
}

for (const kind of ['input', 'parameter'] as const) {
  test(`trainStep with the ${kind} penalty takes −η∇θ(L + λ·penalty) (central differences, 2%)`, async () => {
    const model = classifier(3);
    const eta = 0.1;
    const weight = 0.5;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const theta0 = vars.map((v) => v.dataSync().slice());
    const expected = objective(model, kind, weight);
    const sgd = tf.train.sgd(eta);
    const before = tf.memory().numTensors;
    const r = await trainStep(model, sgd, x, y, 'softmaxCrossEntropy', { penalty: kind, weight });
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    assert.ok(Math.abs(r.loss + r.penalty - expected) < 1e-5, `${r.loss} + ${r.penalty} vs ${expected}`);
    assert.ok(r.penalty > 0);
    const step = vars.map((v, i) => Array.from(v.dataSync(), (w, j) => (theta0[i][j] - w) / eta));
    vars.forEach((v, i) => v.assign(tf.tensor(theta0[i], v.shape)));
    const h = 1e-2;
    for (const [i, j] of [
      [0, 0],
      [0, 7],
      [1, 2],
      [2, 4],
      [3, 1],
    ]) {
      const at = (d: number) => {
        const w = theta0[i].slice();
        w[j] += d;
        vars[i].assign(tf.tensor(w, vars[i].shape));
        return objective(model, kind, weight);
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      vars[i].assign(tf.tensor(theta0[i], vars[i].shape));
      assert.ok(
        Math.abs(fd - step[i][j]) <= 0.02 * Math.max(Math.abs(fd), 1e-2),
        `weight ${i}[${j}]: step ${step[i][j]} vs fd ${fd}`,
      );
    }
    sgd.dispose();
    model.dispose();
  });
}

test('parameterGradientPenalty takes the model or its variables alike; trainStep rejects bad input by name', async () => {
  const model = classifier(5);
  const mean = () =>
    tf.mean(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(model.apply(x) as tf.Tensor)), -1))) as tf.Scalar;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const a = parameterGradientPenalty(mean, model, { weight: 2 });
  const b = parameterGradientPenalty(mean, vars, 2); // the older bare-number weight
  assert.equal(a.penalty.dataSync()[0], b.penalty.dataSync()[0]);
  tf.dispose([a.loss, a.penalty, b.loss, b.penalty]);
  assert.throws(
    () => parameterGradientPenalty(mean, {} as never),
    /params: must be a tf\.LayersModel or an array of tf\.Variable/,
  );
  assert.throws(
    () => parameterGradientPenalty(mean, model, { weight: -1 }),
    /weight must be a finite number ≥ 0/,
  );
  const sgd = tf.train.sgd(0.1);
  await assert.rejects(
    trainStep(model, sgd, x, y, 'softmaxCrossEntropy', { penalty: 'l2' as never }),
    /penalty must be 'none', 'input' or 'parameter'/,
  );
  await assert.rejects(
    trainStep(model, sgd, x, y, 'softmaxCrossEntropy', { penalty: 'parameter', center: 1 }),
    /center only applies to penalty: 'input'/,
  );
  await assert.rejects(
    trainStep(model, sgd, x, y, 'crossEntropy' as never),
    /loss: must be a function or one of/,
  );
  await assert.rejects(
    trainStep(model, sgd, x, y, (yt, yp) => tf.losses.meanSquaredError(yt, yp), { penalty: 'input' }),
    /loss: must return one value per sample \(\[4\]\)/,
  );
  await assert.rejects(
    trainStep({} as never, sgd, x, y, 'meanSquaredError'),
    /model: must be a tf\.LayersModel/,
  );
  sgd.dispose();
  model.dispose();
});

test('gradientNormalize honours training: false (no spectral-norm update, dropout off) and rejects bad critics', () => {
  const sn = new SpectralNormalization({
    layer: tfl.layers.dense({ units: 4, activation: 'relu' }),
    inputShape: [3],
    seed: 2,
  });
  const critic = tfl.sequential({
    layers: [sn, tfl.layers.dropout({ rate: 0.5 }), tfl.layers.dense({ units: 1 })],
  });
  const u = () => Array.from(sn.nonTrainableWeights[0].read().dataSync());
  const u0 = u();
  const evalGn = gradientNormalize(critic, { training: false });
  const a = evalGn(x);
  const b = evalGn(x);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), 'deterministic without dropout');
  assert.deepEqual(u(), u0, 'u unchanged at evaluation');
  const viaFunction = gradientNormalize((z) => critic.apply(z, { training: false }) as tf.Tensor)(x);
  assert.deepEqual(Array.from(viaFunction.dataSync()), Array.from(a.dataSync()));
  tf.dispose(gradientNormalize(critic)(x));
  assert.notDeepEqual(u(), u0, 'training mode updates u');
  tf.dispose([a, b, viaFunction]);
  assert.throws(() => gradientNormalize({} as never), /critic: must be a function/);
  assert.throws(
    () => gradientNormalize(critic, { training: 'no' as never }),
    /training must be true or false/,
  );
  assert.throws(() => gradientNormalize(critic, { epsilon: -1 }), /epsilon must be a finite number ≥ 0/);
  critic.dispose();
});

test('interpolate takes a seed number: the same points as a kexue Rng with that seed', () => {
  const real = tf.ones([5, 2]);
  const fake = tf.zeros([5, 2]);
  const a = interpolate(real, fake, 42);
  const b = interpolate(real, fake, new Rng(42));
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  assert.throws(() => interpolate(real, tf.zeros([4, 2]), 1), /real and fake must be tensors of one shape/);
  tf.dispose([real, fake, a, b]);
});
