import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import { Rng } from '../util/rng.js';
import { NOTE_BERT_BASE, STS_TASKS } from './cosent-compare.js';
import { cosentExperiment, gridEdgeNote, type TaskOutcome } from './cosent.js';
import type { ObjectiveSummary } from './cosent-compare.js';

await initBackend({ quiet: true });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-cosent-exp-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

// A stand-in data folder with the tasks' file layouts (ATEC train: id column; English STS-B: header).
const letters = 'abcdef';
const rng = new Rng(3);
function rows(n: number, graded: boolean): string[] {
  return Array.from({ length: n }, () => {
    const a = Array.from({ length: 3 }, () => letters[rng.int(6)]);
    const k = rng.int(4);
    const b = a.map((c, i) => (i < k ? letters[rng.int(6)] : c));
    return `${a.join(' ')}\t${b.join(' ')}\t${graded ? 3 - k : Number(k < 2)}`;
  });
}
const dataDir = path.join(root, 'data');
for (const t of STS_TASKS) {
  for (const [file, n] of [
    // Without a dev file a tenth of the training file is carved off as dev: make it big enough.
    [t.train, t.dev ? 24 : 60],
    [t.test, 12],
    ...(t.dev ? ([[t.dev, 10]] as const) : []),
  ] as const) {
    let lines = rows(n, t.name.startsWith('STS-B'));
    if (file.endsWith('.csv')) lines = lines.map((l, i) => `${i + 1}\t${l}`);
    if (file.endsWith('.tsv')) lines = ['sentence1\tsentence2\tscore', ...lines];
    fs.mkdirSync(path.dirname(path.join(dataDir, file)), { recursive: true });
    fs.writeFileSync(path.join(dataDir, file), lines.join('\n') + '\n');
  }
}
const { encoderDir } = await saveTinyEncoder(root, [letters.split('').join(' ')], { hidden: 8, seed: 1 });

const ctx = {
  budget: 'quick' as const,
  seeds: [0, 1, 2, 3],
  dataDir,
  workDir: path.join(root, 'work'),
  quiet: true,
};
const settings = { maxTrain: 16, maxTest: 12, epochs: 2, batchSize: 8, lrGrid: [1e-3], maxLen: 16, seeds: 3 };

test('the experiment runs every task × objective × 3 seeds and reports tables, chart and a measured verdict', async () => {
  const exp = cosentExperiment({ encoders: { zh: encoderDir, en: encoderDir }, pooling: 'mean', settings });
  assert.equal(exp.name, 'cosent');
  const r = await exp.run(ctx);
  const [last, first, lrs] = r.tables;
  assert.equal(lrs.rows.length, STS_TASKS.length);
  assert.match(String(lrs.rows[0][1]), /^1e-3 \(1e-3: -?\d+\.\d\)$/);
  assert.deepEqual(
    last.rows.map((row) => row[0]),
    STS_TASKS.map((t) => t.name),
  );
  assert.equal(last.rows[0][1], 'train (16), dev (10) → test (12)');
  // PAWSX has no dev file: a share of its (24-pair) training file is carved off.
  assert.match(String(last.rows[2][1]), /^valid \((\d+)\), dev \((\d+)\) → test \(12\)$/);
  assert.equal(last.rows[0][5], 49.74);
  // The no-model overlap baseline on the same test pairs, per task.
  assert.equal(last.columns[7], 'overlap, no model');
  for (const row of last.rows)
    assert.ok(typeof row[7] === 'number' && Math.abs(row[7]) <= 100, String(row[7]));
  const cells = [
    ...last.rows.map((row) => row.slice(2, 5)),
    ...first.rows.map((row) => row.slice(1, 4)),
  ].flat();
  assert.equal(cells.length, 2 * 3 * STS_TASKS.length);
  for (const cell of cells) assert.match(String(cell), /^-?\d+\.\d\d ± \d+\.\d\d$/);
  const chart = r.charts[0];
  assert.equal(chart.series.length, 3);
  assert.equal(chart.series[0].y.length, STS_TASKS.length);
  // The verdict's average gap is the chart's, over the note's tasks; the note's own over the same four
  // (ATEC 3.38, LCQMC −0.03, PAWSX 13.14, STS-B 13.73) is +7.56; STS-B (en) is reported apart.
  const noted = STS_TASKS.flatMap((t, i) => (NOTE_BERT_BASE[t.name] ? [chart.series[0].y[i]] : []));
  assert.equal(noted.length, 4);
  const avg = noted.reduce((a, b) => a + b, 0) / noted.length;
  assert.ok(
    r.verdict.includes(`${avg >= 0 ? '+' : '−'}${Math.abs(avg).toFixed(2)} Spearman points`),
    r.verdict,
  );
  assert.ok(r.verdict.includes('the note with BERT-base on the same tasks: +7.56'), r.verdict);
  assert.match(r.verdict, /; STS-B \(en\): [+−]\d+\.\d\d\./);
  // PAWSX's long sentences get the note's 128 tokens whatever the budget's limit.
  assert.equal(r.settings?.maxLen, '16; PAWSX 128');
  // The dynamics study on ATEC: CoSENT at three scales and cosine-MSE, at the rates chosen on ATEC.
  const dyn = r.tables[3];
  assert.deepEqual(
    dyn.rows.map((row) => row[0]),
    ['CoSENT λ=5', 'CoSENT λ=20', 'CoSENT λ=80', 'cosine-MSE'],
  );
  assert.deepEqual(
    dyn.rows.map((row) => row[1]),
    [1e-3, 1e-3, 1e-3, 1e-3],
  );
  assert.equal(r.charts.length, 3);
});

test('tasks follow the encoders given; none is an input error', async () => {
  const r = await cosentExperiment({
    encoders: { en: encoderDir },
    settings: { ...settings, epochs: 1, seeds: 1 },
  }).run(ctx);
  assert.deepEqual(
    r.tables[0].rows.map((row) => row[0]),
    ['STS-B (en)'],
  );
  await assert.rejects(cosentExperiment({ encoders: {} }).run(ctx), /needs at least one pretrained encoder/);
});

test('gridEdgeNote names the objectives whose chosen learning rate is an end of the grid', () => {
  const summary = (objective: ObjectiveSummary['objective'], lr: number, lrs: number[]) =>
    ({ objective, lr, grid: lrs.map((x) => ({ lr: x, dev: 0 })) }) as ObjectiveSummary;
  const grid = [1e-4, 3e-4, 1e-3];
  const outcome = (name: string, lrs: number[], chosen: number[]): TaskOutcome => ({
    task: { ...STS_TASKS[0], name },
    trainPairs: 0,
    devPairs: 0,
    testPairs: 0,
    summaries: (['cosent', 'softmax', 'cosine-mse'] as const).map((o, i) => summary(o, chosen[i], lrs)),
    overlap: 0,
  });
  assert.equal(
    gridEdgeNote([outcome('ATEC', grid, [1e-3, 3e-4, 1e-4]), outcome('LCQMC', grid, [3e-4, 3e-4, 3e-4])]),
    'Chosen at the edge of the grid, so its best may lie beyond it: ATEC CoSENT (largest), ATEC cosine-MSE (smallest).',
  );
  // A one-point grid (the quick budget) has no edge worth naming.
  assert.equal(gridEdgeNote([outcome('ATEC', [1e-4], [1e-4, 1e-4, 1e-4])]), undefined);
});
