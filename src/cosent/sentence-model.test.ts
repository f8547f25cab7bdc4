import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder, POOLINGS } from '../encoder/index.js';
import { saveEncoder } from '../io/encoder-files.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { InputError } from '../io/errors.js';
import { SentenceEncoder } from './sentence-model.js';
import { loadSentenceModel, saveSentenceModel } from '../io/sentence-files.js';

await initBackend({ quiet: true });

const texts = ['a cat', 'the dog sat on a mat', 'hi', 'cats and dogs'];
const tok = CharTokenizer.build(texts, ENGLISH_CHAR);
const encoder = (maxPositions = 64) =>
  new Encoder({
    vocabSize: tok.vocab.size,
    hidden: 8,
    layers: 2,
    heads: 2,
    intermediate: 16,
    maxPositions,
    seed: 9,
  });
const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-sent-'));
  made.push(d);
  return d;
};
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

test('every pooling: a sentence gets the same vector alone or batched with longer ones (padding is masked)', () => {
  for (const pooling of POOLINGS) {
    const m = new SentenceEncoder(encoder(), tok, { pooling, maxLen: 32 });
    const together = m.encodeFlat(texts, { batchSize: 4 });
    const alone = texts.map((t) => m.encodeFlat([t]));
    alone.forEach((v, i) =>
      v.forEach((x, k) => assert.ok(Math.abs(x - together[i * 8 + k]) < 1e-5, `${pooling} text ${i}`)),
    );
    m.dispose();
  }
  const cls = new SentenceEncoder(encoder(), tok, { pooling: 'cls', maxLen: 32 }).encodeFlat(texts);
  const mean = new SentenceEncoder(encoder(), tok, { pooling: 'mean', maxLen: 32 }).encodeFlat(texts);
  assert.ok(
    cls.some((x, i) => Math.abs(x - mean[i]) > 1e-3),
    'poolings must differ',
  );
});

test('save/load keeps pooling and length; a plain encoder loads with defaults or overrides', async () => {
  const dir = tmp();
  const m = new SentenceEncoder(encoder(), tok, { pooling: 'first-last-avg', maxLen: 12 });
  await saveSentenceModel(dir, m, { note: 'x' });
  const back = loadSentenceModel(dir);
  assert.deepEqual(back.config, { pooling: 'first-last-avg', maxLen: 12 });
  assert.deepEqual(back.encodeFlat(texts), m.encodeFlat(texts));
  assert.deepEqual(loadSentenceModel(dir, { pooling: 'mean' }).config, { pooling: 'mean', maxLen: 12 });
  const plain = tmp();
  await saveEncoder(plain, encoder(16), tok);
  // Defaults (cls, 64), with the length clamped to the learned position table.
  assert.deepEqual(loadSentenceModel(plain).config, { pooling: 'cls', maxLen: 16 });
});

test('bad model directories are input errors naming the file', async () => {
  const noTok = tmp();
  await saveEncoder(noTok, encoder());
  assert.throws(
    () => loadSentenceModel(noTok),
    (e: unknown) => e instanceof InputError && /no tokenizer/.test(e.message),
  );
  assert.throws(() => loadSentenceModel(tmp()), /not a model directory/);
  const bad = tmp();
  await saveEncoder(bad, encoder(), tok);
  fs.writeFileSync(path.join(bad, 'sentence.json'), '{"pooling": "max", "maxLen": 10}');
  assert.throws(() => loadSentenceModel(bad), /sentence.json, field pooling: pooling must be one of/);
  fs.writeFileSync(path.join(bad, 'sentence.json'), '{"pooling": "cls", "maxLen": 1.5}');
  assert.throws(() => loadSentenceModel(bad), /field maxLen/);
  fs.writeFileSync(path.join(bad, 'sentence.json'), '{');
  assert.throws(() => loadSentenceModel(bad), /not valid JSON/);
});

test('encodeAsync gives what encode gives, in every output form, and leaks no tensors', async () => {
  const model = new SentenceEncoder(encoder(), tok, { pooling: 'mean', maxLen: 32 });
  const before = tf.memory().numTensors;
  assert.deepEqual(await model.encodeAsync(texts, { batchSize: 3 }), model.encode(texts, { batchSize: 3 }));
  assert.deepEqual(
    await model.encodeAsync('a cat', { normalize: true }),
    model.encode('a cat', { normalize: true }),
  );
  const t = await model.encodeAsync(texts, { asTensor: true });
  assert.deepEqual(t.shape, [texts.length, model.dim]);
  assert.deepEqual(
    t.arraySync(),
    model.encode(texts).map((r) => Array.from(Float32Array.from(r))),
  );
  t.dispose();
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(model.encodeAsync(texts, { batchSize: 0 }), /batchSize/);
  model.encoder.dispose();
});
