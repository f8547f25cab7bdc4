/**
 * Spectral normalisation: after 200 power-iteration steps the normalised weight's spectral norm is 1
 * (float64 reference via spectralNormSq, tolerance 1e-3; for a conv kernel, of its [kh·kw·in, out]
 * reshape), and the gradient treats σ's singular vectors as constants (the layer's kernel gradient
 * matches central differences of the loss with u, v frozen). The convolutional nets: shapes, the
 * up-conv is the adjoint of the down-conv with the same filter (⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩, 1e-4
 * relative), and image shapes that do not halve evenly are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { spectralNormSq } from '../penalty/linalg.js';
import { Rng } from '../util/rng.js';
import { centralDifferences, relErr } from '../util/compare.test-util.js';
import { ConvCritic, ConvGenerator, DenseLayer, DownConvLayer, UpConvLayer } from './nets.js';

await initBackend({ quiet: true });

test('spectral normalisation converges to unit spectral norm', () => {
  const layer = new DenseLayer(12, 7, new Rng(1), true);
  for (let i = 0; i < 200; i++) layer.powerIteration();
  const w = Float64Array.from(layer.weight().dataSync());
  // W is [in, out] row-major; the spectral norm is the same for W and Wᵀ
  assert.ok(Math.abs(Math.sqrt(spectralNormSq(w, 12, 7)) - 1) < 1e-3);
  layer.dispose();
});

test('spectral-normalised layer gradient with u, v frozen matches central differences', () => {
  const layer = new DenseLayer(4, 3, new Rng(2), true);
  for (let i = 0; i < 50; i++) layer.powerIteration();
  const x = tf.tensor2d([
    [0.5, -1, 0.3, 2],
    [1, 0.2, -0.4, 0.1],
  ]);
  const loss = () => tf.sum(tf.square(layer.apply(x))) as tf.Scalar;
  const { grads } = tf.variableGrads(loss, [layer.kernel]);
  const g = grads[layer.kernel.name].dataSync();
  const err = relErr(g, centralDifferences(loss, layer.kernel, 1e-2));
  assert.ok(err < 5e-3, `rel err ${err}`);
  layer.dispose();
});

test('a spectrally normalised conv kernel has unit spectral norm in its [kh·kw·in, out] reshape', () => {
  const layer = new DownConvLayer(3, 5, new Rng(4), true);
  for (let i = 0; i < 200; i++) layer.powerIteration();
  const w = Float64Array.from(layer.weight().dataSync());
  assert.ok(Math.abs(Math.sqrt(spectralNormSq(w, 4 * 4 * 3, 5)) - 1) < 1e-3);
  layer.dispose();
});

test('spectral-normalised conv gradient with u, v frozen matches central differences', () => {
  const layer = new DownConvLayer(2, 3, new Rng(5), true);
  for (let i = 0; i < 50; i++) layer.powerIteration();
  const x = tf.tensor4d(
    Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => Math.sin(i)),
    [2, 6, 6, 2],
  );
  const loss = () => tf.sum(tf.square(layer.apply(x))) as tf.Scalar;
  const { grads } = tf.variableGrads(loss, [layer.kernel]);
  const err = relErr(grads[layer.kernel.name].dataSync(), centralDifferences(loss, layer.kernel, 1e-2));
  assert.ok(err < 5e-3, `rel err ${err}`);
  layer.dispose();
  tf.dispose([x, grads[layer.kernel.name]]);
});

test('the up-conv is the adjoint of the down-conv with the same filter', () => {
  const rng = new Rng(6);
  const down = new DownConvLayer(3, 4, rng);
  const up = new UpConvLayer(4, 3, rng);
  up.kernel.assign(down.kernel); // both [4, 4, 3, 4]: conv [kh, kw, in, out], transposed [kh, kw, out, in]
  tf.tidy(() => {
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const y = tf.randomNormal([2, 4, 4, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    // without the biases: conv(x) − b and convᵀ(y) − b'
    const cx = tf.sub(down.apply(x), down.bias);
    const ty = tf.sub(up.apply(y), up.bias);
    assert.deepEqual(ty.shape, [2, 8, 8, 3]);
    const a = tf.sum(tf.mul(cx, y)).dataSync()[0];
    const b = tf.sum(tf.mul(x, ty)).dataSync()[0];
    assert.ok(Math.abs(a - b) <= 1e-4 * Math.abs(a), `${a} vs ${b}`);
  });
  down.dispose();
  up.dispose();
});

test('conv critic and generator: shapes, spectral layers, refused image shapes', () => {
  const critic = new ConvCritic(
    { image: [12, 8, 2], channels: [4, 6], activation: 'leakyRelu', spectral: true },
    1,
  );
  const gen = new ConvGenerator({ zDim: 5, image: [12, 8, 2], channels: [6, 4], outActivation: 'tanh' }, 2);
  tf.tidy(() => {
    const x = gen.apply(tf.randomNormal([3, 5]));
    assert.deepEqual(x.shape, [3, 12 * 8 * 2]);
    assert.ok(Math.max(...Array.from(tf.abs(x).dataSync())) < 1);
    assert.deepEqual(critic.apply(x).shape, [3, 1]);
  });
  // two convs and the head, each with a kernel, a bias and the two singular vectors
  assert.equal(critic.namedParameters().size, 12);
  assert.equal(critic.trainableVariables().length, 6);
  assert.throws(
    () => new ConvCritic({ image: [10, 8, 1], channels: [4, 6], activation: 'relu' }, 1),
    /image 10×8×1: height and width must be positive multiples of 4/,
  );
  critic.dispose();
  gen.dispose();
});
