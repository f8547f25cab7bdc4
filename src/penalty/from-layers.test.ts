/**
 * Regression: `gradientPenaltyInequality(layersModel)` used to throw a TypeError, and hand-converted Dense
 * kernels ([in, out]) silently gave the inequality of a different network. A LayersModel is now read
 * directly; its f, ‖∇ₓf‖² and ‖∇_θf‖² are checked against TF.js's own forward pass and autodiff
 * (float32: within 1e-4 relative), and anything that is not a chain of Dense layers is rejected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import {
  gradientPenaltyInequality,
  gradientPenaltyInequalityAsync,
  gradientPenaltyInequalityBatch,
  gradientPenaltyInequalityBatchAsync,
  mlpFromLayersModel,
  mlpFromLayersModelAsync,
} from './index.js';

await initBackend({ quiet: true });

function denseModel(
  activations: string[],
  widths: number[],
  inputDim: number,
  useBias = true,
): tfl.LayersModel {
  tf.util.assert(activations.length === widths.length, () => 'one activation per layer');
  return tfl.sequential({
    layers: widths.map((units, t) =>
      tfl.layers.dense({
        units,
        activation: activations[t] as 'relu',
        useBias,
        biasInitializer: 'randomNormal',
        ...(t === 0 && { inputShape: [inputDim] }),
      }),
    ),
  });
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

for (const [acts, useBias] of [
  [['tanh', 'relu', 'linear'], true],
  [['gelu', 'tanh', 'linear'], false],
] as const) {
  test(`LayersModel (${acts.join('/')}, bias ${useBias}): f, ‖∇ₓf‖², ‖∇θf‖² equal TF.js autodiff; left ≤ right; async alike`, async () => {
    const model = denseModel([...acts], [7, 5, 1], 4, useBias);
    const rng = new Rng(3);
    const before = tf.memory().numTensors;
    for (let k = 0; k < 5; k++) {
      const x = Array.from({ length: 4 }, () => rng.normal());
      const r = gradientPenaltyInequality(model, x);
      const [f, gx, gTheta] = tf.tidy(() => {
        const xt = tf.tensor2d([x]);
        const fx = (model.apply(xt) as tf.Tensor).dataSync()[0];
        const gIn = tf.grad((z: tf.Tensor) => tf.sum(model.apply(z) as tf.Tensor))(xt);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { grads } = tf.variableGrads(() => tf.sum(model.apply(xt) as tf.Tensor) as tf.Scalar, vars);
        const sq = Object.values(grads).reduce((a, g) => a + tf.sum(tf.square(g)).dataSync()[0], 0);
        return [fx, tf.sum(tf.square(gIn)).dataSync()[0], sq];
      });
      assert.ok(Math.abs(r.f - f) < 1e-5, `f ${r.f} vs ${f}`);
      assert.ok(rel(r.inputGradNormSq, gx) < 1e-4, `‖∇ₓf‖² ${r.inputGradNormSq} vs ${gx}`);
      assert.ok(rel(r.paramGradNormSq, gTheta) < 1e-4, `‖∇θf‖² ${r.paramGradNormSq} vs ${gTheta}`);
      assert.ok(r.left <= r.right * (1 + 1e-9));
    }
    // A tensor point and a batch give the same numbers.
    const x = [0.25, -0.5, 0.75, 1.125]; // float32-exact, so the tensor reads the same point
    const xt = tf.tensor1d(x);
    assert.deepEqual(gradientPenaltyInequality(model, xt), gradientPenaltyInequality(model, x));
    const xb = tf.tensor2d([x, x.map((v) => -v)]);
    const batch = gradientPenaltyInequalityBatch(model, xb);
    assert.deepEqual(batch[0], gradientPenaltyInequality(model, x));
    assert.deepEqual(gradientPenaltyInequalityBatch(model, [x, x.map((v) => -v)]), batch);
    assert.deepEqual(await gradientPenaltyInequalityAsync(model, xt), gradientPenaltyInequality(model, x));
    assert.deepEqual(await gradientPenaltyInequalityBatchAsync(model, xb), batch);
    assert.deepEqual(await mlpFromLayersModelAsync(model), mlpFromLayersModel(model));
    await assert.rejects(gradientPenaltyInequalityAsync(model, xb), /x: must be one point/);
    await assert.rejects(gradientPenaltyInequalityBatchAsync(model, xt), /x: must be a \[n, d\] tensor/);
    tf.dispose([xt, xb]);
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  });
}

test('anything but a chain of Dense layers is a clear error, never a silent value', () => {
  const x = [0.1, 0.2, 0.3, 0.4];
  const withActivationLayer = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 3, inputShape: [4] }),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  assert.throws(
    () => gradientPenaltyInequality(withActivationLayer, x),
    /model: layer 1 \('.*'\) is a Activation; only Dense layers/,
  );
  const softmax = denseModel(['softmax', 'linear'], [3, 1], 4);
  assert.throws(
    () => gradientPenaltyInequality(softmax, x),
    /activation 'softmax'; supported: relu, tanh, gelu, linear/,
  );
  const twoOut = denseModel(['relu', 'linear'], [3, 2], 4);
  assert.throws(() => gradientPenaltyInequality(twoOut, x), /the last layer must have one unit, got 2/);
  // A skip connection is not a chain.
  const inp = tfl.input({ shape: [4] });
  const h = tfl.layers.dense({ units: 4 }).apply(inp) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([h, inp]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 1 }).apply(sum) as tfl.SymbolicTensor;
  assert.throws(
    () => mlpFromLayersModel(tfl.model({ inputs: inp, outputs: out })),
    /model: layer 1 .* is a Add|does not take/,
  );
  const ok = denseModel(['relu', 'linear'], [3, 1], 4);
  assert.throws(() => gradientPenaltyInequality(ok, [1, 2, 3]), /x: has 3 values but the MLP takes 4/);
  assert.throws(() => gradientPenaltyInequality(ok, [1, 2, NaN, 3]), /x: value 2 is NaN/);
  assert.throws(
    () => gradientPenaltyInequality({} as never, x),
    /model: must be a tf\.LayersModel of Dense layers/,
  );
  assert.throws(
    () =>
      gradientPenaltyInequality(
        {
          layers: [
            {
              inDim: 4,
              outDim: 1,
              weight: new Float64Array(4),
              bias: new Float64Array(1),
              activation: 'elu' as never,
            },
          ],
        },
        x,
      ),
    /layer 0: unknown activation 'elu'/,
  );
  for (const m of [withActivationLayer, softmax, twoOut, ok]) m.dispose();
});
