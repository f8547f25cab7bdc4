import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/index.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { Rng } from '../util/rng.js';
import type { SentencePair } from '../io/sts.js';
import { rowCosine } from './loss.js';
import { SentenceEncoder } from './sentence-model.js';
import {
  loadSentenceCheckpoint,
  loadSentenceModel,
  saveTrainingTo,
  sentenceCheckpointTo,
} from '../io/sentence-files.js';
import {
  evaluatePairs,
  pairCosines,
  stepsPerEpochOf,
  trainSentenceEncoder,
  type SentenceEmbedder,
  type SentenceTrainingState,
} from './trainer.js';
import { OBJECTIVES } from './objectives.js';
import { DivergenceError } from '../io/errors.js';

await initBackend({ quiet: true });

const LETTERS = 'abcdefgh';
/** Letters come in synonym pairs (a~b, c~d, …): the meaning of letter i is ⌊i/2⌋. */
const synonym = (c: string) => LETTERS[LETTERS.indexOf(c) ^ 1];
/**
 * s2 keeps 4 − k of s1's meanings, each written as its synonym, and replaces k with other meanings;
 * the label is 4 − k. Surface overlap says nothing about the label: the model must learn synonyms.
 */
function synthetic(n: number, seed: number): SentencePair[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const s1 = Array.from({ length: 4 }, () => LETTERS[rng.int(8)]);
    const k = rng.int(5);
    const s2 = s1.map(synonym);
    for (const i of rng.shuffle([0, 1, 2, 3]).slice(0, k)) {
      const meaning = (Math.floor(LETTERS.indexOf(s1[i]) / 2) + 1 + rng.int(3)) % 4;
      s2[i] = LETTERS[2 * meaning + rng.int(2)];
    }
    return { s1: s1.join(' '), s2: s2.join(' '), label: 4 - k };
  });
}

const tok = CharTokenizer.build([LETTERS.split('').join(' ')], ENGLISH_CHAR);
const tiny = (seed = 3) =>
  new SentenceEncoder(
    new Encoder({
      vocabSize: tok.vocab.size,
      hidden: 16,
      layers: 1,
      heads: 2,
      intermediate: 32,
      dropout: 0.1,
      attentionDropout: 0,
      seed,
    }),
    tok,
    { pooling: 'mean', maxLen: 16 },
  );

test('pairCosines equals the cosine of the embedded pairs; eval is deterministic despite dropout', () => {
  const model = tiny();
  const pairs = synthetic(6, 1);
  const got = pairCosines(model, pairs, 4);
  const want = tf.tidy(() =>
    rowCosine(model.embed(pairs.map((p) => p.s1)), model.embed(pairs.map((p) => p.s2))).dataSync(),
  );
  pairs.forEach((_, i) => assert.ok(Math.abs(got[i] - want[i]) < 1e-5));
  assert.deepEqual(pairCosines(model, pairs), got);
  model.dispose();
});

