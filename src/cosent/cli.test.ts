import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend/index.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import { encodeNpy, readNpy } from '../io/npy.js';
import { loadSentenceModel } from '../io/sentence-files.js';
import { kexue, scratch } from '../cli/cli.test-util.js';

await initBackend({ quiet: true });
const { dir, put } = scratch('cosent-cli');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// A tiny randomly initialised encoder with a character tokenizer, saved like a pretrained one.
const words = [
  'red apple',
  'green apple',
  'a red car',
  'a blue car',
  'the cat sleeps',
  'the dog sleeps',
  'blue sky',
  'red sky',
];
const { encoderDir } = await saveTinyEncoder(dir, words);

const rows = words.flatMap((a, i) =>
  words.map((b, j) => `${a}\t${b}\t${i === j ? 5 : (i ^ j) === 1 ? 3 : Math.abs(i - j) % 3}`),
);
const trainFile = put('train.tsv', rows.join('\n') + '\n');
const devFile = put('dev.tsv', 'sentence1\tsentence2\tscore\n' + rows.slice(0, 20).join('\n') + '\n');
const corpusFile = put('corpus.txt', words.join('\n') + '\n\n');
const out = path.join(dir, 'model');
const bin = fileURLToPath(new URL('../../bin/kexue.js', import.meta.url));

test('cosent train → eval → encode → search round trip', () => {
  const t = kexue(
    'cosent',
    'train',
    '--train',
    trainFile,
    '--dev',
    devFile,
    '--encoder',
    encoderDir,
    '--out',
    out,
    '--epochs',
    '2',
    '--batch-size',
    '16',
    '--lr',
    '1e-3',
    '--pooling',
    'mean',
    '--max-len',
    '24',
  );
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /best epoch [12]: dev Spearman -?\d+\.\d\d/);
  assert.match(t.err, /epoch 2: mean loss/);
  const log = JSON.parse(fs.readFileSync(path.join(out, 'train-log.json'), 'utf8'));
  assert.equal(log.history.length, 2);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'sentence.json'), 'utf8')).pooling, 'mean');
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  assert.match(card, /^# Sentence encoder \(cosent\)/);
  assert.match(card, /\| training \| train\.tsv \(64 pairs\) \|/);
  assert.match(
    card,
    new RegExp(
      `dev Spearman ×100 \\(best epoch ${log.bestEpoch} of 2\\) \\| ${log.history[log.bestEpoch - 1].devSpearman.toFixed(2)}`,
    ),
  );

  // eval on the dev file reproduces the best epoch's dev Spearman.
  const e = kexue('cosent', 'eval', '--model', out, '--data', devFile, '--json');
  assert.equal(e.code, 0, e.err);
  const summary = JSON.parse(e.out);
  const best = log.history[log.bestEpoch - 1].devSpearman;
  assert.ok(Math.abs(summary.spearman - best) < 1e-3, `${summary.spearman} vs ${best}`);
  assert.equal(summary.pairs, 20);

  // encode: one row per line (the blank one included), equal to the library's vectors.
  const npy = path.join(dir, 'v.npy');
  const c = kexue('encode', '--model', out, '--in', corpusFile, '--out', npy);
  assert.equal(c.code, 0, c.err);
  const vecs = readNpy(npy);
  assert.deepEqual(vecs.shape, [words.length + 1, 16]);
  const model = loadSentenceModel(out);
  const lib = model.encodeFlat([...words, '']);
  model.dispose();
  lib.forEach((x, i) => assert.ok(Math.abs(x - vecs.data[i]) < 1e-5));

  // search: a corpus line as the query finds itself first, with cosine 1; --vectors gives the same.
  const s = kexue('search', '--model', out, '--corpus', corpusFile, '--query', words[2], '-k', '3', '--json');
  assert.equal(s.code, 0, s.err);
  const hits = JSON.parse(s.out).hits;
  assert.equal(hits.length, 3);
  assert.deepEqual([hits[0].line, hits[0].text], [3, words[2]]);
  assert.ok(
    Math.abs(hits[0].score - 1) < 1e-5 && hits[1].score <= hits[0].score && hits[2].score <= hits[1].score,
  );
  const sv = kexue(
    'search',
    '--model',
    out,
    '--corpus',
    corpusFile,
    '--vectors',
    npy,
    '--query',
    words[2],
    '-k',
    '3',
    '--json',
  );
  assert.equal(sv.code, 0, sv.err);
  assert.deepEqual(
    JSON.parse(sv.out).hits.map((h: { line: number }) => h.line),
    hits.map((h: { line: number }) => h.line),
  );
  const plain = kexue('search', '--model', out, '--corpus', corpusFile, '--query', 'red', '-k', '20');
  assert.equal(plain.out.trim().split('\n').length, words.length, 'blank lines are never results');
});

