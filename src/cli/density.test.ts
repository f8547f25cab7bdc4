/**
 * `kexue density` end to end on tiny .npy data: train writes a TF.js-format model and a checkpoint and
 * resumes it; score writes one log p̂ per row and matches the JSON summary; bad input (wrong width,
 * values outside [0, 1], NaN, k < 1, missing model, unwritable output, mismatched resume) exits 2 with
 * one line naming the file or flag, before any work and without an output file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { encodeNpy, readNpy } from '../io/npy.js';
import { Rng } from '../util/rng.js';
import { kexue, scratch } from './cli.test-util.js';

const { dir, put } = scratch('density');
const rng = new Rng(1);
const train = put(
  'train.npy',
  encodeNpy(
    Float32Array.from({ length: 40 * 16 }, () => rng.next()),
    [40, 16],
  ),
);
const test8 = put(
  'test.npy',
  encodeNpy(
    Uint8Array.from({ length: 5 * 16 }, () => (rng.next() < 0.5 ? 0 : 255)),
    [5, 4, 4],
  ),
);
const model = path.join(dir, 'model');

const oneLine = (err: string) => err.trim().split('\n').length === 1;

test('train writes model.json + weights.bin and a checkpoint; running again with more epochs resumes', () => {
  const args = [
    'density',
    'train',
    '--data',
    train,
    '--objective',
    'iwae',
    '--k',
    '3',
    '--batch-size',
    '10',
    '--out',
    model,
    '--json',
  ];
  const r1 = kexue(...args, '--epochs', '1');
  assert.equal(r1.code, 0, r1.err);
  assert.equal(JSON.parse(r1.out).epochs, 1);
  for (const f of ['model.json', 'weights.bin', 'checkpoint/state.json', 'checkpoint/optimizer.bin'])
    assert.ok(fs.existsSync(path.join(model, f)), f);
  const manifest = JSON.parse(fs.readFileSync(path.join(model, 'model.json'), 'utf8'));
  assert.equal(manifest.modelTopology.config.dataDim, 16);
  assert.deepEqual(manifest.weightsManifest[0].paths, ['weights.bin']);
  const r2 = kexue(...args, '--epochs', '2');
  assert.equal(r2.code, 0, r2.err);
  const s2 = JSON.parse(r2.out);
  assert.equal(s2.epochs, 2);
  assert.equal(s2.resumedFrom, 1);
});

test('score writes one log p̂(x) per row; --json reports the mean NLL and bits/dim', () => {
  const out = path.join(dir, 'scores.npy');
  const r = kexue('density', 'score', '--model', model, '--in', test8, '--k', '20', '--out', out, '--json');
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  const scores = readNpy(out);
  assert.deepEqual(scores.shape, [5]);
  const mean = -Array.from(scores.data).reduce((a, b) => a + b, 0) / 5;
  assert.ok(Math.abs(mean - s.meanNll) < 1e-9);
  assert.ok(Math.abs(s.bitsPerDim - s.meanNll / (16 * Math.LN2)) < 1e-9);
  assert.equal(s.k, 20);
  assert.ok(s.meanElbo <= -s.meanNll + 1e-9, 'the ELBO estimate is below log p̂');
});

function rejects(args: string[], pattern: RegExp, noFile?: string) {
  const r = kexue(...args);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, pattern);
  assert.ok(oneLine(r.err), r.err);
  assert.ok(!r.err.includes('    at '), 'no stack trace');
  if (noFile) assert.ok(!fs.existsSync(noFile), `${noFile} should not exist`);
}

test('score rejects bad input with one line and no output file', () => {
  const out = path.join(dir, 'bad.npy');
  const wide = put('wide.npy', encodeNpy(new Float32Array(3 * 10), [3, 10]));
  const big = put(
    'big.npy',
    encodeNpy(
      Float32Array.from({ length: 32 }, (_, i) => (i === 20 ? 1.5 : 0.5)),
      [2, 16],
    ),
  );
  const nan = put(
    'nan.npy',
    encodeNpy(
      Float32Array.from({ length: 32 }, (_, i) => (i === 17 ? NaN : 0.5)),
      [2, 16],
    ),
  );
  rejects(
    ['density', 'score', '--model', model, '--in', wide, '--out', out],
    /wide\.npy: rows have 10 values, the model expects 16/,
    out,
  );
  rejects(
    ['density', 'score', '--model', model, '--in', big, '--out', out],
    /big\.npy: x has 1\.5 at row 1: a Bernoulli decoder needs values in \[0, 1\]/,
    out,
  );
  rejects(
    ['density', 'score', '--model', model, '--in', nan, '--out', out],
    /nan\.npy: non-finite value \(NaN\) at row 1/,
    out,
  );
  rejects(
    ['density', 'score', '--model', model, '--in', test8, '--k', '0', '--out', out],
    /--k must be an integer from 1 to 1000000, got '0'/,
    out,
  );
  rejects(
    ['density', 'score', '--model', path.join(dir, 'nope'), '--in', test8, '--out', out],
    /nope: no model\.json here/,
    out,
  );
  rejects(
    ['density', 'score', '--model', model, '--in', test8, '--out', path.join(put('afile', 'x'), 's.npy')],
    /afile: is a file, not a folder; choose another --out/,
  );
  const broken = path.join(dir, 'broken');
  fs.mkdirSync(broken);
  fs.copyFileSync(path.join(model, 'model.json'), path.join(broken, 'model.json'));
  rejects(
    ['density', 'score', '--model', broken, '--in', test8, '--out', out],
    /broken\/weights\.bin: weights file not found/,
    out,
  );
});

test('train rejects bad input before training', () => {
  const out = path.join(dir, 'bad-model');
  const big = put(
    'big-train.npy',
    encodeNpy(
      Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? -0.2 : 0.5)),
      [2, 16],
    ),
  );
  rejects(
    ['density', 'train', '--data', big, '--out', out],
    /big-train\.npy: value -0\.2.* at row 0 is outside \[0, 1\]/,
  );
  assert.ok(!fs.existsSync(path.join(out, 'model.json')));
  rejects(
    ['density', 'train', '--data', train, '--objective', 'elbo', '--out', out],
    /--objective must be one of vae, iwae/,
  );
  rejects(
    ['density', 'train', '--data', train, '--objective', 'vae', '--estimator', 'dreg', '--out', out],
    /dreg needs --objective iwae/,
  );
  rejects(
    ['density', 'train', '--data', 'cifar', '--out', out],
    /--data must be mnist, fashion-mnist or a \.npy file/,
  );
  rejects(
    ['density', 'train', '--data', train, '--k', '5', '--batch-size', '10', '--epochs', '3', '--out', model],
    /state\.json: the checkpoint was trained with k = 3/,
  );
  rejects(['density', 'fit'], /expected 'kexue density train' or 'kexue density score'/);
});