test('CoSENT training raises dev Spearman; the best epoch is kept on disk and in memory', async (t) => {
  const model = tiny();
  const train = synthetic(96, 2);
  const dev = synthetic(48, 3);
  const before = evaluatePairs(model, dev);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-cosent-train-'));
  after(() => fs.rmSync(out, { recursive: true, force: true }));
  const steps: number[] = [];
  const res = await trainSentenceEncoder(model, train, dev, {
    epochs: 4,
    batchSize: 16,
    lr: 3e-3,
    ...saveTrainingTo(out),
    seed: 5,
    onStep: (s) => steps.push(s.loss),
  });
  assert.equal(res.history.length, 4);
  assert.equal(steps.length, 4 * 6);
  const best = Math.max(...res.history.map((h) => h.devSpearman!));
  assert.equal(res.bestSpearman, best);
  t.diagnostic(
    `dev Spearman ${before.toFixed(1)} → ${res.history.map((h) => h.devSpearman!.toFixed(1)).join(', ')}`,
  );
  assert.ok(best > before + 20, `dev Spearman ${before.toFixed(1)} → ${best.toFixed(1)}`);
  // In memory and on disk: the best epoch's weights, giving the best epoch's dev Spearman.
  assert.ok(Math.abs(evaluatePairs(model, dev) - best) < 1e-3);
  const loaded = loadSentenceModel(out);
  assert.deepEqual(loaded.config, { pooling: 'mean', maxLen: 16 });
  assert.ok(Math.abs(evaluatePairs(loaded, dev) - best) < 1e-3);
  const log = JSON.parse(fs.readFileSync(path.join(out, 'train-log.json'), 'utf8'));
  assert.equal(log.bestEpoch, res.bestEpoch);
  // The model card says what was trained, how, and the best epoch's dev score.
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  assert.match(card, /^# Sentence encoder \(cosent\)$/m);
  assert.match(card, /\| trainPairs \| 96 \|/);
  assert.ok(
    card.includes(`| dev Spearman ×100 (best epoch ${res.bestEpoch} of 4) | ${best.toFixed(2)} |`),
    card,
  );
  assert.match(card, /1 × 16 Post-LN BERT encoder/);
  model.dispose();
  loaded.dispose();
});

/** All encoder weights, flattened in name order. */
const weightsOf = (m: SentenceEncoder) =>
  [...m.encoder.namedParameters()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, v]) => v.dataSync().slice());

test('a run resumed from any checkpoint ends bit-identical to the uninterrupted run', async () => {
  const train = synthetic(40, 6);
  const dev = synthetic(16, 7);
  const base = { objective: 'softmax' as const, epochs: 3, batchSize: 8, lr: 3e-3, checkpointEvery: 3 };
  // A seed whose best epoch is not the last, so that later checkpoints carry the best epoch's weights
  // (which epoch is best depends on the backend's dropout draws).
  const uninterrupted = async (seed: number) => {
    const whole = tiny(9);
    const res = await trainSentenceEncoder(whole, train, dev, { ...base, seed });
    const weights = weightsOf(whole);
    whole.dispose();
    return { res, weights };
  };
  let seed = 4;
  let { res: full, weights: want } = await uninterrupted(seed);
  while (full.bestEpoch === base.epochs && seed < 12)
    ({ res: full, weights: want } = await uninterrupted(++seed));
  const o = { ...base, seed };
  // Mid-epoch (steps 3, 9, 12) and at an epoch's end (step 5), through the files a checkpoint is saved to.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-cosent-resume-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let withBest = 0;
  for (const stopAt of [3, 5, 9, 12]) {
    const ckpt = path.join(dir, `at${stopAt}`);
    const save = sentenceCheckpointTo(ckpt, { note: 'kept' });
    const first = tiny(9);
    await assert.rejects(
      trainSentenceEncoder(first, train, dev, {
        ...o,
        onCheckpoint: async (m, st: SentenceTrainingState) => {
          await save.onCheckpoint(m, st);
          if (st.step === stopAt) throw new Error('interrupted');
        },
      }),
      /interrupted/,
    );
    first.dispose();
    const before = tf.memory().numTensors;
    const { model, resumeFrom, extra } = await loadSentenceCheckpoint(ckpt, { pooling: 'mean', maxLen: 16 });
    assert.equal(extra.note, 'kept');
    assert.equal(resumeFrom.step, stopAt);
    assert.ok(resumeFrom.objective.length > 0, 'the softmax classifier is saved');
    if (resumeFrom.bestWeights.length) withBest++;
    const res = await trainSentenceEncoder(model, train, dev, { ...o, resumeFrom });
    assert.deepEqual(
      res.history.map((h) => h.meanLoss),
      full.history.map((h) => h.meanLoss),
    );
    assert.equal(res.bestEpoch, full.bestEpoch);
    const got = weightsOf(model);
    got.forEach((w, i) => assert.deepEqual(w, want[i], `weights differ after resuming at step ${stopAt}`));
    model.dispose();
    tf.dispose(
      [...resumeFrom.optimizer, ...resumeFrom.objective, ...resumeFrom.bestWeights].map((w) => w.tensor),
    );
    assert.equal(tf.memory().numTensors, before);
  }
  assert.ok(full.bestEpoch < base.epochs, 'the last checkpoint must carry an earlier epoch’s weights');
  assert.equal(withBest, 2, 'the checkpoints after the first epoch (5 steps) carry the best weights so far');
});

