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
import {
  STS_TASKS,
  bestDevEpoch,
  carveDev,
  compareObjectives,
  compareObjectivesOnTasks,
  gridExtension,
  ladderNeighbour,
  overlapBaseline,
  readTask,
  subsample,
} from './cosent-compare.js';
import { RunStore } from './run-store.js';
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
  const opts = {
    encoderDir: dir,
    train: make(24),
    dev: make(12),
    test: make(16),
    objectives: OBJECTIVES,
    seeds: [0, 1],
    epochs: 2,
    batchSize: 8,
    lrGrid: [1e-3, 3e-3],
    pooling: 'mean' as const,
    onRun: (r: { objective: string; seed: number; lr: number }) =>
      runs.push(`${r.objective}/${r.seed}/${r.lr}`),
  };
  const res = await compareObjectives(opts);
  // Every objective's first seed at each grid point, then the other seed at each one's rate chosen on dev.
  assert.deepEqual(runs, [
    ...res.flatMap((s) => [`${s.objective}/0/0.001`, `${s.objective}/0/0.003`]),
    ...res.map((s) => `${s.objective}/1/${s.lr}`),
  ]);
  for (const s of res) {
    assert.equal(s.runs.length, 2);
    assert.ok(s.runs.every((r) => r.lr === s.lr && r.dev.length === 2 && r.test.length === 2));
    const chosen = s.grid.find((g) => g.lr === s.lr)!;
    assert.ok(
      s.grid.every((g) => g.dev <= chosen.dev),
      'the chosen rate has the best dev score',
    );
    assert.equal(chosen.dev, Math.max(...s.runs[0].dev));
    const atBest = meanStd(s.runs.map((r) => bestDevEpoch(r).test));
    assert.ok(Math.abs(s.mean - atBest.mean) < 1e-12 && Math.abs(s.std - atBest.std) < 1e-12);
    assert.ok(Math.abs(s.firstEpochMean - meanStd(s.runs.map((r) => r.test[0])).mean) < 1e-12);
    // Seeds change the data order, so the two runs differ.
    assert.notDeepEqual(s.runs[0].test, s.runs[1].test, s.objective);
  }
  // With a store, a second call reuses every run (same records, nothing recomputed).
  const store = { runs: new RunStore(path.join(dir, 'runs')), prefix: 'toy', key: { task: 'toy' } };
  const once = await compareObjectives({ ...opts, objectives: ['cosent'], lrGrid: [1e-3], store });
  const t0 = performance.now();
  const twice = await compareObjectives({ ...opts, objectives: ['cosent'], lrGrid: [1e-3], store });
  assert.deepEqual(twice, once);
  assert.ok(performance.now() - t0 < 500, 'recorded runs were recomputed');
  await assert.rejects(compareObjectives({ ...opts, lrGrid: [] }), /at least one learning rate/);
  // Several tasks: every task's grid runs first, then every task's seed runs (one batch each), with the
  // same records as task by task.
  const order: string[] = [];
  const task = (name: string, train: typeof opts.train) => ({
    ...opts,
    train,
    objectives: ['cosent' as const],
    lrGrid: [1e-3, 3e-3],
    store: { ...store, prefix: name, key: { task: name } },
    onRun: (r: { seed: number; lr: number }) => order.push(`${name}/${r.seed}/${r.lr}`),
  });
  const [a, b] = [task('a', opts.train), task('b', opts.train.slice(0, 16))];
  const both = await compareObjectivesOnTasks([a, b]);
  assert.deepEqual(order.slice(0, 4), ['a/0/0.001', 'a/0/0.003', 'b/0/0.001', 'b/0/0.003']);
  assert.deepEqual(order.slice(4), [`a/1/${both[0][0].lr}`, `b/1/${both[1][0].lr}`]);
  assert.deepEqual(await compareObjectives(a), both[0]);
  assert.deepEqual(await compareObjectives(b), both[1]);
  await assert.rejects(
    compareObjectivesOnTasks([a, { ...b, store: undefined }]),
    /share one RunStore, or none have one/,
  );
});

