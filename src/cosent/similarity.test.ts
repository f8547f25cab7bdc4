import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/model.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { SentenceEncoder } from './sentence-model.js';
import { cosineSimilarity, semanticSearch, semanticSearchAsync } from './similarity.js';
import { Rng } from '../util/rng.js';

await initBackend({ quiet: true });

const texts = ['a cat', 'the dog sat on a mat', 'hi', 'cats and dogs', 'a mat'];
const tok = CharTokenizer.build(texts, ENGLISH_CHAR);
const model = () =>
  new SentenceEncoder(
    new Encoder({ vocabSize: tok.vocab.size, hidden: 8, layers: 1, heads: 2, intermediate: 16, seed: 3 }),
    tok,
    { pooling: 'mean', maxLen: 32 },
  );

/** Plain-JS cosine (float64), the reference for the tensor code. */
const cos = (a: number[], b: number[]) => {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  const na = Math.hypot(...a);
  const nb = Math.hypot(...b);
  return na > 0 && nb > 0 ? dot / (na * nb) : 0;
};

test('encode: number[][] by default, a Tensor2D with asTensor, one vector for one text; batching does not change vectors', () => {
  const m = model();
  const before = tf.memory().numTensors;
  const rows = m.encode(texts);
  assert.equal(rows.length, texts.length);
  assert.ok(rows.every((r) => r.length === 8 && r.some((x) => x !== 0)));
  const t = m.encode(texts, { asTensor: true, batchSize: 2 });
  assert.deepEqual(t.shape, [texts.length, 8]);
  const flat = t.dataSync();
  rows.forEach((r, i) => r.forEach((x, k) => assert.ok(Math.abs(x - flat[i * 8 + k]) < 1e-6)));
  t.dispose();
  assert.deepEqual(m.encode(texts[1]), m.encode([texts[1]])[0]);
  const one = m.encode(texts[1], { asTensor: true });
  assert.deepEqual(one.shape, [8]);
  one.dispose();
  const unit = m.encode(texts, { normalize: true });
  unit.forEach((r, i) => {
    assert.ok(Math.abs(Math.hypot(...r) - 1) < 1e-6, 'unit length');
    assert.ok(Math.abs(cos(r, rows[i]) - 1) < 1e-6, 'same direction');
  });
  const calls: [number, number][] = [];
  m.encode(texts, { batchSize: 2, progress: (done, total) => calls.push([done, total]) });
  assert.deepEqual(calls, [
    [2, 5],
    [4, 5],
    [5, 5],
  ]);
  assert.deepEqual(m.encode([]), []);
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  m.dispose();
});

test('encode: bad options are errors (regressions: normalizeEmbeddings gave zero vectors, a number never returned)', () => {
  const m = model();
  const bad: [unknown, RegExp][] = [
    [
      { normalizeEmbeddings: true },
      /unknown encode option 'normalizeEmbeddings' \(did you mean 'normalize'\?\)/,
    ],
    [0, /encode options must be an object.*\{ batchSize: 0 \}/],
    [64, /for a batch size write \{ batchSize: 64 \}/],
    [{ batchSize: 0 }, /batchSize must be an integer ≥ 1, got 0/],
    [{ batchSize: 2.5 }, /batchSize must be an integer ≥ 1/],
    [{ batchSize: '8' }, /batchSize must be an integer ≥ 1, got "8"/],
    [{ normalize: 'yes' }, /normalize must be true or false/],
    [{ asTensor: 1 }, /asTensor must be true or false/],
    [{ progress: true }, /progress must be a function/],
    [{ convert_to_tensor: true }, /did you mean 'asTensor'/],
    [null, /encode options must be an object/],
  ];
  for (const [opts, re] of bad) assert.throws(() => m.encode(texts, opts as never), re, JSON.stringify(opts));
  assert.throws(() => m.encode([texts[0], 3 as never]), /texts\[1\] must be a string, got 3/);
  assert.throws(() => m.encode(undefined as never), /texts must be an array of strings/);
  m.dispose();
});

test('similarity: cosine matrix matches a plain reference, for arrays and tensors; zero vectors score 0', () => {
  const rng = new Rng(5);
  const a = Array.from({ length: 3 }, () => Array.from({ length: 4 }, () => rng.normal()));
  const b = Array.from({ length: 5 }, () => Array.from({ length: 4 }, () => rng.normal()));
  b[2] = [0, 0, 0, 0];
  const want = a.map((x) => b.map((y) => cos(x, y)));
  const got = cosineSimilarity(a, b);
  got.forEach((r, i) => r.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) < 1e-6, `${i},${j}`)));
  const before = tf.memory().numTensors;
  const ta = tf.tensor2d(a);
  const t = cosineSimilarity(ta, b);
  assert.deepEqual(t.shape, [3, 5]);
  t.dataSync().forEach((v, k) => assert.ok(Math.abs(v - want[Math.floor(k / 5)][k % 5]) < 1e-6));
  tf.dispose([t, ta]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => cosineSimilarity(a, [[1, 2]]), /same dimension, got 4 and 2/);
  assert.throws(() => cosineSimilarity(a, [[1, 2, 3, 4], [1]]), /b\[1\] must hold 4 finite numbers/);
  const m = model();
  const e = m.encode(texts);
  assert.ok(Math.abs(m.similarity(e, e)[1][3] - cos(e[1], e[3])) < 1e-6);
  m.dispose();
});

test('semanticSearch (and semanticSearchAsync, the same): top-k by cosine, best first, ties by corpus order; texts or embeddings', async () => {
  const rng = new Rng(8);
  const corpus = Array.from({ length: 7 }, () => Array.from({ length: 3 }, () => rng.normal()));
  corpus[5] = [...corpus[1]]; // a tie with row 1
  const queries = [corpus[1].map((x) => 2 * x), [1, 0, 0]];
  const hits = semanticSearch(queries, corpus, { topK: 3, queryChunkSize: 1 });
  queries.forEach((q, i) => {
    const want = corpus
      .map((c, j) => ({ corpusId: j, score: cos(q, c) }))
      .sort((x, y) => y.score - x.score || x.corpusId - y.corpusId)
      .slice(0, 3);
    assert.deepEqual(
      hits[i].map((h) => h.corpusId),
      want.map((h) => h.corpusId),
    );
    hits[i].forEach((h, k) => assert.ok(Math.abs(h.score - want[k].score) < 1e-6));
  });
  assert.deepEqual(
    hits[0].slice(0, 2).map((h) => h.corpusId),
    [1, 5],
  );
  assert.deepEqual(await semanticSearchAsync(queries, corpus, { topK: 3, queryChunkSize: 1 }), hits);
  assert.equal(semanticSearch(queries, corpus, { topK: 50 })[0].length, 7, 'topK larger than the corpus');
  assert.throws(() => semanticSearch(queries, corpus, { topK: 0 }), /topK must be an integer ≥ 1, got 0/);
  assert.deepEqual(semanticSearch([], corpus), []);
  assert.deepEqual(semanticSearch(queries, []), [[], []]);
  const m = model();
  const byText = m.semanticSearch(['a mat'], texts, { topK: 2 });
  assert.equal(byText[0][0].corpusId, 4, 'the identical text ranks first');
  assert.ok(Math.abs(byText[0][0].score - 1) < 1e-5);
  m.dispose();
});
