import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { defaultGroup, diagnoseGradients, diagnoseGradientsAsync } from './diagnose.js';
import { Encoder } from '../encoder/model.js';
import { MlmMasker, makeMlmBatch, mlmLoss, disposeBatch, type MlmBatch } from '../encoder/mlm.js';
import { Rng } from '../util/rng.js';

await initBackend();

test('groups: layer index paths and first components', () => {
  assert.equal(defaultGroup('layers.3.attention.query.kernel'), 'layers.3');
  assert.equal(defaultGroup('encoder.layer.11.output.dense.kernel'), 'encoder.layer.11');
  assert.equal(defaultGroup('embeddings.word.table'), 'embeddings');
  assert.equal(defaultGroup('dense_Dense1/kernel'), 'dense_Dense1');
});

test('norms and update ratios match hand computation on a quadratic (|Δ| < 1e-5), sync and async', async () => {
  const w = tf.variable(tf.tensor1d([3, -4]));
  const b = tf.variable(tf.tensor1d([0, 0]));
  const params = new Map([
    ['layers.0.w', w],
    ['layers.0.b', b],
  ]);
  // loss = Σ w² + Σ (b − 1)²: gradients 2w = (6, −8) and 2(b − 1) = (−2, −2).
  const loss = (p: typeof params) =>
    tf.add(
      tf.sum(tf.square(p.get('layers.0.w')!)),
      tf.sum(tf.square(tf.sub(p.get('layers.0.b')!, 1))),
    ) as tf.Scalar;
  const sgd = diagnoseGradients(params, null, loss, { lr: 0.1 });
  assert.ok(Math.abs(sgd.loss - 27) < 1e-5);
  const [pw, pb] = sgd.params;
  assert.ok(
    Math.abs(pw.gradNorm - 10) < 1e-5 &&
      Math.abs(pw.weightNorm - 5) < 1e-5 &&
      Math.abs(pw.updateRatio - 0.2) < 1e-5,
  );
  assert.ok(Math.abs(pb.gradNorm - Math.SQRT2 * 2) < 1e-5 && pb.updateRatio === Infinity);
  assert.equal(sgd.groups.length, 1);
  assert.ok(Math.abs(sgd.groups[0].gradNorm - Math.sqrt(108)) < 1e-4);
  const adam = diagnoseGradients(params, null, loss, { lr: 0.1, rule: 'adam' });
  assert.ok(Math.abs(adam.params[0].updateNorm - 0.1 * Math.SQRT2) < 1e-5);
  assert.deepEqual(Array.from(w.dataSync()), [3, -4]); // nothing changed
  const before = tf.memory().numTensors;
  assert.deepEqual(await diagnoseGradientsAsync(params, null, loss, { lr: 0.1, rule: 'adam' }), adam);
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  await assert.rejects(diagnoseGradientsAsync(params, null, loss, { lr: 0 }), /lr must be a positive number/);
  tf.dispose([w, b]);
});

test('encoder: one group per block, in order; works on a tfjs-layers model too', () => {
  const m = new Encoder({ vocabSize: 30, hidden: 16, layers: 3, heads: 2, dropout: 0, attentionDropout: 0 });
  const masker = new MlmMasker({ vocabSize: 30, maskId: 4, specialIds: new Set([0, 1, 2, 3, 4]) });
  const batch = makeMlmBatch([[2, 10, 11, 12, 13, 14, 3]], masker, 0, new Rng(1));
  const r = diagnoseGradients(m, batch, (mm: Encoder, b: MlmBatch) => mlmLoss(mm, b, true).loss);
  assert.deepEqual(
    r.groups.map((g) => g.group),
    ['embeddings', 'layers.0', 'layers.1', 'layers.2', 'mlm'],
  );
  for (const g of r.groups) assert.ok(g.gradNorm > 0 && Number.isFinite(g.updateRatio));
  disposeBatch(batch);
  m.dispose();

  const seq = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 4, inputShape: [3], activation: 'tanh' }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  const vars = seq.trainableWeights.map((w) => ({ name: w.name, variable: w.read() as tf.Variable }));
  const x = tf.randomNormal([8, 3], 0, 1, 'float32', 1);
  const lr = diagnoseGradients(
    vars,
    x,
    (_v, xb: tf.Tensor) => tf.mean(tf.square(seq.apply(xb) as tf.Tensor)) as tf.Scalar,
  );
  assert.equal(lr.params.length, 4);
  assert.ok(lr.params.every((p) => p.gradNorm > 0));
  x.dispose();
  seq.dispose();
});

test('regression: diagnoseGradients takes a tf.LayersModel (it failed with model.map is not a function)', () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 5, inputShape: [3], activation: 'tanh' }),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  const x = tf.tensor2d([
    [0.1, -0.4, 0.8],
    [1.2, 0.3, -0.5],
  ]);
  const y = tf.tensor2d([
    [1, 0],
    [0, 1],
  ]);
  const loss = (m: tfl.LayersModel, b: { x: tf.Tensor; y: tf.Tensor }) =>
    tf.losses.meanSquaredError(b.y, m.apply(b.x) as tf.Tensor) as tf.Scalar;
  const weightsBefore = model.getWeights().map((w) => Array.from(w.dataSync()));
  const before = tf.memory().numTensors;
  const report = diagnoseGradients(model, { x, y }, loss, { lr: 1e-2 });
  assert.equal(tf.memory().numTensors, before);
  // Reference: TF.js autodiff of the same loss over the model's trainable weights.
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => loss(model, { x, y }), vars);
  assert.deepEqual(
    report.params.map((p) => p.name),
    model.trainableWeights.map((w) => w.name),
  );
  report.params.forEach((p, i) => {
    const g = Math.sqrt(tf.sum(tf.square(grads[vars[i].name])).dataSync()[0]);
    assert.ok(Math.abs(p.gradNorm - g) <= 1e-6 * Math.max(1, g), `${p.name}: ${p.gradNorm} vs ${g}`);
    assert.ok(Math.abs(p.updateNorm - 1e-2 * g) <= 1e-8);
  });
  assert.ok(Math.abs(report.loss - value.dataSync()[0]) < 1e-7);
  assert.deepEqual(
    report.groups.map((g) => g.group),
    model.layers.map((l) => l.name),
    'one group per layer',
  );
  assert.deepEqual(
    model.getWeights().map((w) => Array.from(w.dataSync())),
    weightsBefore,
    'no weight changed',
  );
  tf.dispose([value, ...Object.values(grads), x, y]);
  model.dispose();
});

test('diagnoseGradients rejects what it cannot diagnose, by name', () => {
  const w = tf.variable(tf.tensor1d([1, 2]));
  const ok = () => tf.sum(tf.square(w)) as tf.Scalar;
  assert.throws(
    () => diagnoseGradients({} as never, null, ok),
    /model: must be a tf\.LayersModel, a kexue Module/,
  );
  assert.throws(
    () => diagnoseGradients([{ name: 'w', variable: w }], null, ok, { rule: 'adamw' as never }),
    /rule must be 'sgd' or 'adam'/,
  );
  assert.throws(
    () => diagnoseGradients([{ name: 'w', variable: w }], null, ok, { lr: -1 }),
    /lr must be a positive number/,
  );
  assert.throws(
    () => diagnoseGradients([{ name: 'w', variable: w }], null, () => tf.square(w) as unknown as tf.Scalar),
    /loss: must return a scalar tensor, got shape \[2\]/,
  );
  w.dispose();
});
