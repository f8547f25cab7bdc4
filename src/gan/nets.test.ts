/**
 * Spectral normalisation: after 200 power-iteration steps the normalised weight's spectral norm is 1
 * (float64 reference via spectralNormSq, tolerance 1e-3), and the gradient treats σ's singular vectors
 * as constants (the layer's kernel gradient matches central differences of the loss with u, v frozen).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { spectralNormSq } from '../penalty/linalg.js';
import { Rng } from '../util/rng.js';
import { centralDifferences, relErr } from '../util/compare.test-util.js';
import { DenseLayer } from './nets.js';

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
