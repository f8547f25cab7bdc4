import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { encodeNpy, readNpy } from '../io/npy.js';
import { Rng } from '../util/rng.js';
import { randomProbs } from '../can/reference.test-util.js';
import { can, priorFromLabels } from '../can/index.js';
import { initBackend } from '../backend/index.js';
import { kexue, scratch } from './cli.test-util.js';

await initBackend({ quiet: true });
const { dir, put } = scratch('can-cli');

const rng = new Rng(9);
const probs = randomProbs(rng, 120, 6);
const labels = Array.from({ length: 120 }, (_, i) => i % 6);
const trainLabels = Array.from({ length: 200 }, () => (rng.next() < 0.5 ? 0 : rng.int(6)));
const probsFile = put('p.npy', encodeNpy(probs.data as Float64Array, [120, 6]));
const labelsFile = put('y.txt', labels.join('\n') + '\n');
const trainFile = put('train.txt', trainLabels.join('\n') + '\n');

test('kexue can --json: summary with accuracies, output equals the library', () => {
  const out = path.join(dir, 'out.npy');
  const r = kexue(
    'can',
    '--probs',
    probsFile,
    '--prior',
    trainFile,
    '--labels',
    labelsFile,
    '--threshold',
    '0.8',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  for (const k of [
    'n',
    'classes',
    'uncertain',
    'accuracy_before',
    'accuracy_after',
    'top5_before',
    'top5_after',
    'prior',
  ])
    assert.ok(k in s, k);
  assert.equal(s.n, 120);
  assert.equal(s.classes, 6);
  const lib = can(probs, priorFromLabels(trainLabels, 6), { threshold: 0.8 });
  assert.equal(
    s.uncertain,
    lib.adjusted.reduce((a, b) => a + b, 0),
  );
  assert.deepEqual(Array.from(readNpy(out).data), Array.from(lib.data));
});

test('kexue can with logits in jsonl, uniform and em priors, and dev tuning', () => {
  const rows = Array.from({ length: 30 }, (_, i) => JSON.stringify([i % 3, 1, 0.5 * (i % 2)]));
  const logits = put('l.jsonl', rows.join('\n') + '\n');
  const y = put('l.txt', Array.from({ length: 30 }, (_, i) => i % 3).join('\n'));
  for (const prior of ['uniform', 'em']) {
    const r = kexue('can', '--probs', logits, '--logits', '--prior', prior, '--labels', y, '--json');
    assert.equal(r.code, 0, r.err);
    assert.ok(Math.abs(JSON.parse(r.out).prior.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-9);
  }
  const t = kexue(
    'can',
    '--probs',
    logits,
    '--logits',
    '--prior',
    'uniform',
    '--dev-probs',
    logits,
    '--dev-labels',
    y,
  );
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /tuned on dev/);
});

test('bad input: one line naming the problem, exit code 2, no output file', () => {
  const notSum = put('bad.csv', '0.5,0.4\n0.5,0.5\n');
  const nan = put('nan.jsonl', '[0.5,0.5]\n[NaN,1]\n');
  const neg = put('neg.csv', '1.5,-0.5\n');
  const one = put('one.csv', '1\n1\n');
  const prior3 = put('prior.json', '[0.2,0.3,0.5]');
  const bigLabel = put('big.txt', '0\n7\n');
  const two = put('two.csv', '0.5,0.5\n0.1,0.9\n');
  const out = path.join(dir, 'never.npy');
  const cases: [string[], RegExp][] = [
    [['--probs', notSum, '--prior', 'uniform'], /bad.csv: row 1 sums to 0.900000, not 1/],
    [['--probs', nan, '--prior', 'uniform'], /nan.jsonl, line 2: invalid JSON/],
    [['--probs', neg, '--prior', 'uniform'], /negative probability/],
    [['--probs', one, '--prior', 'uniform'], /needs at least 2 classes/],
    [
      ['--probs', two, '--prior', `vector:${prior3}`, '--topk', '2'],
      /prior has 3 classes, the probabilities have 2/,
    ],
    [
      ['--probs', two, '--prior', 'uniform', '--topk', '2', '--labels', bigLabel],
      /big.txt, line 2: label 7 out of range 0..1/,
    ],
    [['--probs', path.join(dir, 'nope.npy'), '--prior', 'uniform'], /nope.npy: cannot read: ENOENT/],
    [['--probs', two, '--prior', 'uniform', '--topk', 'x'], /--topk must be an integer from 2 to 2, got 'x'/],
    [
      ['--probs', two, '--prior', 'uniform', '--iters', '1000000000'],
      /--iters must be an integer from 1 to 100, got '1000000000'/,
    ],
    [['--probs', two], /--prior is required/],
    [['--probs', two, '--prior', 'uniform', '--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = kexue('can', ...args, '--out', out);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    assert.ok(!/at .*:\d+:\d+/.test(r.err), 'no stack trace');
    assert.ok(!fs.existsSync(out));
  }
});

test('output locations that cannot be written: one line, exit 2, no stack trace', () => {
  const two = put('two-out.csv', '0.5,0.5\n0.1,0.9\n');
  const blocker = put('blocker', '');
  const folder = path.join(dir, 'folder.npy');
  fs.mkdirSync(folder, { recursive: true });
  const cases: [string, RegExp][] = [
    [path.join(blocker, 'sub', 'out.npy'), /blocker.*: cannot write here: a parent of it is a file/],
    [folder, /folder\.npy: cannot write here: it is a folder \(EISDIR\)/],
  ];
  cases.push([two, /two-out\.csv: --out is also an input and would be overwritten/]);
  cases.push([path.join(dir, 'adjusted.jpg'), /adjusted\.jpg: --out must end in \.npy or \.csv/]);
  const before = fs.readFileSync(two, 'utf8');
  for (const [out, re] of cases) {
    const r = kexue('can', '--probs', two, '--prior', 'uniform', '--out', out);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
  assert.equal(fs.readFileSync(two, 'utf8'), before, 'the input is untouched');
});

test('kexue can --help prints usage', () => {
  const r = kexue('can', '--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /Usage: kexue can/);
});
