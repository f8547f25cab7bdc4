import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/index.js';
import { saveEncoder } from '../io/encoder-files.js';
import { CHINESE_CHAR, CharTokenizer } from '../tokenizers/index.js';
import { kexue } from './cli.test-util.js';

await initBackend({ quiet: true });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-diagnose-cli-'));
const lines = Array.from(
  { length: 40 },
  (_, i) => ['今天天气很好', '股市大涨三个百分点', '球队赢得了比赛'][i % 3] + i,
);
const corpus = path.join(dir, 'zh.txt');
fs.writeFileSync(corpus, lines.join('\n') + '\n');

interface Report {
  loss: number;
  groups: { group: string; gradNorm: number; weightNorm: number; updateRatio: number }[];
}

test('kexue diagnose: per-layer table, JSON and chart of a fresh encoder', () => {
  const chart = path.join(dir, 'd.svg');
  const args = [
    'diagnose',
    '--corpus',
    corpus,
    '--layers',
    '3',
    '--hidden',
    '16',
    '--heads',
    '2',
    '--seq',
    '16',
  ];
  const r = kexue(...args, '--json', '--chart', chart);
  assert.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out) as Report;
  assert.deepEqual(
    rep.groups.map((g) => g.group),
    ['embeddings', 'layers.0', 'layers.1', 'layers.2', 'mlm'],
  );
  assert.ok(rep.loss > 0 && Number.isFinite(rep.loss));
  for (const g of rep.groups) assert.ok(g.gradNorm > 0 && g.weightNorm > 0 && g.updateRatio > 0, g.group);
  const svg = fs.readFileSync(chart, 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /layers\.2/);
  // Deterministic for a seed; the Adam-rule ratio differs from the SGD one.
  const again = JSON.parse(kexue(...args, '--json').out) as Report;
  assert.deepEqual(again.groups, rep.groups);
  const sgd = JSON.parse(kexue(...args, '--json', '--rule', 'sgd', '--lr', '1').out) as Report;
  sgd.groups.forEach((g) =>
    assert.ok(Math.abs(g.updateRatio - g.gradNorm / g.weightNorm) < 1e-6 * g.updateRatio, g.group),
  );
  assert.notDeepEqual(sgd.groups[1].updateRatio, rep.groups[1].updateRatio);
  const table = kexue(...args);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /layers\.1\s+\d\.\d+e[-+]\d+/);
});

test('kexue diagnose --model: a saved encoder with its tokenizer', async () => {
  const tok = CharTokenizer.build(lines, CHINESE_CHAR);
  const model = new Encoder({ vocabSize: tok.vocab.size, layers: 2, hidden: 16, heads: 2, maxPositions: 32 });
  const modelDir = path.join(dir, 'model');
  await saveEncoder(modelDir, model, tok);
  model.dispose();
  const r = kexue('diagnose', '--corpus', corpus, '--model', modelDir, '--seq', '16', '--json');
  assert.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out) as Report;
  assert.equal(rep.groups.length, 4);
  const long = kexue('diagnose', '--corpus', corpus, '--model', modelDir, '--seq', '64');
  assert.equal(long.code, 2);
  assert.match(long.err, /maxPositions/);
});

test('kexue diagnose: bad input exits 2 with one line', () => {
  const cases: [string[], RegExp][] = [
    [[], /--corpus is required/],
    [['--corpus', path.join(dir, 'nope.txt')], /nope\.txt/],
    [['--corpus', corpus, '--norm', 'mid'], /--norm/],
    [['--corpus', corpus, '--init', 'zeros'], /--init/],
    [['--corpus', corpus, '--rule', 'rmsprop'], /--rule/],
    [['--corpus', corpus, '--model', path.join(dir, 'no-model')], /no-model/],
    [['--corpus', corpus, '--batch-size', '0'], /--batch-size/],
  ];
  for (const [args, re] of cases) {
    const r = kexue('diagnose', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});
