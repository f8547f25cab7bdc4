/**
 * Training loop, schedule, saving and the small helpers: no tensor leaks across epochs, a resumed run
 * equals the uninterrupted one, NaN stops training, a saved model reproduces its log weights, AUROC
 * against the pairwise definition, active units, binarization.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError } from '../io/errors.js';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { VAEModel, paperConfig, type VAEConfig } from './build.js';
import { PAPER_EPOCHS, VAETrainer, paperLearningRate } from './trainer.js';
import { loadVAE, saveVAE, vaeArtifacts, vaeFromArtifacts } from './io.js';
import { auroc, likelihoodRatio } from './ood.js';
import { activeUnits, activeUnitsAsync } from './units.js';
import { binarize, binarizeFixed, logitMean, perturb } from './data.js';
import { VAE } from './vae.js';

await initBackend({ quiet: true });

const tiny: VAEConfig = { dataDim: 12, latent: [3], hidden: [[8]], likelihood: 'bernoulli' };
const tiny2: VAEConfig = { dataDim: 12, latent: [4, 2], hidden: [[8], [5]], likelihood: 'bernoulli' };

function images(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  // Two prototypes with noise: something a tiny VAE can learn.
  return Float32Array.from({ length: n * 12 }, (_, i) => {
    const proto = Math.floor(i / 12) % 2 === 0 ? i % 12 < 6 : i % 12 >= 6;
    return Math.min(1, Math.max(0, (proto ? 0.9 : 0.1) + 0.05 * rng.normal()));
  });
}

const weights = (m: VAEModel) => [...m.namedParameters().values()].flatMap((v) => Array.from(v.dataSync()));

test('the paper schedule: 8 stages of 3^(i−1) epochs from 1e-3 down to 1e-4', () => {
  assert.equal(PAPER_EPOCHS, 3280);
  const at = (epoch: number) => paperLearningRate(epoch / PAPER_EPOCHS);
  assert.equal(at(0), 1e-3);
  assert.ok(Math.abs(at(1.5) - 7.2e-4) < 1e-12); // stage 2 = epochs [1, 4)
  assert.ok(Math.abs(at(4) - 5.2e-4) < 1e-12);
  assert.ok(Math.abs(at(1092) - 1.4e-4) < 1e-12); // stage 7 starts at 364, stage 8 at 1093
  assert.ok(Math.abs(at(1093) - 1e-4) < 1e-12);
  assert.ok(Math.abs(at(3280) - 1e-4) < 1e-12);
});

for (const [name, config, objective, estimator] of [
  ['one layer, iwae', tiny, 'iwae', 'standard'],
  ['two layers, iwae + DReG', tiny2, 'iwae', 'dreg'],
  ['one layer, vae', tiny, 'vae', 'standard'],
] as const) {
  test(`training (${name}): the bound improves, no tensors leak across epochs`, () => {
    const data = images(60, 1);
    const model = VAEModel.build(config, { seed: 1, outputBias: logitMean(data, 12) });
    const tr = new VAETrainer(
      model,
      data,
      { objective, estimator, k: 3, epochs: 6, batchSize: 10, learningRate: 1e-2, seed: 2 },
      model.namedParameters(),
    );
    const first = tr.trainEpoch().bound;
    const count = tf.memory().numTensors;
    let last = first;
    for (let e = 1; e < 6; e++) last = tr.trainEpoch().bound;
    assert.equal(tf.memory().numTensors, count);
    assert.ok(last > first, `bound ${first} → ${last}`);
    tr.dispose();
    model.dispose();
  });
}

test('a run resumed from a saved model and optimizer state continues exactly like the uninterrupted run', async () => {
  const data = images(40, 3);
  const opts = { objective: 'iwae' as const, k: 4, epochs: 3, batchSize: 10, learningRate: 5e-3, seed: 4 };
  const a = VAEModel.build(tiny, { seed: 5 });
  const ta = new VAETrainer(a, data, opts, a.namedParameters());
  for (let e = 0; e < 3; e++) ta.trainEpoch();
  const b = VAEModel.build(tiny, { seed: 5 });
  const tb = new VAETrainer(b, data, opts, b.namedParameters());
  tb.trainEpoch();
  const c = vaeFromArtifacts(await vaeArtifacts(b));
  const tc = new VAETrainer(c, data, opts, c.namedParameters());
  await tc.optimizer.setWeights(await tb.optimizer.getWeights());
  tc.epoch = 1;
  tc.trainEpoch();
  tc.trainEpoch();
  const wa = weights(a);
  const wc = weights(c);
  assert.ok(
    wa.every((v, i) => Math.abs(v - wc[i]) < 1e-6),
    'weights differ after resuming',
  );
  for (const t of [ta, tb, tc]) t.dispose();
  for (const m of [a, b, c]) m.dispose();
});

test('trainEpochAsync and stepAsync train exactly like trainEpoch and step', async () => {
  const data = images(40, 7);
  const opts = { objective: 'iwae' as const, k: 3, epochs: 2, batchSize: 10, learningRate: 5e-3, seed: 8 };
  const a = VAEModel.build(tiny, { seed: 9 });
  const b = VAEModel.build(tiny, { seed: 9 });
  const ta = new VAETrainer(a, data, opts, a.namedParameters());
  const tb = new VAETrainer(b, data, opts, b.namedParameters());
  const seen: number[] = [];
  for (let e = 0; e < 2; e++) {
    const sa = ta.trainEpoch();
    const sb = await tb.trainEpochAsync((running) => seen.push(running));
    assert.equal(sb.bound, sa.bound);
  }
  assert.equal(seen.length, 2 * tb.batchesPerEpoch);
  const x = tf.tensor2d(binarizeFixed(data.subarray(0, 120), 1), [10, 12]);
  assert.equal(await tb.stepAsync(x, 1e-3, 5), ta.step(x, 1e-3, 5));
  x.dispose();
  assert.deepEqual(weights(b), weights(a));
  for (const t of [ta, tb]) t.dispose();
  for (const m of [a, b]) m.dispose();
});

test('a NaN bound stops training with a DivergenceError before the update', () => {
  const data = images(10, 6);
  const model = VAEModel.build(tiny, { seed: 1 });
  const opts = { objective: 'iwae', k: 2, epochs: 1, batchSize: 10, binarization: 'none' } as const;
  const nanData = Float32Array.from(data);
  nanData[5] = NaN; // NaN data is refused up front, before any step
  assert.throws(() => new VAETrainer(model, nanData, opts), /x has a non-finite value \(NaN\) at row 0/);
  const tr = new VAETrainer(model, data, opts, model.namedParameters());
  const [first] = model.namedParameters().values();
  first.assign(tf.fill(first.shape, NaN)); // a weight gone bad: the first bound is NaN
  assert.throws(
    () => tr.trainEpoch(),
    (e: Error) =>
      e instanceof DivergenceError &&
      /training diverged: the bound \(NaN\) is not finite at step 1/.test(e.message),
  );
  tr.dispose();
  model.dispose();
});

test('save/load through a TF.js IOHandler reproduces the log weights; bad artifacts are errors', async () => {
  const model = VAEModel.build(paperConfig(2, 12), { seed: 7 });
  let saved: tf.io.ModelArtifacts | undefined;
  await saveVAE(
    model,
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  assert.ok(saved);
  const loaded = await loadVAE(tf.io.fromMemory(saved));
  const x = tf.tensor2d(binarizeFixed(images(3, 8)), [3, 12]);
  const rng = new Rng(1);
  const noise = [100, 50].map((d) =>
    tf.tensor3d(
      Float32Array.from({ length: 3 * 4 * d }, () => rng.normal()),
      [3, 4, d],
    ),
  );
  const a = model.logWeights(x, 4, { noise }).dataSync();
  const b = loaded.logWeights(x, 4, { noise }).dataSync();
  assert.deepEqual(Array.from(a), Array.from(b));
  const broken = { ...saved, weightData: (saved.weightData as ArrayBuffer).slice(8) };
  assert.throws(() => vaeFromArtifacts(broken), /bytes, the manifest needs/);
  assert.throws(
    () => vaeFromArtifacts({ ...saved, modelTopology: { format: 'other' } }),
    /not a kexue-vae model/,
  );
  tf.dispose([x, ...noise]);
  model.dispose();
  loaded.dispose();
});

test('AUROC equals the pairwise definition (ties count ½); likelihood ratio subtracts', () => {
  const rng = new Rng(9);
  const a = Array.from({ length: 40 }, () => Math.round(3 * rng.normal()));
  const b = Array.from({ length: 30 }, () => Math.round(3 * rng.normal() - 1));
  let s = 0;
  for (const x of a) for (const y of b) s += x > y ? 1 : x === y ? 0.5 : 0;
  assert.ok(Math.abs(auroc(a, b) - s / (a.length * b.length)) < 1e-12);
  assert.equal(auroc([1, 2], [3, 4]), 0);
  assert.deepEqual(Array.from(likelihoodRatio([1, 2], [0.5, 3])), [0.5, -1]);
  assert.throws(() => auroc([], [1]), /inDist: no scores/);
});

test('active units count posterior means whose variance over the data exceeds 0.01 (sync and async)', async () => {
  // Encoder: unit 0 copies x₀ (variance ≈ 1), unit 1 is 0.05·x₀ (variance ≈ 0.0025), unit 2 constant.
  const enc = (x: tf.Tensor2D) =>
    tf.tidy(() => {
      const x0 = tf.slice(x, [0, 0], [-1, 1]);
      return tf.concat([x0, tf.mul(x0, 0.05), tf.zerosLike(x0), tf.zeros([x.shape[0], 3])], 1);
    });
  const vae = new VAE({
    dataDim: 2,
    latentDims: [3],
    encoders: [enc],
    decoders: [(z: tf.Tensor2D) => tf.slice(z, [0, 0], [-1, 2])],
  });
  const rng = new Rng(10);
  const x = tf.tensor2d(
    Float32Array.from({ length: 400 }, () => rng.normal()),
    [200, 2],
  );
  const before = tf.memory().numTensors;
  const sync = activeUnits(vae, x);
  assert.deepEqual(sync.active, [1]);
  assert.deepEqual(await activeUnitsAsync(vae, x), sync);
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  x.dispose();
});

test('binarization draws Bernoulli(p); the fixed one is reproducible; perturbation replaces about `rate` of the pixels', () => {
  const p = new Float32Array(20000).fill(0.3);
  const b = binarize(p, new Rng(1));
  const m = b.reduce((s, v) => s + v, 0) / b.length;
  assert.ok(Math.abs(m - 0.3) < 0.015 && b.every((v) => v === 0 || v === 1));
  assert.deepEqual(binarizeFixed(p, 2), binarizeFixed(p, 2));
  const q = perturb(p, 0.2, new Rng(3));
  const changed = q.filter((v) => v !== Math.fround(0.3)).length / q.length;
  assert.ok(Math.abs(changed - 0.2) < 0.015);
  assert.ok(Math.abs(logitMean(Float32Array.from([0.5, 1, 0.5, 1]), 2)[1] - Math.log(0.999 / 0.001)) < 1e-3);
});
