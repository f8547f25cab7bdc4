import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { loadEncoder } from '../io/encoder-files.js';
import { RECIPES } from '../experiments/pretraining.js';
import { kexue, scratch } from './cli.test-util.js';

await initBackend({ quiet: true });
const { dir, put } = scratch('pretrain-cli');

const headlines = ['今天天气很好', '我们去公园散步', '股市大涨三个百分点', '球队赢得了比赛', '新手机发布了'];
const corpus = put('zh.txt', Array.from({ length: 120 }, (_, i) => headlines[i % 5] + i).join('\n') + '\n');
const clue = put(
  'clue.jsonl',
  headlines.map((t, i) => JSON.stringify({ text: t, label: i })).join('\n') + '\n',
);
const tinyModel = ['--layers', '1', '--hidden', '16', '--heads', '2', '--seq', '16', '--batch-size', '4'];

test('kexue pretrain: trains, evaluates, writes a loadable model; --resume continues', () => {
  const out = path.join(dir, 'run');
  const args = ['pretrain', '--corpus', corpus, '--corpus', clue, ...tinyModel, '--eval-every', '2'];
  const r = kexue(
    ...args,
    '--steps',
    '4',
    '--checkpoint-every',
    '2',
    '--held-out',
    '0.2',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { history: { step: number; evalAccuracy: number }[]; vocabSize: number };
  assert.deepEqual(
    res.history.map((h) => h.step),
    [2, 4],
  );
  assert.ok(res.history.every((h) => h.evalAccuracy >= 0 && h.evalAccuracy <= 1));
  for (const f of [
    'run.json',
    'history.json',
    'history.svg',
    'model/config.json',
    'model/vocab.txt',
    'checkpoint/state.json',
  ])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  const { model, tokenizer } = loadEncoder(path.join(out, 'model'));
  assert.equal(model.config.layers, 1);
  assert.equal(model.config.hidden, 16);
  assert.equal(tokenizer?.vocab.size, res.vocabSize);
  const y = tf.tidy(() => model.apply({ ids: tf.tensor2d([[2, 7, 8, 3]], [1, 4], 'int32') }).last);
  assert.ok(Number.isFinite(tf.sum(y).dataSync()[0]));
  model.dispose();

  // Without --resume an existing run is not overwritten.
  const again = kexue(...args, '--steps', '4', '--out', out);
  assert.equal(again.code, 2);
  assert.match(again.err, /--resume/);
  const changed = kexue('pretrain', '--out', out, '--resume', '--layers', '2');
  assert.equal(changed.code, 2);
  assert.match(changed.err, /only --steps may change/);
  // A corpus edited since the run started is refused, and the run is left as it was.
  const original = fs.readFileSync(clue);
  fs.appendFileSync(clue, JSON.stringify({ text: '新的一行', label: 0 }) + '\n');
  const edited = kexue('pretrain', '--out', out, '--resume', '--steps', '6');
  assert.equal(edited.code, 2);
  assert.match(edited.err, /the corpus changed since this run started \(125 documents then, 126 now/);
  fs.writeFileSync(clue, original);
  const resumed = kexue('pretrain', '--out', out, '--resume', '--steps', '6');
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /resumed at step 4/);
  const hist = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')) as { step: number }[];
  assert.deepEqual(
    hist.map((h) => h.step),
    [2, 4, 6],
  );
});

test('kexue pretrain: bad input exits 2 with one line', () => {
  const cases: [string[], RegExp][] = [
    [['--out', path.join(dir, 'x')], /--corpus \(or --recipe\) is required/],
    [['--corpus', corpus], /--out is required/],
    [['--corpus', path.join(dir, 'missing.txt'), '--out', path.join(dir, 'x1')], /missing\.txt/],
    [['--corpus', corpus, '--lang', 'fr', '--out', path.join(dir, 'x2')], /--lang/],
    [['--corpus', corpus, '--hidden', '30', '--heads', '4', '--out', path.join(dir, 'x3')], /divisible/],
    [['--corpus', corpus, '--steps', '0', '--out', path.join(dir, 'x4')], /--steps/],
    [['--out', path.join(dir, 'x5'), '--resume'], /nothing to resume/],
    [['--recipe', 'fr', '--out', path.join(dir, 'x8')], /unknown recipe 'fr'/],
    [['--corpus', corpus, '--data', dir, '--out', path.join(dir, 'x9')], /--data is only used with --recipe/],
    [
      ['--recipe', 'zh', '--data', path.join(dir, 'nodata'), '--out', path.join(dir, 'x10')],
      /tnews-unlabeled\.txt/,
    ],
    [
      ['--corpus', put('bad.jsonl', '{"text":"好"}\n{"label":1}\n'), '--out', path.join(dir, 'x6')],
      /bad\.jsonl, line 2/,
    ],
    [
      ['--corpus', corpus, ...tinyModel, '--batch-size', '1000', '--out', path.join(dir, 'x7')],
      /fewer than one batch/,
    ],
    [
      ['--corpus', corpus, ...tinyModel, '--lr', '1e30', '--steps', '6', '--out', path.join(dir, 'x11')],
      /training diverged: the loss is not finite at step \d+; lower the learning rate/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = kexue('pretrain', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    // Progress lines may come first (stderr is not a terminal here); the error is one line.
    const errors = r.err
      .trim()
      .split('\n')
      .filter((l) => !/^pretrain +\d+%/.test(l));
    assert.equal(errors.length, 1, r.err);
  }
  // Failed fresh runs leave nothing: no model, and no lone run.json.
  for (const x of ['x7', 'x11']) assert.ok(!fs.existsSync(path.join(dir, x)), `${x} was removed`);
});

test('kexue pretrain --recipe: the recipe corpus and settings, with flags overriding them', () => {
  const data = path.join(dir, 'data');
  fs.mkdirSync(path.join(data, 'text'), { recursive: true });
  // Paragraphs (blank-line separated), as the recipe reads this file.
  fs.writeFileSync(
    path.join(data, 'text', 'janeausten.txt'),
    fs.readFileSync(corpus, 'utf8').replace(/\n/g, '\n\n'),
  );
  const out = path.join(dir, 'recipe-run');
  const r = kexue('pretrain', '--recipe', 'en', '--data', data, ...tinyModel, '--steps', '2', '--out', out);
  assert.equal(r.code, 0, r.err);
  const spec = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(spec.corpus, [path.join(data, 'text', 'janeausten.txt')]);
  assert.equal(spec.docs, 'paragraphs');
  assert.deepEqual(spec.tokenizer, RECIPES.en.spec.tokenizer);
  assert.equal(spec.norm, RECIPES.en.spec.norm);
  assert.equal(spec.hidden, 16);
  assert.equal(spec.steps, 2);
});