test('resumeFrom that does not belong to the run is refused', async () => {
  const train = synthetic(16, 6);
  let saved: SentenceTrainingState | undefined;
  const m = tiny(9);
  await trainSentenceEncoder(m, train, undefined, {
    objective: 'softmax',
    batchSize: 8,
    onCheckpoint: (_m, st) => {
      saved = {
        ...st,
        optimizer: st.optimizer.map((w) => ({ name: w.name, tensor: w.tensor.clone() })),
        objective: [],
      };
    },
  });
  await assert.rejects(
    trainSentenceEncoder(m, train, undefined, { objective: 'softmax', batchSize: 8, resumeFrom: saved }),
    /objective parameters/,
  );
  tf.dispose(saved!.optimizer.map((w) => w.tensor));
  m.dispose();
});

test('a model the updates have broken stops training with a DivergenceError, even on the last step', async () => {
  const m = tiny(9);
  const train = synthetic(8, 6);
  await assert.rejects(
    trainSentenceEncoder(m, train, train, { batchSize: 8, lr: 1e30 }),
    (e: Error) =>
      e instanceof DivergenceError && /a dev sentence vector is not finite at step 1/.test(e.message),
  );
  m.dispose();
});

test('every objective trains under the same loop, moves the weights and leaks no tensors', async () => {
  for (const objective of OBJECTIVES) {
    const tensorsBefore = tf.memory().numTensors;
    const model = tiny(7);
    const w0 = model.encoder.embeddings.word.table.dataSync().slice();
    const res = await trainSentenceEncoder(model, synthetic(20, 4), undefined, {
      objective,
      epochs: 1,
      batchSize: 8,
      lr: 1e-3,
    });
    assert.ok(Number.isFinite(res.history[0].meanLoss), objective);
    const w1 = model.encoder.embeddings.word.table.dataSync();
    assert.ok(
      w1.some((x, i) => x !== w0[i]),
      `${objective}: weights unchanged`,
    );
    model.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, `${objective}: tensors leaked`);
  }
});

test('a trailing batch of one pair is not a step, and the schedule counts exactly the steps taken', async () => {
  assert.deepEqual(
    [8, 9, 10, 2].map((n) => stepsPerEpochOf(n, 4)),
    [2, 2, 3, 1],
  );
  const model = tiny();
  const seen: { step: number; steps: number; lr: number }[] = [];
  await trainSentenceEncoder(model, synthetic(9, 2), synthetic(8, 3), {
    epochs: 2,
    batchSize: 4,
    lr: 1e-3,
    warmupRatio: 0,
    onStep: (s) => seen.push(s),
  });
  assert.deepEqual(
    seen.map((s) => [s.step, s.steps]),
    [1, 2, 3, 4].map((i) => [i, 4]),
  );
  assert.ok(seen[3].lr < seen[2].lr, 'the decay reaches its last step');
  model.dispose();
});

test('bad options are rejected', async () => {
  const model = tiny();
  await assert.rejects(
    trainSentenceEncoder(model, synthetic(4, 1), undefined, { batchSize: 1 }),
    /batchSize/,
  );
  await assert.rejects(trainSentenceEncoder(model, synthetic(4, 1), undefined, { epochs: 0 }), /epochs/);
  model.dispose();
});

/** A user's tf.LayersModel over letter ids (embedding → mean → dense) as a SentenceEmbedder. */
function layersEmbedder(seed: number): SentenceEmbedder & { model: tfl.LayersModel } {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed * 10 + s });
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: 9, outputDim: 16, inputLength: 4, embeddingsInitializer: init(1) }),
      tfl.layers.globalAveragePooling1d(),
      tfl.layers.dense({ units: 16, activation: 'tanh', kernelInitializer: init(2) }),
    ],
  });
  const ids = (texts: readonly string[]) =>
    tf.tensor2d(
      texts.map((t) => t.split(' ').map((c) => LETTERS.indexOf(c) + 1)),
      [texts.length, 4],
      'int32',
    );
  return {
    model,
    embed: (texts) => tf.tidy(() => model.apply(ids(texts)) as tf.Tensor2D),
    // Named by position: layer names differ between instances, and a resumed run matches by name.
    variables: new Map(model.trainableWeights.map((w, i) => [`w${i}`, w.read() as tf.Variable])),
  };
}

