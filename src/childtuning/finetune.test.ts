import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/index.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { Rng } from '../util/rng.js';
import { TextClassifier, top1Accuracy } from './classifier.js';
import { fewShot, seededSubset } from './data.js';
import { fisherInformation } from './fisher.js';
import { fisherMask } from './masks.js';
import { childTuning } from './optimizer.js';
import { finetuneClassifier } from './finetune.js';

await initBackend({ quiet: true });

function toyData(n: number, seed: number) {
  const rng = new Rng(seed);
  const xs: number[][] = [];
  const ys: number[][] = [];
  for (let i = 0; i < n; i++) {
    const x = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    xs.push(x);
    ys.push(x[0] + 0.5 * x[1] > 0 ? [1, 0] : [0, 1]);
  }
  return { x: tf.tensor2d(xs), y: tf.tensor2d(ys) };
}

function layersModel(): tfl.Sequential {
  const m = tfl.sequential();
  m.add(
    tfl.layers.dense({
      units: 8,
      activation: 'relu',
      inputShape: [4],
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(
    tfl.layers.dense({
      units: 2,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    }),
  );
  return m;
}

for (const mode of ['F', 'update'] as const) {
  test(`ChildTuning-${mode} inside model.fit of a tf.LayersModel: learns, tensors flat across epochs`, async () => {
    const { x, y } = toyData(128, 1);
    const model = layersModel();
    model.compile({
      optimizer: childTuning(tf.train.adam(0.03), { mode, p: 0.5, seed: 2 }),
      loss: 'categoricalCrossentropy',
    });
    const counts: number[] = [];
    const h = await model.fit(x, y, {
      epochs: 8,
      batchSize: 16,
      shuffle: false,
      verbose: 0,
      callbacks: { onEpochEnd: () => void counts.push(tf.memory().numTensors) },
    });
    const loss = h.history.loss as number[];
    assert.ok(loss[loss.length - 1] < 0.7 * loss[0], `loss ${loss[0]} → ${loss[loss.length - 1]}`);
    assert.ok(
      counts.slice(2).every((c) => c === counts[1]),
      `tensor counts ${counts}`,
    );
    model.optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
}

test('ChildTuning-D in model.fit: Fisher over the layers model, masked kernel elements stay bit-identical', async () => {
  const { x, y } = toyData(64, 3);
  const model = layersModel();
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const firstKernel = vars[0].name;
  const lossFn = (i: number) =>
    tf.tidy(
      () =>
        tf.mean(
          tfl.metrics.categoricalCrossentropy(
            tf.slice(y, i * 16, 16),
            model.apply(tf.slice(x, i * 16, 16)) as tf.Tensor,
          ),
        ) as tf.Scalar,
    );
  const fisher = await fisherInformation(lossFn, vars, [0, 1, 2, 3]);
  const masks = fisherMask(fisher, 0.25, { candidates: (n) => n === firstKernel });
  tf.dispose([...fisher.values()]);
  const maskData = Array.from(masks.get(firstKernel)!.dataSync());
  assert.equal(
    maskData.reduce((s, m) => s + m, 0),
    8,
  ); // round(0.25 · 32)
  const w0 = vars[0].dataSync().slice();
  const bias0 = vars[1].dataSync().slice();
  model.compile({
    optimizer: childTuning(tf.train.adam(0.05), { mode: 'D', masks }),
    loss: 'categoricalCrossentropy',
  });
  await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
  const w1 = vars[0].dataSync();
  maskData.forEach((m, i) => (m ? assert.notEqual(w1[i], w0[i]) : assert.equal(w1[i], w0[i])));
  assert.notDeepEqual(vars[1].dataSync(), bias0, 'the non-candidate bias should update');
  model.optimizer.dispose();
  model.dispose();
  tf.dispose([x, y]);
});

test('ChildTuning works with optimizer.minimize', () => {
  const w = tf.variable(tf.tensor1d([3, -2, 1, 4]));
  const opt = childTuning(tf.train.sgd(0.1), { mode: 'F', p: 0.5, seed: 1 });
  for (let i = 0; i < 40; i++) opt.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, false, [w]);
  assert.ok(tf.sum(tf.abs(w)).dataSync()[0] < 0.5);
  assert.equal(opt.iterations, 40);
  opt.dispose();
  w.dispose();
});

// A tiny classification task on a randomly initialised kexue encoder: texts about cats vs cars.
const texts = [
  'the cat sleeps',
  'a cat purrs',
  'cats nap',
  'my cat eats',
  'the car drives',
  'a car honks',
  'cars race',
  'my car parks',
];
const tok = CharTokenizer.build(texts, ENGLISH_CHAR);
const examples = texts.map((text, i) => ({ text, label: i < 4 ? 0 : 1 }));

function tinyClassifier(seed = 0): TextClassifier {
  const enc = new Encoder({
    vocabSize: tok.vocab.size,
    hidden: 16,
    layers: 2,
    heads: 2,
    intermediate: 32,
    seed: 3,
  });
  return new TextClassifier(enc, tok, { classes: 2, maxLen: 16, seed });
}

for (const setting of [
  undefined,
  { mode: 'F' as const },
  { mode: 'D' as const },
  { mode: 'update' as const },
]) {
  test(`finetuneClassifier with a kexue Encoder (${setting?.mode ?? 'vanilla'}): no leaks, best-dev weights kept`, async () => {
    const model = tinyClassifier();
    const before = tf.memory().numTensors;
    const perEpoch: number[] = [];
    const res = await finetuneClassifier(model, examples, examples, {
      epochs: 4,
      batchSize: 4,
      lr: 1e-3,
      seed: 2,
      childTuning: setting,
      trackUpdates: true,
      onEpoch: () => void perEpoch.push(tf.memory().numTensors),
    });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    // The first epoch's count is before the best-weights copy exists; from then on it must stay flat.
    assert.ok(
      perEpoch.slice(2).every((c) => c === perEpoch[1]),
      `tensor counts ${perEpoch}`,
    );
    assert.equal(res.history.length, 4);
    assert.equal(res.steps, 8);
    assert.ok(res.meanUpdate! > 0);
    const probs = model.predictProba(texts);
    assert.equal(
      top1Accuracy(
        probs,
        examples.map((e) => e.label),
        2,
      ),
      res.bestDevAccuracy,
    );
    if (setting?.mode === 'D') assert.ok(res.keptFraction! > 0.3 && res.keptFraction! < 1);
    model.dispose();
  });
}

test('predictProbaAsync gives what predictProba gives and leaks no tensors', async () => {
  const model = tinyClassifier();
  const before = tf.memory().numTensors;
  assert.deepEqual(await model.predictProbaAsync(texts, 3), model.predictProba(texts, 3));
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(model.predictProbaAsync(texts, 0), /batchSize/);
  model.dispose();
});

test('finetuneClassifier is reproducible per seed and rejects bad labels', async () => {
  const run = async (seed: number) => {
    const model = tinyClassifier();
    await finetuneClassifier(model, examples, examples, {
      epochs: 1,
      batchSize: 4,
      lr: 1e-3,
      seed,
      childTuning: { mode: 'F' },
    });
    const p = model.predictProba(texts);
    model.dispose();
    return p;
  };
  assert.deepEqual(await run(5), await run(5));
  assert.notDeepEqual(await run(5), await run(6));
  const model = tinyClassifier();
  await assert.rejects(finetuneClassifier(model, [{ text: 'x', label: 2 }], examples), /outside 0…1/);
  model.dispose();
});

test('fewShot: stratified, N per class (all of a smaller class), deterministic per seed', () => {
  const data = Array.from({ length: 100 }, (_, i) => ({ text: `t${i}`, label: i < 90 ? i % 3 : 3 }));
  const a = fewShot(data, 5, 1);
  assert.deepEqual(
    [0, 1, 2, 3].map((c) => a.filter((e) => e.label === c).length),
    [5, 5, 5, 5],
  );
  assert.deepEqual(fewShot(data, 5, 1), a);
  assert.notDeepEqual(fewShot(data, 5, 2), a);
  assert.equal(fewShot(data, 20, 1).filter((e) => e.label === 3).length, 10);
  assert.throws(() => fewShot(data, 0, 1), /positive integer/);
  assert.equal(seededSubset(data, 10, 1).length, 10);
  assert.deepEqual(seededSubset(data, 10, 1), seededSubset(data, 10, 1));
});
