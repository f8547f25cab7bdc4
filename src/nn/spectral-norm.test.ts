/**
 * SpectralNormalization against a plain reference: σ from power iteration equals the largest singular
 * value of the kernel computed in float64 (eigenvalues of the Gram matrix, `spectralNormSq`; 1e-4
 * relative after 30 iterations), the output equals x·W/σ_ref + b, the kernel gradient matches central
 * differences, and a model with it trains with model.fit and saves/loads (u included). No leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { spectralNormSq } from '../penalty/linalg.js';
import { SpectralNormalization } from './spectral-norm.js';

await initBackend({ quiet: true });

/** σ₁ of a [rows, cols] kernel in float64. */
function sigmaRef(kernel: tf.Tensor): number {
  const units = kernel.shape[kernel.shape.length - 1];
  const rows = kernel.size / units;
  return Math.sqrt(spectralNormSq(Float64Array.from(kernel.dataSync()), rows, units));
}

test('power iteration converges to the float64 largest singular value; output is x·W/σ + b', () => {
  const sn = new SpectralNormalization({
    // Seeded kernels: how fast power iteration converges depends on the gap σ₁ − σ₂ of the draw.
    layer: tfl.layers.dense({
      units: 5,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 11 }),
      biasInitializer: tfl.initializers.randomNormal({ seed: 12 }),
    }),
    powerIterations: 30,
    seed: 1,
    inputShape: [7],
  });
  const model = tfl.sequential({ layers: [sn] });
  const x = tf.randomNormal([4, 7], 0, 1, 'float32', 2);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    model.apply(x, { training: true }); // 30 power-iteration steps, u saved
  });
  assert.equal(tf.memory().numTensors, before, 'a training call leaks nothing');
  const [kernel, bias] = sn.layer.getWeights();
  const ref = sigmaRef(kernel);
  const sigma = tf.tidy(() => sn.normalizedKernel(false).sigma.dataSync()[0]);
  assert.ok(Math.abs(sigma / ref - 1) < 1e-4, `σ ${sigma} vs float64 ${ref}`);
  const diff = tf.tidy(() => {
    const want = tf.add(tf.matMul(x, tf.div(kernel, ref)), bias);
    return tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, want))).dataSync()[0];
  });
  assert.ok(diff < 1e-4, `output vs x·W/σ_ref + b: ${diff}`);
  // The normalised kernel has spectral norm 1.
  const normalized = tf.tidy(() => sn.normalizedKernel(false).kernel);
  assert.ok(Math.abs(sigmaRef(normalized) - 1) < 1e-4);
  tf.dispose([normalized, x]);
  model.dispose();
});

test('Conv2D kernels are normalised as [kh·kw·in, out] matrices', () => {
  const sn = new SpectralNormalization({
    layer: tfl.layers.conv2d({
      filters: 3,
      kernelSize: 2,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 13 }),
    }),
    powerIterations: 40,
    inputShape: [5, 5, 2],
  });
  const model = tfl.sequential({ layers: [sn] });
  const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 3);
  tf.tidy(() => void model.apply(x, { training: true }));
  const sigma = tf.tidy(() => sn.normalizedKernel(false).sigma.dataSync()[0]);
  assert.ok(Math.abs(sigma / sigmaRef(sn.layer.getWeights()[0]) - 1) < 1e-4);
  x.dispose();
  model.dispose();
});

test('kernel gradient through W/σ(W) matches central differences (rel. 2e-3, float32)', () => {
  const sn = new SpectralNormalization({
    layer: tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 14 }) }),
    inputShape: [4],
    seed: 4,
  });
  const model = tfl.sequential({ layers: [sn] });
  const x = tf.randomNormal([6, 4], 0, 1, 'float32', 5);
  const loss = () => tf.sum(tf.square(tf.sin(model.apply(x) as tf.Tensor))) as tf.Scalar;
  const kernel = sn.layer.trainableWeights[0].read() as tf.Variable;
  const { grads, value } = tf.variableGrads(loss, [kernel]);
  const g = grads[kernel.name].dataSync();
  const w0 = kernel.dataSync().slice();
  const h = 1e-2;
  for (const i of [0, 4, 7, 11]) {
    const at = (d: number) => {
      const w = w0.slice();
      w[i] += d;
      kernel.assign(tf.tensor(w, kernel.shape));
      return tf.tidy(() => loss().dataSync()[0]);
    };
    const fd = (at(h) - at(-h)) / (2 * h);
    kernel.assign(tf.tensor(w0, kernel.shape));
    assert.ok(Math.abs(fd - g[i]) <= 2e-3 * Math.max(1, Math.abs(fd)), `element ${i}: ${g[i]} vs ${fd}`);
  }
  tf.dispose([x, value, ...Object.values(grads)]);
  model.dispose();
});

test('a model with SpectralNormalization trains with model.fit and saves/loads (u included)', async () => {
  const model = tfl.sequential({
    layers: [
      new SpectralNormalization({
        layer: tfl.layers.dense({ units: 8, activation: 'relu' }),
        inputShape: [3],
        seed: 6,
      }),
      new SpectralNormalization({ layer: tfl.layers.dense({ units: 1 }), seed: 7 }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  const x = tf.randomNormal([32, 3], 0, 1, 'float32', 8);
  const y = tf.sum(x, 1, true);
  const u0 = (model.layers[0] as SpectralNormalization).nonTrainableWeights[0].read().dataSync().slice();
  const h = await model.fit(x, y, { epochs: 5, batchSize: 16, verbose: 0 });
  const losses = h.history.loss as number[];
  assert.ok(losses[4] < losses[0], `loss fell: ${losses}`);
  const u1 = (model.layers[0] as SpectralNormalization).nonTrainableWeights[0].read().dataSync();
  assert.notDeepEqual(Array.from(u1), Array.from(u0), 'fit updated u');
  assert.equal(model.trainableWeights.length, 4);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
  assert.ok(loaded.layers[0] instanceof SpectralNormalization);
  assert.equal((loaded.layers[0] as SpectralNormalization).layer.getClassName(), 'Dense');
  const diff = tf.tidy(
    () => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor))).dataSync()[0],
  );
  assert.equal(diff, 0, 'same weights and u: same predictions');
  tf.dispose([x, y]);
  model.dispose();
  loaded.dispose();
});

test('layers without a kernel and bad settings are clear errors', () => {
  assert.throws(
    () =>
      tfl.sequential({
        layers: [
          new SpectralNormalization({
            layer: tfl.layers.activation({ activation: 'relu' }),
            inputShape: [3],
          }),
        ],
      }),
    /SpectralNormalization: layer '.*' \(Activation\) has no kernel to normalise/,
  );
  assert.throws(
    () => new SpectralNormalization({ layer: tfl.layers.dense({ units: 1 }), powerIterations: 0 }),
    /powerIterations must be an integer ≥ 1/,
  );
  assert.throws(() => new SpectralNormalization({ layer: {} as never }), /layer must be a tf\.layers\.Layer/);
});