test('malformed input: one line naming file, line and problem; exit code 2', () => {
  const short = put('short.tsv', 'a\tb\t1\nc\td\n');
  const notNumber = put('nan.tsv', 'a\tb\t1\nc\td\tsimilar\n');
  const empty = put('empty.tsv', '\n\n');
  const wrongShape = path.join(dir, 'wrong.npy');
  fs.writeFileSync(wrongShape, encodeNpy(new Float32Array(6), [2, 3]));
  const cases: [string[], RegExp][] = [
    [
      ['cosent', 'train', '--train', short, '--dev', devFile, '--encoder', encoderDir, '--out', out],
      /short.tsv, line 2: expected 3 tab-separated fields/,
    ],
    [
      ['cosent', 'eval', '--model', out, '--data', notNumber],
      /nan.tsv, line 2, field label: 'similar' is not a number/,
    ],
    [['cosent', 'eval', '--model', out, '--data', empty], /empty.tsv: no sentence pairs/],
    [['cosent', 'eval', '--model', path.join(dir, 'nope'), '--data', devFile], /nope: not a model directory/],
    [['cosent', 'train', '--train', trainFile, '--encoder', encoderDir, '--out', out], /--dev is required/],
    [
      [
        'cosent',
        'train',
        '--train',
        trainFile,
        '--dev',
        devFile,
        '--encoder',
        encoderDir,
        '--out',
        out,
        '--objective',
        'triplet',
      ],
      /--objective must be one of cosent, softmax, cosine-mse/,
    ],
    [
      [
        'cosent',
        'train',
        '--train',
        trainFile,
        '--dev',
        devFile,
        '--encoder',
        encoderDir,
        '--out',
        out,
        '--epochs',
        '0',
      ],
      /--epochs must be an integer ≥ 1/,
    ],
    [['cosent', 'fit'], /expected 'kexue cosent train' or 'kexue cosent eval', got 'fit'/],
    [
      ['encode', '--model', out, '--in', corpusFile, '--out', path.join(dir, 'x.npy'), '--pooling', 'max'],
      /--pooling must be one of cls, mean, first-last-avg/,
    ],
    [
      ['search', '--model', out, '--corpus', corpusFile, '--query', 'x', '--vectors', wrongShape],
      /wrong.npy: shape \(2, 3\) does not match the corpus and model: expected \(9, 16\)/,
    ],
    [
      ['search', '--model', out, '--corpus', corpusFile, '--query', 'x', '-k', '0'],
      /--k must be an integer ≥ 1, got/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = kexue(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, pattern);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});

test('cosent train: killed mid-run, --resume finishes with the weights of an uninterrupted run', async () => {
  const args = (to: string) => [
    'cosent',
    'train',
    '--train',
    trainFile,
    '--dev',
    devFile,
    '--encoder',
    encoderDir,
    '--out',
    to,
    '--epochs',
    '10',
    '--batch-size',
    '16',
    '--lr',
    '1e-3',
    '--checkpoint-every',
    '1',
  ];
  const whole = path.join(dir, 'whole');
  const w = kexue(...args(whole));
  assert.equal(w.code, 0, w.err);
  assert.ok(!fs.existsSync(path.join(whole, 'checkpoint')), 'a finished run keeps no checkpoint');

  const cut = path.join(dir, 'cut');
  const child = spawn(process.execPath, [bin, ...args(cut)], { env: { ...process.env, KEXUE_QUIET: '1' } });
  const exited = new Promise((r) => child.once('exit', r));
  const state = path.join(cut, 'checkpoint', 'state.json');
  while (!fs.existsSync(state)) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;

  const refused: [string[], RegExp][] = [
    [args(cut), /cut: holds an unfinished run \(checkpoint\/\); add --resume/],
    [[...args(cut), '--resume', '--lr', '2e-3'], /started with lr = 0\.001, this command gives 0\.002/],
    [[...args(path.join(dir, 'none')), '--resume'], /none\/checkpoint: no checkpoint to resume from/],
  ];
  for (const [a, pattern] of refused) {
    const r = kexue(...a);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, pattern);
  }
  const r = kexue(...args(cut), '--resume');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /resumed at step \d+; best epoch/);
  for (const f of ['weights.bin', 'sentence.json'])
    assert.deepEqual(fs.readFileSync(path.join(cut, f)), fs.readFileSync(path.join(whole, f)), f);
  const log = (d: string) => JSON.parse(fs.readFileSync(path.join(d, 'train-log.json'), 'utf8'));
  assert.deepEqual(
    log(cut).history.map((h: { meanLoss: number }) => h.meanLoss),
    log(whole).history.map((h: { meanLoss: number }) => h.meanLoss),
  );
  assert.ok(!fs.existsSync(path.join(cut, 'checkpoint')));
});
