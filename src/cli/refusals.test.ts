/**
 * Regressions from an adversarial sweep of the CLI: each input is refused with one line and exit code
 * 2, before any work, and the user's files are left as they were.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import { encodeNpy } from '../io/npy.js';
import { kexue, scratch } from './cli.test-util.js';

await initBackend({ quiet: true });
const { dir, put } = scratch('refusals');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const texts = ['the cat sleeps', 'a cat purrs', 'the car drives', 'a car honks'];
const corpus = put('corpus.txt', texts.join('\n') + '\n');
const { encoderDir } = await saveTinyEncoder(dir, texts);
const pairs = put('pairs.tsv', 'the cat\ta cat\t1\nthe car\ta cat\t0\na car\tthe car\t1\n');
const sameLabel = put('same.tsv', 'the cat\ta cat\t3\nthe car\ta cat\t3\n');
const nanVectors = new Float32Array(texts.length * 16).fill(0.1);
nanVectors[2 * 16 + 5] = NaN;
const vectors = put('vectors.npy', encodeNpy(nanVectors, [texts.length, 16]));
const gap = put('gap.csv', '0.2,0.8\n\n0.5,0.5\n');
const badResults = path.join(dir, 'results');
fs.mkdirSync(badResults);
fs.writeFileSync(path.join(badResults, 'x.json'), '{bad');

test('refused with one line naming the flag or file; inputs untouched, nothing written', () => {
  const snapshot = () =>
    [corpus, pairs, path.join(encoderDir, 'weights.bin'), path.join(encoderDir, 'config.json')].map((f) =>
      fs.readFileSync(f),
    );
  const before = snapshot();
  const train = ['cosent', 'train', '--train', pairs, '--dev', pairs, '--encoder', encoderDir];
  const cases: [string[], RegExp][] = [
    [[...train, '--out', encoderDir], /is the --encoder folder or inside it/],
    [[...train, '--out', path.join(encoderDir, 'sub')], /is the --encoder folder or inside it/],
    [[...train, '--out', dir], /is a non-empty folder that is not a cosent train output/],
    [['cosent', 'eval', '--model', encoderDir, '--data', sameLabel], /same\.tsv: every pair has the label 3/],
    [
      [...train.slice(0, 4), '--dev', sameLabel, '--encoder', encoderDir, '--out', path.join(dir, 'o')],
      /same\.tsv: every pair has the label 3/,
    ],
    [
      ['diagnose', '--corpus', corpus, '--layers', '1', '--hidden', '16', '--heads', '2', '--chart', corpus],
      /--chart must end in \.svg/,
    ],
    [
      ['diagnose', '--corpus', corpus, '--chart', path.join(dir, 'c.svg'), '--model', path.join(dir, 'nope')],
      /nope/,
    ],
    [['gan', '--iters', '2', '--out', corpus], /--out must end in \.png/],
    [['gan', '--iters', '1e12'], /--iters must be an integer from 1 to 10000000/],
    [['gradpenalty', '--points', '1e12'], /--points must be an integer from 1 to 1000000/],
    [['gradpenalty', '--survey', '1e12'], /--survey must be an integer from 1 to 1000000/],
    [
      [
        'density',
        'score',
        '--model',
        encoderDir,
        '--in',
        vectors,
        '--k',
        '1e12',
        '--out',
        path.join(dir, 's.npy'),
      ],
      /--k must be an integer from 1 to 1000000/,
    ],
    [
      [
        'encode',
        '--model',
        encoderDir,
        '--in',
        corpus,
        '--out',
        path.join(dir, 'v.npy'),
        '--max-len',
        '100000',
      ],
      /exceeds the model's \d+ learned positions: use 3 to \d+/,
    ],
    [
      ['search', '--model', encoderDir, '--corpus', corpus, '--query', 'cat', '--vectors', vectors],
      /vectors\.npy: row 3 \(corpus line 3\) holds a non-finite value/,
    ],
    [['can', '--probs', gap, '--prior', 'uniform'], /gap\.csv, line 2: is empty between rows/],
    [
      ['report', '--results', path.join(dir, 'nope'), '--report', path.join(dir, 'rep')],
      /nope: no such results folder/,
    ],
    [
      ['report', '--results', badResults, '--report', path.join(dir, 'rep')],
      /results: no readable results: /,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = kexue(...args);
    assert.equal(r.code, 2, `${args.join(' ')}\n${r.err}`);
    assert.match(r.err, pattern);
    assert.equal(
      r.err
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('kexue: ')).length,
      1,
      r.err,
    );
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
  assert.deepEqual(snapshot(), before, 'inputs unchanged');
  for (const f of ['o', 'v.npy', 's.npy', 'rep', 'c.svg'])
    assert.ok(!fs.existsSync(path.join(dir, f)), `${f} written`);
});
