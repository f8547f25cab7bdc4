import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import { readNpy } from '../io/npy.js';
import { loadClassifier } from '../io/textcls.js';
import { kexue, scratch } from './cli.test-util.js';

await initBackend({ quiet: true });
const { dir, put } = scratch('finetune-cli');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const texts = [
  'the cat sleeps',
  'a cat purrs',
  'cats nap',
  'my cat eats',
  'the car drives',
  'a car honks',
  'cars race',
  'my car parks',
];
const { encoderDir } = await saveTinyEncoder(dir, texts);

const jsonl = (labelOf: (i: number) => unknown) =>
  texts.map((t, i) => JSON.stringify({ text: t, label: labelOf(i) })).join('\n') + '\n';
const trainFile = put(
  'train.jsonl',
  jsonl((i) => (i < 4 ? 0 : 1)),
);
const devFile = put(
  'dev.jsonl',
  jsonl((i) => (i < 4 ? 0 : 1)),
);
const testTsv = put(
  'test.tsv',
  texts.map((t, i) => `${t}\t${i < 4 ? 'animal' : 'vehicle'}`).join('\n') + '\n',
);
const labelsFile = put('labels.json', JSON.stringify(['animal', 'vehicle']));
const common = [
  '--encoder',
  encoderDir,
  '--train',
  trainFile,
  '--dev',
  devFile,
  '--epochs',
  '2',
  '--batch-size',
  '4',
  '--lr',
  '1e-3',
];

test('finetune with ChildTuning-D writes the best classifier, log and dev/test probabilities', () => {
  const out = path.join(dir, 'clf');
  const r = kexue(
    'finetune',
    ...common,
    '--test',
    testTsv,
    '--labels',
    labelsFile,
    '--child-tuning',
    'D',
    '--p',
    '0.5',
    '--save-probs',
    '--json',
    '--out',
    out,
  );
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { testAccuracy: number; devAccuracy: number; bestEpoch: number };
  assert.ok(summary.bestEpoch >= 1 && summary.bestEpoch <= 2);
  const probs = readNpy(path.join(out, 'test-probs.npy'));
  assert.deepEqual(probs.shape, [8, 2]);
  const labels = readNpy(path.join(out, 'test-labels.npy'));
  assert.deepEqual(Array.from(labels.data), [0, 0, 0, 0, 1, 1, 1, 1]);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(probs.data[2 * i] + probs.data[2 * i + 1] - 1) < 1e-5);
  assert.deepEqual(readNpy(path.join(out, 'dev-probs.npy')).shape, [8, 2]);
  const log = JSON.parse(fs.readFileSync(path.join(out, 'train-log.json'), 'utf8')) as {
    history: unknown[];
    childTuning: { mode: string };
  };
  assert.equal(log.history.length, 2);
  assert.equal(log.childTuning.mode, 'D');
  // The model card: what it is, from what, how it did, how to load it.
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  assert.match(card, /^# Text classifier, 2 classes \(ChildTuning-D, p = 0\.5\)/);
  assert.ok(card.includes(`Fine-tuned from \`${encoderDir}\``), card);
  assert.match(card, /\| training \| 8 examples \|/);
  assert.match(card, new RegExp(`\\| test accuracy % \\| ${summary.testAccuracy.toFixed(2)} \\|`));
  assert.match(card, /loadClassifier\(/);
  // The saved classifier reproduces the test probabilities (the best epoch's weights were saved).
  const { model, meta } = loadClassifier(out);
  assert.deepEqual(meta.labels, ['animal', 'vehicle']);
  const again = model.predictProba(texts);
  model.dispose();
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(again[i] - probs.data[i]) < 1e-5);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.includes('.tmp-')),
    [],
  );
});

test('finetune --few-shot with F and a TSV of class names works', () => {
  const out = path.join(dir, 'clf-f');
  const tsvTrain = put(
    'train.tsv',
    texts.map((t, i) => `${t}\t${i < 4 ? 'animal' : 'vehicle'}`).join('\n') + '\n',
  );
  const r = kexue(
    'finetune',
    '--encoder',
    encoderDir,
    '--train',
    tsvTrain,
    '--dev',
    testTsv,
    '--few-shot',
    '2',
    '--child-tuning',
    'f',
    '--epochs',
    '1',
    '--out',
    out,
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /best epoch 1: dev accuracy/);
  const log = JSON.parse(fs.readFileSync(path.join(out, 'train-log.json'), 'utf8')) as {
    trainExamples: number;
  };
  assert.equal(log.trainExamples, 4);
});

const bad: [string, string[], RegExp][] = [
  ['a bad --child-tuning', ['--child-tuning', 'G'], /--child-tuning must be one of F, D, update, got 'G'/],
  ['--p out of range', ['--child-tuning', 'F', '--p', '1.5'], /--p must be a number > 0 and ≤ 1, got '1.5'/],
  ['--p without --child-tuning', ['--p', '0.5'], /--p needs --child-tuning/],
  [
    'a bad label',
    ['--train', 'BADLABEL'],
    /line 2, field label: unknown label 7 \(classes: animal, vehicle\)/,
  ],
  ['bad JSON', ['--dev', 'BADJSON'], /line 1: not valid JSON/],
  ['a missing encoder', ['--encoder', '/nonexistent/enc'], /not an encoder directory/],
  ['an unknown flag', ['--frobnicate', '1'], /Unknown option '--frobnicate'/],
];

for (const [what, extra, pattern] of bad) {
  test(`finetune rejects ${what}: one line, exit 2, no output written`, () => {
    const out = path.join(dir, `bad-${what.replace(/\W+/g, '-')}`);
    const args = [...common];
    for (let i = 0; i < extra.length; i += 2) {
      let value = extra[i + 1];
      if (value === 'BADLABEL')
        value = put(
          'bad-label.jsonl',
          jsonl((i) => (i === 1 ? 7 : 0)),
        );
      if (value === 'BADJSON') value = put('bad.jsonl', '{"text": "x", "label": 0\n');
      const at = args.indexOf(extra[i]);
      if (at >= 0) args[at + 1] = value;
      else args.push(extra[i], value);
    }
    const r = kexue('finetune', ...args, '--out', out);
    assert.equal(r.code, 2, r.err);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, pattern);
    assert.doesNotMatch(r.err, /\n\s+at /);
    assert.equal(r.out, '');
    assert.equal(fs.existsSync(out), false);
  });
}

test('finetune refuses a non-empty --out that is not a previous finetune output, before training', () => {
  const out = path.join(dir, 'occupied');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
  const r = kexue('finetune', ...common, '--out', out);
  assert.equal(r.code, 2);
  assert.match(r.err, /non-empty directory/);
  assert.deepEqual(fs.readdirSync(out), ['keep.txt']);
});
