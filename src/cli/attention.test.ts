import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { kexue, scratch } from './cli.test-util.js';

const { dir, put } = scratch('attention-cli');
const words = [
  'the cat sat on the mat',
  'a dog ran in the park',
  'rain fell all day long',
  'she read a book',
];
const corpus = put('en.txt', Array.from({ length: 80 }, (_, i) => `${words[i % 4]} ${i}`).join('\n') + '\n');
const tiny = [
  '--lang',
  'en',
  '--tokenizer',
  'char',
  '--layers',
  '1',
  '--hidden',
  '16',
  '--heads',
  '2',
  '--seq',
  '16',
  '--batch-size',
  '4',
  '--steps',
  '2',
  '--eval-every',
  '2',
  '--held-out',
  '0.2',
];
const model = path.join(dir, 'logn', 'model');

/** Exit 2 with one line on stderr that matches `re`, and nothing on stdout. */
function rejects(r: { code: number | null; out: string; err: string }, re: RegExp) {
  assert.equal(r.code, 2, r.err);
  assert.equal(r.out, '');
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
  assert.match(r.err, re);
}

test('kexue pretrain --attention-scale log-n and RoPE scaling: saved in the model config and run.json', () => {
  const out = path.join(dir, 'logn');
  const r = kexue(
    'pretrain',
    '--corpus',
    corpus,
    ...tiny,
    '--position',
    'rope',
    '--attention-scale',
    'log-n',
    '--scale-base',
    'train-length',
    '--scale-at',
    'inference',
    '--rope-scaling',
    'dynamic-ntk',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const cfg = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
  assert.equal(cfg.attentionScale, 'log-n');
  assert.deepEqual(cfg.attentionScaleOptions, {
    base: 'train-length',
    at: 'inference',
    clamp: 16,
    trainLength: 16,
  });
  assert.deepEqual(cfg.ropeScaling, { kind: 'dynamic-ntk', trainLength: 16 });
  const run = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.deepEqual(run.attentionScale, { kind: 'log-n', base: 'train-length', at: 'inference', clamp: 16 });
  // A standard run records none of the new fields, so run.json files from before them still match.
  const std = path.join(dir, 'std');
  assert.equal(kexue('pretrain', '--corpus', corpus, ...tiny, '--position', 'rope', '--out', std).code, 0);
  const stdRun = JSON.parse(fs.readFileSync(path.join(std, 'run.json'), 'utf8'));
  for (const k of ['attentionScale', 'ropeBase', 'ropeScaling']) assert.ok(!(k in stdRun), k);
});

test('kexue pretrain rejects bad attention flags with one line, exit 2', () => {
  const out = path.join(dir, 'bad');
  const run = (...a: string[]) => kexue('pretrain', '--corpus', corpus, ...tiny, '--out', out, ...a);
  rejects(run('--attention-scale', 'log-m'), /--attention-scale must be standard or log-n, got 'log-m'/);
  rejects(
    run('--attention-scale', 'log-n', '--scale-base', '1'),
    /--scale-base must be a number > 1, got '1'/,
  );
  rejects(run('--attention-scale', 'log-n', '--scale-at', 'always'), /--scale-at must be train or inference/);
  rejects(run('--scale-clamp', '4'), /--scale-clamp needs --attention-scale log-n/);
  rejects(run('--position', 'rope', '--rope-scaling', 'ntk'), /--rope-scaling ntk needs --rope-factor/);
  rejects(run('--position', 'learned', '--rope-scaling', 'dynamic-ntk'), /need --position rope/);
  assert.ok(!fs.existsSync(out), 'bad input wrote output');
});

test('kexue mlm-eval: accuracy by length, as JSON or a table, with and without inference-time settings', () => {
  const r = kexue(
    'mlm-eval',
    '--model',
    model,
    '--corpus',
    corpus,
    '--lengths',
    '8,16,40',
    '--tokens',
    '200',
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { results: { length: number; accuracy: number; sequences: number }[] };
  assert.deepEqual(
    res.results.map((x) => x.length),
    [8, 16, 40],
  );
  for (const x of res.results) assert.ok(x.accuracy >= 0 && x.accuracy <= 1 && x.sequences >= 1);
  const t = kexue(
    'mlm-eval',
    '--model',
    path.join(dir, 'std', 'model'),
    '--corpus',
    corpus,
    '--lengths',
    '8,40',
    '--tokens',
    '200',
    '--attention-scale',
    'log-n',
    '--scale-at',
    'inference',
    '--scale-base',
    'train-length',
    '--train-length',
    '16',
    '--rope-scaling',
    'ntk',
    '--rope-factor',
    '4',
  );
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /length\s+sequences\s+predictions\s+accuracy/);
  assert.equal(t.out.trim().split('\n').length, 3);
});

test('kexue mlm-eval rejects bad input with one line, exit 2', () => {
  rejects(kexue('mlm-eval', '--corpus', corpus), /--model is required/);
  rejects(
    kexue('mlm-eval', '--model', model, '--corpus', corpus, '--lengths', '8,x'),
    /--lengths must be comma-separated integers ≥ 3, got '8,x'/,
  );
  rejects(
    kexue('mlm-eval', '--model', model, '--corpus', corpus, '--lengths', '100000'),
    /en\.txt.*fewer than one sequence of 100000/,
  );
  rejects(kexue('mlm-eval', '--model', dir, '--corpus', corpus), /config\.json.*file not found/);
  rejects(
    kexue(
      'mlm-eval',
      '--model',
      path.join(dir, 'std', 'model'),
      '--corpus',
      corpus,
      '--rope-scaling',
      'dynamic-ntk',
    ),
    /needs the training length \(--train-length\)/,
  );
});
