import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import { spearman } from '../cosent/spearman.js';
import { Rng } from '../util/rng.js';
import { fmtMeanStd } from '../util/stats.js';
import { RunStore } from './run-store.js';
import {
  dynamicsReport,
  measureCosines,
  meanCurve,
  objectiveDynamics,
  variantLabel,
  type DynamicsVariant,
} from './cosent-dynamics.js';

await initBackend({ quiet: true });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-dynamics-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('measureCosines: Spearman ×100 and the mean cosine of each label class', () => {
  const cos = Float32Array.from([0.9, 0.2, 0.7, 0.4, 0.1]);
  const labels = [1, 0, 1, 0, 0];
  const p = measureCosines(cos, labels, 7);
  assert.equal(p.step, 7);
  assert.ok(Math.abs(p.cosSimilar - 0.8) < 1e-6 && Math.abs(p.cosDissimilar - 0.7 / 3) < 1e-6);
  assert.ok(Math.abs(p.spearman - 100 * spearman(cos, labels)) < 1e-9);
  assert.throws(
    () => measureCosines(Float32Array.from([0.1, 0.2]), [0, 0], 0),
    /both similar and dissimilar/,
  );
});

test('objectiveDynamics measures every variant × seed along training, reuses recorded runs, needs binary labels', async () => {
  const letters = 'abcdef';
  const { encoderDir } = await saveTinyEncoder(root, [letters.split('').join(' ')], { hidden: 8, seed: 1 });
  const rng = new Rng(5);
  const make = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const a = Array.from({ length: 3 }, () => letters[rng.int(6)]);
      const same = i % 2;
      const b = same ? a : a.map(() => letters[rng.int(6)]);
      return { s1: a.join(' '), s2: b.join(' '), label: same };
    });
  const variants: DynamicsVariant[] = [
    { objective: 'cosent', scale: 5, lr: 3e-3 },
    { objective: 'cosine-mse', lr: 3e-3 },
  ];
  let ticks = 0;
  const opts = {
    encoderDir,
    train: make(24),
    test: make(12),
    variants,
    seeds: [0, 1],
    epochs: 2,
    batchSize: 8,
    maxLen: 16,
    every: 2,
    pooling: 'mean' as const,
    onStep: () => ticks++,
  };
  const runs = await objectiveDynamics(opts);
  // 3 steps an epoch: measured before training, at steps 2 and 4, and after the last (6).
  assert.equal(ticks, 2 * 2 * 6);
  for (const perSeed of runs) {
    assert.equal(perSeed.length, 2);
    for (const r of perSeed)
      assert.deepEqual(
        r.points.map((p) => p.step),
        [0, 2, 4, 6],
      );
    // Same encoder, same test pairs: the untrained measurement is the same for every run.
    assert.deepEqual(perSeed[0].points[0], runs[0][0].points[0]);
    // Seeds change the data order, so the trained ones differ.
    assert.notDeepEqual(perSeed[0].points[3], perSeed[1].points[3]);
  }
  const curve = meanCurve(runs[1], 'cosSimilar');
  assert.ok(
    Math.abs(curve[3].mean - (runs[1][0].points[3].cosSimilar + runs[1][1].points[3].cosSimilar) / 2) < 1e-12,
  );

  const store = { runs: new RunStore(path.join(root, 'runs')), prefix: 'toy', key: { task: 'toy' } };
  let reused = 0;
  const once = await objectiveDynamics({ ...opts, seeds: [0], store });
  const twice = await objectiveDynamics({ ...opts, seeds: [0], store, onReused: (n) => (reused += n) });
  assert.deepEqual(twice, once);
  assert.equal(reused, 2 * 6);

  const graded = opts.train.map((p, i) => ({ ...p, label: i % 3 }));
  await assert.rejects(objectiveDynamics({ ...opts, train: graded }), /binary labels/);
  await assert.rejects(objectiveDynamics({ ...opts, every: 0 }), /every must be a positive integer/);

  const report = dynamicsReport(variants, runs, 'toy');
  assert.deepEqual(
    report.table.rows.map((r) => r[0]),
    ['CoSENT λ=5', 'cosine-MSE'],
  );
  assert.equal(report.table.columns[2], 'Spearman at step 2');
  // λ × the cosine gap at the end, for CoSENT only.
  const gaps = runs[0].map((r) => 5 * (r.points[3].cosSimilar - r.points[3].cosDissimilar));
  assert.equal(report.table.rows[0][7], fmtMeanStd(gaps, 3));
  assert.equal(report.table.rows[1][7], null);
  assert.equal(report.charts[0].series.length, 2);
  assert.equal(report.charts[1].series.length, 4);
  assert.match(
    report.text,
    /^Dynamics \(toy\): test Spearman after the first 2 steps → at the end: CoSENT λ=5 /,
  );
  assert.equal(variantLabel({ objective: 'cosent', lr: 1 }), 'CoSENT λ=20');
});