test('ladderNeighbour and gridExtension: the next rate beyond an end of the grid that holds the best', () => {
  assert.equal(ladderNeighbour(1e-3, true), 3e-3);
  assert.equal(ladderNeighbour(3e-3, true), 0.01);
  assert.equal(ladderNeighbour(1e-4, false), 3e-5);
  assert.equal(ladderNeighbour(3e-5, false), 1e-5);
  assert.equal(ladderNeighbour(2e-5, true), 3e-5); // off the ladder: its nearest ladder rates
  assert.equal(ladderNeighbour(2e-5, false), 1e-5);
  assert.throws(() => ladderNeighbour(0, true), /positive/);
  const g = (...dev: number[]) => [1e-4, 3e-4, 1e-3].map((lr, i) => ({ lr, dev: dev[i] }));
  assert.equal(gridExtension(g(1, 2, 3)), 3e-3);
  assert.equal(gridExtension(g(3, 2, 1)), 3e-5);
  assert.equal(gridExtension(g(1, 3, 2)), undefined);
  assert.equal(gridExtension(g(3, 1, 3)), 3e-5, 'ties go to the smaller rate');
  assert.equal(gridExtension([...g(1, 2, 3), { lr: 3e-3, dev: 2 }].reverse()), undefined, 'any order');
  assert.equal(gridExtension([{ lr: 1e-4, dev: 5 }]), undefined, 'a single rate is not a grid');
});

test('compareObjectivesOnTasks: the grid grows past an end while the best is there, up to lrExtend', async () => {
  // Every run is recorded beforehand (made-up scores), so nothing trains: an unplanned run would fail on
  // the missing encoder.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-extend-'));
  const pairs: SentencePair[] = [{ s1: 'a', s2: 'b', label: 1 }];
  const opts = {
    encoderDir: path.join(dir, 'no-encoder'),
    train: pairs,
    dev: pairs,
    test: pairs,
    objectives: ['cosent' as const, 'softmax' as const],
    seeds: [0, 1],
    epochs: 1,
    batchSize: 32,
    lrGrid: [1e-4, 3e-4, 1e-3],
    lrExtend: 2,
    store: { runs: new RunStore(dir), prefix: 't', key: 'k' },
  };
  // cosent's dev score rises with the rate up to 3e-3 (one extension, then 1e-2 is worse);
  // softmax's keeps rising, so it stops at the cap (3e-3, 1e-2) with its best still at the end.
  const dev: Record<string, Record<number, number>> = {
    cosent: { 1e-4: 1, 3e-4: 2, 1e-3: 3, 3e-3: 4, 0.01: 0 },
    softmax: { 1e-4: 1, 3e-4: 2, 1e-3: 3, 3e-3: 4, 0.01: 5 },
  };
  for (const objective of opts.objectives) {
    for (const [lr, d] of Object.entries(dev[objective]).map(([k, v]) => [Number(k), v])) {
      for (const seed of opts.seeds) {
        const key = { objective, seed, lr, key: 'k', epochs: 1, batchSize: 32 };
        const record = { objective, seed, lr, dev: [d], test: [10 * d + seed], seconds: 1 };
        opts.store.runs.put(`t-${objective}-lr${lr}-seed${seed}`, key, record);
      }
    }
  }
  let extended = 0;
  const [[cosent, softmax]] = await compareObjectivesOnTasks([{ ...opts, onExtended: () => extended++ }]);
  assert.deepEqual(
    cosent.grid.map((g) => g.lr),
    [1e-4, 3e-4, 1e-3, 3e-3, 0.01],
  );
  assert.equal(cosent.lr, 3e-3);
  assert.deepEqual(
    cosent.runs.map((r) => r.test[0]),
    [40, 41],
  );
  assert.deepEqual(
    softmax.grid.map((g) => g.lr),
    [1e-4, 3e-4, 1e-3, 3e-3, 0.01],
  );
  assert.equal(softmax.lr, 0.01);
  assert.equal(extended, 4);
  // Without lrExtend the grid is as given.
  const [[plain]] = await compareObjectivesOnTasks([
    { ...opts, lrExtend: undefined, objectives: ['cosent'] },
  ]);
  assert.deepEqual(
    plain.grid.map((g) => g.lr),
    [1e-4, 3e-4, 1e-3],
  );
  assert.equal(plain.lr, 1e-3);
});

