import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder, pool } from './model.js';
import { loadCheckpoint, loadEncoder, saveCheckpoint, saveEncoder } from '../io/encoder-files.js';
import { encodeTexts, encodePairs, disposeInput } from './inputs.js';
import { MlmMasker, makeMlmBatch, mlmLoss, disposeBatch, type MlmBatch } from './mlm.js';
import { namedGradients } from '../nn/module.js';
import { AdamW, type StatefulOptimizer } from '../nn/optim.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { InputError } from '../io/errors.js';
import { Rng } from '../util/rng.js';

await initBackend();

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-enc-'));
const tok = CharTokenizer.build(['the cat sat on the mat', 'a dog'], ENGLISH_CHAR);
const config = {
  vocabSize: tok.vocab.size,
  hidden: 16,
  layers: 2,
  heads: 2,
  dropout: 0,
  attentionDropout: 0,
  seed: 5,
};

function outputs(m: Encoder): Float32Array[] {
  return tf.tidy(() => {
    const ids = tf.tensor2d([tok.encode('the cat', { maxLen: 9 }).concat([0, 0])], [1, 11], 'int32');
    const out = m.apply({ ids });
    return [
      out.last.dataSync() as Float32Array,
      pool(out, 'mean').dataSync() as Float32Array,
      m.mlmLogits(out.last).dataSync() as Float32Array,
    ];
  });
}

