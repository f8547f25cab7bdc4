/** The density experiment end to end with tiny settings on the bundled MNIST / Fashion-MNIST. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { defaultDataDir } from './run.js';
import { densityExperiment, schedule } from './density.js';

await initBackend({ quiet: true });
const dataDir = defaultDataDir();
const haveData =
  fs.existsSync(path.join(dataDir, 'mnist')) && fs.existsSync(path.join(dataDir, 'fashion-mnist'));

test(
  'density experiment (tiny settings): table rows, the ELBO-vs-L_k curve and OOD AUROCs',
  { skip: !haveData && 'no bundled data' },
  async () => {
    const exp = densityExperiment({
      settings: {
        trainN: 40,
        epochs: 1,
        batchSize: 20,
        ks: [1, 5],
        twoLayerKs: [1],
        testN: 6,
        kEval: 10,
        curveN: 3,
        curveKs: [1, 2, 10],
        oodTrainN: 40,
        oodEpochs: 1,
        oodTestN: 6,
        oodK: 5,
        seeds: 2,
        manySeedsMaxK: 1,
        decayFrom: 0.5,
        long: { epochs: 2, testN: 8 },
      },
    });
    const ctx = {
      budget: 'quick' as const,
      seeds: [0, 1],
      dataDir,
      workDir: fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-density-exp-')),
      quiet: true,
    };
    const r = await exp.run(ctx);
    const [table, long, curve, ood] = r.tables;
    assert.deepEqual(
      table.rows.map((row) => `${row[0]}-${row[1]}-${row[2]}`),
      ['1-VAE-1', '1-VAE-5', '1-IWAE-1', '1-IWAE-5', '2-VAE-1', '2-IWAE-1'],
    );
    assert.equal(table.rows[1][4], 86.47); // the paper's number beside ours
    for (const row of table.rows) {
      const nll = parseFloat(String(row[3]));
      assert.ok(nll > 0 && nll < 784 * Math.LN2 * 2, `NLL ${row[3]}`);
    }
    assert.equal(table.rows[0][3], table.rows[2][3], 'IWAE k=1 is the VAE k=1 model');
    assert.match(String(table.rows[0][3]), /±/, 'the cheap row runs over both seeds');
    assert.doesNotMatch(String(table.rows[1][3]), /±/, 'k = 5 > manySeedsMaxK: one seed');
    assert.deepEqual(
      long.rows.map((row) => `${row[1]}-${row[2]}-${row[4]}`),
      ['VAE-1-86.76', 'IWAE-5-85.54'],
    );
    assert.ok(
      Math.abs(Number(long.rows[0][3]) - 86.76 - Number(long.rows[0][5])) < 0.01,
      'gap = ours − paper',
    );
    assert.equal(curve.rows.length, 3);
    assert.equal(curve.rows[0][2], 0);
    assert.equal(ood.rows.length, 2);
    for (const row of ood.rows) for (const a of row.slice(4)) assert.ok(Number(a) >= 0 && Number(a) <= 1);
    assert.match(r.verdict, /Trained on Fashion-MNIST/);
    assert.match(r.verdict, /After 2 epochs on 40 images/);

    // Every run was recorded: a rerun reuses them all and gives the same result.
    const store = path.join(ctx.workDir, 'density-quick');
    const records = fs.readdirSync(store).filter((f) => f.endsWith('.json'));
    assert.equal(records.length, 5 + 2 + 1 + 1, 'table runs, long runs, OOD, curve');
    // A long run whose record is lost resumes from its final checkpoint (no epoch left) and scores the
    // same model with the same samples.
    fs.rmSync(path.join(store, 'long-1L-vae-k1-seed0.json'));
    const again = await exp.run(ctx);
    assert.deepEqual(again.tables, r.tables);
    assert.equal(again.verdict, r.verdict);
  },
);

test('density schedule: constant, then a geometric decay to lr/10', () => {
  const lr = schedule(1e-3, 0.7);
  assert.equal(lr(0), 1e-3);
  assert.equal(lr(0.69), 1e-3);
  assert.ok(Math.abs(lr(0.85) - 1e-3 * 10 ** -0.5) < 1e-12);
  assert.ok(Math.abs(lr(1) - 1e-4) < 1e-12);
  assert.equal(schedule(1e-3, 1)(0.99), 1e-3);
});
