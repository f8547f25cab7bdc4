/**
 * kexue's building blocks used as TF.js ones: AdamW in model.compile/model.fit (equal to the
 * named-parameter step, itself checked against plain JS in optim.test.ts), saved and loaded with the
 * model and its state; the warmup callback; BERT's truncated normal as a registered initializer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { AdamW } from './optim.js';
import { LearningRateScheduler, warmupCallback, warmupSchedule } from './schedule.js';
import { BertTruncatedNormal } from './tfjs-init.js';
import { truncatedStd } from './init.js';

await initBackend({ quiet: true });

function data(n: number, seed: number) {
  const rng = new Rng(seed);
  const x = Array.from({ length: n }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const y = x.map((r) => [2 * r[0] - r[1] + 0.5 * r[2] + 0.1 * rng.normal(), r[0] * r[1]]);
  return { x: tf.tensor2d(x), y: tf.tensor2d(y) };
}

function tinyModel(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 4,
        inputShape: [3],
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

const maxDiff = (a: tf.Tensor[], b: tf.Tensor[]) =>
  Math.max(...a.map((t, i) => tf.max(tf.abs(tf.sub(t, b[i]))).dataSync()[0]));

test('AdamW in model.compile + model.fit with the warmup callback equals AdamW.step with the same schedule (1e-6)', async () => {
  const { x, y } = data(16, 1);
  const opts = { weightDecay: 0.1, clipNorm: 0.5 };
  const sched = { peak: 0.05, warmupSteps: 3, totalSteps: 8 };
  const model = tinyModel(7);
  const reference = tinyModel(7);
  const before = tf.memory().numTensors;
  const optimizer = new AdamW({ learningRate: 1, ...opts });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const rates: number[] = [];
  const scheduler = warmupCallback(sched);
  const record = new (class extends tfl.Callback {
    override async onBatchEnd() {
      rates.push(optimizer.learningRate);
    }
  })();
  const history = await model.fit(x, y, {
    epochs: 4,
    batchSize: 8,
    shuffle: false,
    verbose: 0,
    callbacks: [scheduler, record],
  });
  const schedule = warmupSchedule(sched);
  assert.deepEqual(
    rates,
    Array.from({ length: 8 }, (_, s) => schedule(s)),
    'one rate per batch, from the global step',
  );
  const losses = history.history.loss as number[];
  assert.ok(losses[3] < losses[0], `loss fell: ${losses}`);

  // The same 8 updates through the named-parameter path.
  const params = new Map(reference.trainableWeights.map((w) => [w.originalName, w.read() as tf.Variable]));
  const ref = new AdamW(params, opts);
  for (let s = 0; s < 8; s++) {
    const b = s % 2;
    const [xb, yb] = [tf.slice(x, [8 * b, 0], [8, 3]), tf.slice(y, [8 * b, 0], [8, 2])];
    const { grads, value } = tf.variableGrads(
      () => tf.losses.meanSquaredError(yb, reference.apply(xb) as tf.Tensor) as tf.Scalar,
      [...params.values()],
    );
    const byName = new Map([...params].map(([n, v]) => [n, grads[v.name]]));
    ref.step(byName, schedule(s));
    tf.dispose([xb, yb, value, ...Object.values(grads)]);
  }
  assert.equal(optimizer.iterations, 8);
  const diff = tf.tidy(() => maxDiff(model.getWeights(), reference.getWeights()));
  assert.ok(diff < 1e-6, `fit vs step: max |Δw| ${diff}`);
  ref.dispose();
  reference.dispose();
  // Since `before`: the reference model's 4 weights are gone, the optimizer's 2 moments × 4 weights added.
  assert.equal(tf.memory().numTensors, before - 4 + 8);
  model.dispose();
  optimizer.dispose();
  tf.dispose([x, y]);
});

test('a model compiled with AdamW saves and loads with its optimizer config and state; training continues identically', async () => {
  const { x, y } = data(12, 2);
  const model = tinyModel(3);
  model.compile({
    optimizer: new AdamW({ learningRate: 0.02, weightDecay: 0.05, clipNorm: 2 }),
    loss: 'meanSquaredError',
  });
  await model.fit(x, y, { epochs: 3, batchSize: 12, verbose: 0 });
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
  const lo = loaded.optimizer as AdamW;
  assert.ok(lo instanceof AdamW, 'deserialized as kexue AdamW');
  assert.deepEqual(lo.getConfig(), {
    learningRate: 0.02,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-6,
    weightDecay: 0.05,
    clipNorm: 2,
  });
  assert.equal(lo.iterations, 3);
  await model.fit(x, y, { epochs: 2, batchSize: 12, verbose: 0 });
  await loaded.fit(x, y, { epochs: 2, batchSize: 12, verbose: 0 });
  const diff = tf.tidy(() => maxDiff(model.getWeights(), loaded.getWeights()));
  assert.ok(diff < 1e-7, `continued training differs by ${diff}`);
  (model.optimizer as AdamW).dispose();
  lo.dispose();
  model.dispose();
  loaded.dispose();
  tf.dispose([x, y]);
});

test('AdamW and the schedules reject bad settings by name', () => {
  assert.throws(
    () => new AdamW({ learningRate: -1 }),
    /AdamW options: learningRate must be a finite number ≥ 0/,
  );
  assert.throws(() => new AdamW({ beta1: 1 }), /beta1 must be in \[0, 1\)/);
  assert.throws(() => new AdamW({ clipNorm: 0 }), /clipNorm must be a finite number > 0/);
  const opt = new AdamW();
  assert.throws(() => opt.step(new Map(), 0.1), /step\(\) needs an AdamW made over named parameters/);
  assert.throws(
    () => warmupSchedule({ peak: 1, warmupSteps: 10, totalSteps: 5 }),
    /schedule: needs peak ≥ 0 and 0 ≤ warmupSteps ≤ totalSteps/,
  );
  assert.throws(
    () => warmupSchedule({ peak: 1, warmupSteps: 1, totalSteps: 5, decay: 'exp' as never }),
    /decay must be 'linear', 'cosine' or 'constant'/,
  );
  assert.throws(() => new LearningRateScheduler(3 as never), /schedule: must be a function/);
  // tf.train.sgd keeps its rate in a tensor: the callback goes through setLearningRate.
  const model = tinyModel(1);
  const sgd = tf.train.sgd(1);
  model.compile({ optimizer: sgd, loss: 'meanSquaredError' });
  const { x, y } = data(4, 3);
  return model
    .fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, callbacks: [new LearningRateScheduler(() => 0.25)] })
    .then(() => {
      assert.equal((sgd as unknown as { learningRate: number }).learningRate, 0.25);
      tf.dispose([x, y]);
      model.dispose();
      sgd.dispose();
    });
});

test('BertTruncatedNormal: std σ·0.8796, within ±2σ, by class and by name in tf.layers, seeded, saved and loaded', async () => {
  const init = new BertTruncatedNormal({ seed: 5 });
  const w = init.apply([200, 100]);
  const v = Array.from(w.dataSync());
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  // 20,000 draws: the sample std is within 2% of truncatedStd(0.02) = 0.01759 (≈ 4 standard errors).
  assert.ok(Math.abs(std / truncatedStd(0.02) - 1) < 0.02, `std ${std}`);
  assert.ok(Math.abs(mean) < (4 * 0.0176) / Math.sqrt(v.length), `mean ${mean}`);
  assert.ok(Math.max(...v.map(Math.abs)) <= 0.04 + 1e-9);
  w.dispose();

  const build = () =>
    tfl.sequential({
      layers: [
        tfl.layers.dense({
          units: 6,
          inputShape: [5],
          kernelInitializer: new BertTruncatedNormal({ seed: 9 }),
        }),
        tfl.layers.dense({ units: 3, kernelInitializer: 'BertTruncatedNormal' as never }),
      ],
    });
  const a = build();
  const b = build();
  assert.deepEqual(a.getWeights()[0].dataSync(), b.getWeights()[0].dataSync(), 'same seed, same weights');
  assert.ok(Math.max(...a.getWeights()[2].dataSync().map(Math.abs)) <= 0.04 + 1e-9, 'by name: σ = 0.02');
  const json = JSON.stringify(a.toJSON(null, false));
  assert.match(json, /"class_name":"BertTruncatedNormal","config":\{"stddev":0.02,"seed":9\}/);
  let saved: tf.io.ModelArtifacts | undefined;
  await a.save(
    tf.io.withSaveHandler(async (art) => {
      saved = art;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
  const kernelInit = (loaded.layers[0] as unknown as { kernelInitializer: unknown }).kernelInitializer;
  assert.ok(kernelInit instanceof BertTruncatedNormal && kernelInit.stddev === 0.02 && kernelInit.seed === 9);
  a.getWeights().forEach((t, i) => assert.deepEqual(t.dataSync(), loaded.getWeights()[i].dataSync()));
  assert.throws(
    () => new BertTruncatedNormal({ stddev: 0 }),
    /BertTruncatedNormal: stddev must be a positive number/,
  );
  for (const m of [a, b, loaded]) m.dispose();
});
