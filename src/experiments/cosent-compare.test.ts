import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/index.js';
import { saveEncoder } from '../io/encoder-files.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { defaultDataDir } from '../experiments/run.js';
import { Rng } from '../util/rng.js';
import type { SentencePair } from '../io/sts.js';
import { STS_TASKS, compareObjectives, readTask, subsample } from './cosent-compare.js';
import { meanStd } from '../util/stats.js';
import { OBJECTIVES } from '../cosent/objectives.js';

await initBackend({ quiet: true });

test('meanStd: sample standard deviation; subsample is seeded and bounded', () => {
  const r = meanStd([1, 2, 3, 4]);
  assert.equal(r.mean, 2.5);
  assert.ok(Math.abs(r.std - Math.sqrt(5 / 3)) < 1e-12);
  assert.deepEqual(meanStd([7]), { mean: 7, std: 0 });
  const pairs: SentencePair[] = Array.from({ length: 10 }, (_, i) => ({ s1: `${i}`, s2: 'x', label: i }));
  assert.deepEqual(subsample(pairs, 4, 1), subsample(pairs, 4, 1));
  assert.notDeepEqual(subsample(pairs, 4, 1), subsample(pairs, 4, 2));
  assert.equal(subsample(pairs, 4, 1).length, 4);
  assert.deepEqual(subsample(pairs, 20, 1), pairs);
});

test('compareObjectives: every objective × seed fine-tunes a fresh copy and scores each epoch', async () => {
  const letters = 'abcdef';
  const tok = CharTokenizer.build([letters.split('').join(' ')], ENGLISH_CHAR);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-compare-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const enc = new Encoder({
    vocabSize: tok.vocab.size,
    hidden: 8,
    layers: 1,
    heads: 2,
    intermediate: 16,
    seed: 2,
  });
  await saveEncoder(dir, enc, tok);
  enc.dispose();
  const rng = new Rng(1);
  const make = (n: number) =>
    Array.from({ length: n }, () => {
      const a = Array.from({ length: 3 }, () => letters[rng.int(6)]);
      const k = rng.int(4);
      const b = a.map((c, i) => (i < k ? letters[rng.int(6)] : c));
      return { s1: a.join(' '), s2: b.join(' '), label: 3 - k };
    });
  const runs: string[] = [];
  const res = await compareObjectives({
    encoderDir: dir,
    train: make(24),
    test: make(16),
    objectives: OBJECTIVES,
    seeds: [0, 1],
    epochs: 2,
    batchSize: 8,
    lr: 1e-3,
    pooling: 'mean',
    onRun: (r) => runs.push(`${r.objective}/${r.seed}`),
  });
  assert.deepEqual(
    runs,
    OBJECTIVES.flatMap((o) => [`${o}/0`, `${o}/1`]),
  );
  for (const s of res) {
    assert.equal(s.runs.length, 2);
    for (const r of s.runs) assert.equal(r.spearman.length, 2);
    const last = meanStd(s.runs.map((r) => r.spearman[1]));
    assert.ok(Math.abs(s.mean - last.mean) < 1e-12 && Math.abs(s.std - last.std) < 1e-12);
    assert.ok(Math.abs(s.firstEpochMean - meanStd(s.runs.map((r) => r.spearman[0])).mean) < 1e-12);
    // Seeds change the data order, so the two runs differ.
    assert.notDeepEqual(s.runs[0].spearman, s.runs[1].spearman, s.objective);
  }
});

test('the bundled STS tasks read completely (sizes as documented in the data README)', () => {
  const dataDir = defaultDataDir();
  const expected: Record<string, [number, number]> = {
    ATEC: [39346, 20000],
    LCQMC: [8802, 12500],
    PAWSX: [2000, 2000],
    'STS-B': [5231, 1361],
    'STS-B (en)': [5749, 1379],
  };
  for (const task of STS_TASKS) {
    const { train, test: testPairs } = readTask(dataDir, task);
    assert.deepEqual([train.length, testPairs.length], expected[task.name], task.name);
    assert.ok(
      train.every((p) => !p.s1.includes('\uFEFF') && !p.s2.includes('\uFEFF')),
      `${task.name}: BOM left`,
    );
  }
});
