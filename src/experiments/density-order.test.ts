/** The density-order experiment with tiny settings on the bundled MNIST, and its paired statistic. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { defaultDataDir } from './run.js';
import { densityOrderExperiment, pairedNllDifference, summarizeDensityOrder } from './density-order.js';

await initBackend({ quiet: true });
const dataDir = defaultDataDir();
const haveData = fs.existsSync(path.join(dataDir, 'mnist'));

test('pairedNllDifference: mean of VAE − IWAE log p̂ per image, its standard error, refusals', () => {
  const d = pairedNllDifference([-90, -100, -80, -95], [-89, -98, -80, -94]);
  // Per image: −1, −2, 0, −1 → mean −1, sample std √(2/3), se √(2/3)/2.
  assert.ok(Math.abs(d.mean + 1) < 1e-12);
  assert.ok(Math.abs(d.se - Math.sqrt(2 / 3) / 2) < 1e-12);
  assert.throws(() => pairedNllDifference([1, 2], [1]), /equal-length/);
});

test(
  'density-order (tiny settings): one row per k from paired runs, reused on a rerun',
  { skip: !haveData && 'no bundled data' },
  async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-density-order-'));
    after(() => fs.rmSync(workDir, { recursive: true, force: true }));
    const exp = densityOrderExperiment({
      settings: {
        epochs: 1,
        testN: 8,
        pairs: [
          [1, 2],
          [2, 2],
        ],
      },
      density: { trainN: 40, batchSize: 20, kEval: 10 },
    });
    const ctx = { budget: 'full' as const, seeds: [4], dataDir, workDir, quiet: true };
    const r = await exp.run(ctx);
    const [t] = r.tables;
    assert.deepEqual(
      t.rows.map((row) => row.slice(0, 2)),
      [
        [1, 2],
        [2, 2],
      ],
    );
    for (const row of t.rows) {
      const [, , vae, iwae, diff, se] = row as number[];
      assert.ok(vae > 0 && iwae > 0 && se > 0);
      // The paired mean difference is the difference of the mean NLLs (up to the stored rounding).
      assert.ok(Math.abs(diff - (iwae - vae)) < 0.02, `${diff} vs ${iwae - vae}`);
    }
    const s = summarizeDensityOrder({
      ...r,
      name: 'density-order',
      budget: 'full',
      seeds: [4],
      seconds: 1,
      env: {},
    } as never)!;
    assert.match(s.ours, /^[+-]\d+\.\d\d ± \d+\.\d\d \(1L k=2\), [+-]\d+\.\d\d ± \d+\.\d\d \(2L k=2\)$/);
    assert.match(s.reason, /at \d of 2 k \(1 epochs\)/);
    const t0 = performance.now();
    const again = await exp.run(ctx);
    assert.deepEqual(again.tables, r.tables);
    assert.ok(performance.now() - t0 < 3000, 'the recorded runs were not reused');
  },
);