const layersWeights = (e: { model: tfl.LayersModel }) =>
  e.model.getWeights().map((w) => w.dataSync().slice());

test('any SentenceEmbedder trains: a tf.LayersModel learns, an evaluator picks the kept epoch, resuming is exact', async () => {
  const train = synthetic(64, 11);
  const dev = synthetic(32, 12);
  const o = { epochs: 4, batchSize: 16, lr: 3e-2, warmupRatio: 0, seed: 5 };
  const before = tf.memory().numTensors;
  const learner = layersEmbedder(1);
  const res = await trainSentenceEncoder(learner, train, dev, o);
  assert.ok(
    res.history.at(-1)!.devSpearman! > res.history[0].devSpearman! + 10,
    `dev Spearman ${res.history.map((h) => h.devSpearman?.toFixed(1)).join(' → ')}`,
  );
  learner.model.dispose();

  // The evaluator's scores decide: epoch 2 is best, and its weights are the ones kept.
  const judged = layersEmbedder(1);
  const scores = [1, 5, 2, 3];
  const r0: number[] = [];
  let atEpoch2: Float32Array[] = [];
  const r = await trainSentenceEncoder(judged, train, undefined, {
    ...o,
    evaluator: (m) => {
      assert.equal(m, judged);
      return scores[r0.length];
    },
    onEpoch: (rec) => {
      r0.push(rec.epoch);
      if (rec.epoch === 2) atEpoch2 = layersWeights(judged) as Float32Array[];
    },
  });
  assert.deepEqual(
    r.history.map((h) => h.evaluation),
    scores,
  );
  assert.equal(r.bestEpoch, 2);
  assert.equal(r.bestEvaluation, 5);
  layersWeights(judged).forEach((w, i) => assert.deepEqual(w, atEpoch2[i]));

  // Stop at step 6 (mid-epoch 2), keep the state and weights in memory, resume in a fresh model.
  const whole = layersEmbedder(2);
  await trainSentenceEncoder(whole, train, dev, o);
  const first = layersEmbedder(2);
  let saved: { state: SentenceTrainingState; weights: tf.Tensor[] } | undefined;
  await assert.rejects(
    trainSentenceEncoder(first, train, dev, {
      ...o,
      checkpointEvery: 3,
      onCheckpoint: (m, st) => {
        if (st.step !== 6) return;
        const copy = (ws: typeof st.optimizer) =>
          ws.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
        saved = {
          state: { ...st, optimizer: copy(st.optimizer), bestWeights: copy(st.bestWeights), objective: [] },
          weights: m.model.getWeights().map((w) => tf.clone(w)),
        };
        throw new Error('interrupted');
      },
    }),
    /interrupted/,
  );
  const second = layersEmbedder(3);
  second.model.setWeights(saved!.weights);
  await trainSentenceEncoder(second, train, dev, { ...o, resumeFrom: saved!.state });
  const want = layersWeights(whole);
  layersWeights(second).forEach((w, i) => assert.deepEqual(w, want[i], 'weights differ after resuming'));
  tf.dispose([
    ...saved!.weights,
    ...saved!.state.optimizer.map((w) => w.tensor),
    ...saved!.state.bestWeights.map((w) => w.tensor),
  ]);
  for (const e of [judged, whole, first, second]) e.model.dispose();
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(
    trainSentenceEncoder(
      { embed: () => tf.zeros([1, 2]), variables: [tf.zeros([1]) as never] },
      train,
      dev,
      o,
    ),
    /model.variables must be a list or map of tf.Variable/,
  );
  await assert.rejects(
    trainSentenceEncoder(layersEmbedder(4), train, undefined, { ...o, evaluator: () => 'high' as never }),
    /evaluator must return a number/,
  );
});