test('overlapBaseline: Spearman ×100 of character (zh) or word (en) Jaccard overlap against the labels', () => {
  // Jaccard: 1 (same characters), 2/4 (shared 你好 of 你好吗呀), 0 → ranks 3, 2, 1 against labels 5, 3, 0.
  const zh = [
    { s1: '你好', s2: '好 你', label: 5 },
    { s1: '你好吗', s2: '你好呀', label: 3 },
    { s1: '天气', s2: '吃饭', label: 0 },
  ];
  assert.equal(overlapBaseline(zh, 'zh'), 100);
  assert.equal(
    overlapBaseline(
      zh.map((p) => ({ ...p, label: -p.label })),
      'zh',
    ),
    -100,
  );
  // Words, case-folded, punctuation ignored: "A cat." ~ "a CAT" is 1, "a dog" ~ "a cat" is 1/3.
  const en = [
    { s1: 'A cat.', s2: 'a CAT', label: 1 },
    { s1: 'a dog', s2: 'a cat', label: 2 },
    { s1: 'red', s2: 'blue', label: 0 },
  ];
  // Overlaps 1, 1/3, 0 against labels 1, 2, 0: ranks (3, 2, 1) vs (2, 3, 1), ρ = 0.5.
  assert.ok(Math.abs(overlapBaseline(en, 'en') - 50) < 1e-9);
});

test('bestDevEpoch picks the first best dev epoch; carveDev splits by hash, deterministically', () => {
  assert.deepEqual(bestDevEpoch({ dev: [1, 3, 3, 2], test: [10, 30, 31, 20] }), { epoch: 1, test: 30 });
  const pairs: SentencePair[] = Array.from({ length: 2000 }, (_, i) => ({
    s1: `a${i}`,
    s2: `b${i}`,
    label: i % 2,
  }));
  const { train, dev } = carveDev(pairs, 0.1);
  assert.equal(train.length + dev.length, pairs.length);
  assert.ok(Math.abs(dev.length - 200) < 50, `dev ${dev.length}`);
  assert.deepEqual(carveDev([...pairs].reverse(), 0.1).dev.reverse(), dev);
  assert.ok(dev.every((p, i) => i === 0 || Number(p.s1.slice(1)) > Number(dev[i - 1].s1.slice(1))));
});

test('the bundled STS tasks read completely (sizes as documented in the data README)', () => {
  const dataDir = defaultDataDir();
  // LCQMC and PAWSX: train + carved dev = their validation file (8,802 and 2,000 pairs).
  const expected: Record<string, [number, number, number]> = {
    ATEC: [39346, 20000, 20000],
    LCQMC: [7888, 914, 12500],
    PAWSX: [1807, 193, 2000],
    'STS-B': [5231, 1458, 1361],
    'STS-B (en)': [5749, 1500, 1379],
  };
  for (const task of STS_TASKS) {
    const { train, dev, test: testPairs } = readTask(dataDir, task);
    assert.deepEqual([train.length, dev.length, testPairs.length], expected[task.name], task.name);
    assert.ok(
      train.every((p) => !p.s1.includes('\uFEFF') && !p.s2.includes('\uFEFF')),
      `${task.name}: BOM left`,
    );
  }
});
