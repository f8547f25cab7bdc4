import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import { readNpy } from '../io/npy.js';
import { Rng } from '../util/rng.js';
import { childtuningExperiment, methodsFor, sweepMethods } from './childtuning.js';

await initBackend({ quiet: true });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-childtuning-exp-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

// A stand-in CLUE TNEWS folder: three classes whose texts start with a class letter.
const rng = new Rng(1);
const dataDir = path.join(root, 'data');
const taskDir = path.join(dataDir, 'clue', 'tnews');
fs.mkdirSync(taskDir, { recursive: true });
const line = () => {
  const label = rng.int(3);
  const text = 'abc'[label] + Array.from({ length: 4 }, () => 'defg'[rng.int(4)]).join('');
  return JSON.stringify({ text, label });
};
for (const [split, n] of [
  ['train', 30],
  ['dev', 15],
  ['test', 12],
] as const)
  fs.writeFileSync(path.join(taskDir, `${split}.jsonl`), Array.from({ length: n }, line).join('\n') + '\n');
fs.writeFileSync(path.join(taskDir, 'labels.json'), JSON.stringify(['a', 'b', 'c']));
const { encoderDir } = await saveTinyEncoder(root, ['a b c d e f g'], { hidden: 8, seed: 1 });

test('the experiment runs every method × seed, reports the note table and √p ratios, and saves probabilities', async () => {
  const exp = childtuningExperiment({
    encoderDir,
    settings: {
      regimes: [{ task: 'tnews', shots: 3, seeds: 2, epochs: 1, batchSize: 4, maxTest: 10, extraPs: [0.2] }],
      ps: [0.5],
      lr: 1e-3,
      maxLen: 8,
    },
  });
  const workDir = path.join(root, 'work');
  const r = await exp.run({ budget: 'quick', seeds: [0, 1, 2], dataDir, workDir, quiet: true });
  const [acc, note, sqrtp] = r.tables;
  assert.deepEqual(
    acc.rows.map((row) => row[0]),
    [...methodsFor([0.5]), ...sweepMethods([0.2])].map((m) => m.label),
  );
  assert.deepEqual(
    sweepMethods([0.2]).map((m) => m.key),
    ['F-0.2', 'D-0.2'],
  );
  assert.match(String(acc.rows[0][1]), /^\d+\.\d\d ± \d+\.\d\d$/);
  assert.match(String(acc.rows[1][1]), /^\d+\.\d\d ± \d+\.\d\d \([+-]\d+\.\d\d\)$/);
  assert.equal(note.rows[0][1], '60.06 → 60.56');
  assert.equal(note.rows.length, 3);
  assert.equal(sqrtp.rows[0][2], 0.707);
  assert.deepEqual(sqrtp.rows[1].slice(1, 3), [0.2, 0.447]);
  assert.equal(sqrtp.rows[1][4], null, 'no update dropout in the sweep');
  assert.match(r.verdict, /Keep-probability sweep .*p = 0\.2 \/ 0\.5: F [+-]\d/);
  // lr×√p scales every step by √p exactly while warmup keeps Adam in its sign-like regime: the ratio is near √p.
  assert.ok(Math.abs((sqrtp.rows[0][5] as number) - 0.707) < 0.1, `lr×√p ratio ${sqrtp.rows[0][5]}`);
  assert.match(r.verdict, /ChildTuning-F's mean \|Δθ\| per step is/);
  const probs = readNpy(path.join(workDir, 'probs-quick', 'tnews-3shot', 'F-0.5-seed1-test.npy'));
  assert.deepEqual(probs.shape, [10, 3]);
  assert.deepEqual(readNpy(path.join(workDir, 'probs-quick', 'tnews-3shot', 'test-labels.npy')).shape, [10]);
  assert.equal(r.charts[0].series[0].y.length, methodsFor([0.5]).length + 1);
  // A second run finds every (method, seed) recorded and reuses it.
  const t0 = performance.now();
  const again = await exp.run({ budget: 'quick', seeds: [0, 1, 2], dataDir, workDir, quiet: true });
  assert.deepEqual(again.tables, r.tables);
  assert.ok(performance.now() - t0 < 2000, 'the recorded runs were not reused');
  await assert.rejects(
    exp.run({ budget: 'quick', seeds: [0], dataDir, workDir, quiet: true }),
    /needs 2 seeds; --seeds gives 1/,
  );
});