test('save → load round trip: same config, tokenizer and bit-identical outputs (post and pre, learned and RoPE)', async () => {
  for (const [norm, position] of [
    ['post', 'learned'],
    ['pre', 'rope'],
  ] as const) {
    const dir = tmp();
    const m = new Encoder({ ...config, norm, position });
    await saveEncoder(dir, m, tok);
    for (const f of ['config.json', 'model.json', 'weights.bin', 'vocab.txt', 'tokenizer.json']) {
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(manifest.weightsManifest[0].weights.length, m.namedParameters().size);
    const { model, tokenizer } = loadEncoder(dir);
    assert.deepEqual(model.config, m.config);
    assert.deepEqual(tokenizer?.vocab.tokens, tok.vocab.tokens);
    assert.deepEqual(tokenizer?.encode('the mat'), tok.encode('the mat'));
    const [a, b] = [outputs(m), outputs(model)];
    a.forEach((x, i) => assert.deepEqual(b[i], x));
    m.dispose();
    model.dispose();
    fs.rmSync(dir, { recursive: true });
  }
});

test('loading rejects truncated weights and mismatched configs with InputError', async () => {
  const dir = tmp();
  const m = new Encoder(config);
  await saveEncoder(dir, m);
  const bin = path.join(dir, 'weights.bin');
  const full = fs.readFileSync(bin);
  fs.writeFileSync(bin, full.subarray(0, full.length - 4));
  assert.throws(
    () => loadEncoder(dir),
    (e) => e instanceof InputError && /bytes/.test(e.message),
  );
  fs.writeFileSync(bin, full);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, layers: 3 }));
  assert.throws(
    () => loadEncoder(dir),
    (e) => e instanceof InputError && /missing/.test(e.message),
  );
  m.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('damaged model directories: NaN weights, a missing weights file, an empty manifest group, a larger vocabulary', async () => {
  const dir = tmp();
  const m = new Encoder(config);
  await saveEncoder(dir, m, tok);
  m.dispose();
  const bin = path.join(dir, 'weights.bin');
  const good = fs.readFileSync(bin);
  const nan = Buffer.from(good);
  nan.writeFloatLE(NaN, 40);
  fs.writeFileSync(bin, nan);
  assert.throws(() => loadEncoder(dir), /weights\.bin: holds a non-finite weight \(.+\[\d+\] = NaN\)/);
  fs.rmSync(bin);
  assert.throws(() => loadEncoder(dir), /weights\.bin: weights file named in model\.json is missing/);
  fs.writeFileSync(bin, good);
  const manifestFile = path.join(dir, 'model.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, weightsManifest: [{}] }));
  assert.throws(() => loadEncoder(dir), /model\.json, field weightsManifest\[0\]: needs a list/);
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  fs.appendFileSync(path.join(dir, 'vocab.txt'), 'extra1\nextra2\n');
  assert.throws(
    () => loadEncoder(dir),
    /vocab\.txt: the vocabulary has \d+ tokens, the model's config\.json only/,
  );
  fs.rmSync(dir, { recursive: true });
});

function batches(): MlmBatch[] {
  const masker = new MlmMasker({
    vocabSize: tok.vocab.size,
    maskId: tok.vocab.special.mask,
    specialIds: tok.vocab.specialIdSet(),
  });
  const rng = new Rng(8);
  const texts = ['the cat sat', 'on the mat', 'a dog sat', 'the dog'];
  return texts.map((t, i) => makeMlmBatch([tok.encode(t), tok.encode(texts[(i + 1) % 4])], masker, 0, rng));
}

type Stepper = (m: Encoder, opt: StatefulOptimizer, b: MlmBatch, step: number) => void;

const adamwStep: Stepper = (m, opt, b, step) => {
  const { value, grads } = namedGradients(m, () => mlmLoss(m, b, true).loss);
  (opt as AdamW).step(grads, 1e-2 / (step + 1));
  tf.dispose([value, ...grads.values()]);
};

const tfAdamStep: Stepper = (m, opt, b) => {
  const loss = (opt as tf.Optimizer).minimize(() => mlmLoss(m, b, true).loss, true, m.trainableVariables());
  loss?.dispose();
};

const cases: [string, (m: Encoder) => StatefulOptimizer, Stepper][] = [
  ['kexue AdamW', (m) => new AdamW(m.namedParameters(), { weightDecay: 0.01, clipNorm: 1 }), adamwStep],
  ['tf.train.adam', () => tf.train.adam(1e-2), tfAdamStep],
];
for (const [label, makeOpt, step] of cases) {
  test(`checkpoint resume with ${label}: 3 steps + save + 3 steps ≡ load + the same 3 steps (bit-identical)`, async () => {
    const data = batches();
    const dir = path.join(tmp(), 'ckpt');
    const a = new Encoder(config);
    const optA = makeOpt(a);
    for (let s = 0; s < 3; s++) step(a, optA, data[s % data.length], s);
    await saveCheckpoint(dir, {
      model: a,
      tokenizer: tok,
      optimizer: optA,
      state: { step: 3, extra: { seed: 8 } },
    });
    // Save twice: the second save replaces the first cleanly.
    await saveCheckpoint(dir, {
      model: a,
      tokenizer: tok,
      optimizer: optA,
      state: { step: 3, extra: { seed: 8 } },
    });
    for (let s = 3; s < 6; s++) step(a, optA, data[s % data.length], s);
    const resumed = await loadCheckpoint(dir, makeOpt);
    assert.equal(resumed.state.step, 3);
    assert.deepEqual(resumed.state.extra, { seed: 8 });
    const b = resumed.model;
    for (let s = 3; s < 6; s++) step(b, resumed.optimizer!, data[s % data.length], s);
    const pa = a.namedParameters();
    for (const [n, v] of b.namedParameters()) assert.deepEqual(v.dataSync(), pa.get(n)!.dataSync(), n);
    // Without the optimizer state the continuation differs (so the test can fail).
    const fresh = await loadCheckpoint(dir);
    const optC = makeOpt(fresh.model);
    for (let s = 3; s < 6; s++) step(fresh.model, optC, data[s % data.length], s);
    const w = 'layers.0.ffn.inner.kernel';
    assert.notDeepEqual(fresh.model.namedParameters().get(w)!.dataSync(), pa.get(w)!.dataSync());
    data.forEach(disposeBatch);
    [a, b, fresh.model].forEach((m) => m.dispose());
    fs.rmSync(path.dirname(dir), { recursive: true });
  });
}

test('a model built with a custom scale function records it, and reloading demands it', async () => {
  const dir = tmp();
  const scale = () => 0.3;
  const m = new Encoder(config, { scale });
  assert.equal(m.config.attentionScale, 'custom');
  await saveEncoder(dir, m);
  assert.throws(() => loadEncoder(dir), /unknown attention scale 'custom'/);
  const { model } = loadEncoder(dir, { scale });
  const [a, b] = [outputs(m), outputs(model)];
  a.forEach((x, i) => assert.deepEqual(b[i], x));
  m.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('encodeTexts / encodePairs pad to the longest and set mask and segment ids', () => {
  const x = encodeTexts(tok, ['the cat', 'a']);
  assert.deepEqual(x.ids.shape, [2, 9]);
  assert.deepEqual(Array.from(x.mask!.dataSync()).slice(9), [1, 1, 1, 0, 0, 0, 0, 0, 0]);
  const p = encodePairs(tok, [['a', 'cat']]);
  assert.deepEqual(Array.from(p.typeIds!.dataSync()), [0, 0, 0, 1, 1, 1, 1]);
  disposeInput(x);
  disposeInput(p);
});
