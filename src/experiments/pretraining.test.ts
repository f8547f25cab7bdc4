import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { loadEncoder } from '../io/encoder-files.js';
import { RECIPES, pretrainedEncoder, readCorpus, recipeSpec, type PretrainSpec } from './pretraining.js';

await initBackend({ quiet: true });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-pretraining-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const put = (name: string, text: string) => {
  const file = path.join(root, name);
  fs.writeFileSync(file, text);
  return file;
};

test('readCorpus: lines, paragraphs and the "text" of .jsonl records', () => {
  const prose = put('prose.txt', 'It is a truth\nuniversally acknowledged.\n\n  Second\nparagraph.\n\n\n');
  const clue = put('clue.jsonl', '{"text":"今天","label":1}\n{"text":"  "}\n{"text":"明天"}\n');
  assert.deepEqual(readCorpus([prose], 'paragraphs'), [
    'It is a truth universally acknowledged.',
    'Second paragraph.',
  ]);
  assert.equal(readCorpus([prose]).length, 4);
  assert.deepEqual(readCorpus([clue]), ['今天', '明天']);
});

test('recipes: every corpus file exists in the bundled data layout; quick runs a smaller model on the same data', () => {
  for (const [name, r] of Object.entries(RECIPES)) {
    const full = recipeSpec(name, '/data');
    const quick = recipeSpec(name, '/data', true);
    assert.deepEqual(
      full.corpus,
      r.corpus.map((f) => path.join('/data', f)),
    );
    assert.ok(quick.steps < full.steps && quick.warmup <= quick.steps);
    // Same corpus, tokenizer and kind of model: only its size and the run's length change.
    for (const key of ['corpus', 'docs', 'tokenizer', 'norm', 'position', 'lr', 'seed', 'heldOut'] as const)
      assert.deepEqual(quick[key], full[key], key);
    const tokensPerStep = (s: typeof full) => s.batchSize * s.seq * s.layers * s.hidden;
    assert.ok(
      tokensPerStep(quick) * quick.steps * 20 < tokensPerStep(full) * full.steps,
      'quick is ≥ 20× cheaper',
    );
    assert.equal(quick.hidden % quick.heads, 0);
  }
  assert.throws(() => recipeSpec('fr', '/data'), /unknown recipe 'fr' \(available: zh, en\)/);
});

test('pretrainedEncoder: trains once, then reuses; resumes an interrupted run; refuses another run', async () => {
  const lines = ['今天天气很好', '我们去公园散步', '股市大涨三个百分点', '球队赢得了比赛', '新手机发布了'];
  const corpus = put('zh.txt', Array.from({ length: 80 }, (_, i) => lines[i % 5] + i).join('\n'));
  const spec: PretrainSpec = {
    ...recipeSpec('zh', root),
    corpus: [corpus],
    layers: 1,
    hidden: 16,
    heads: 2,
    seq: 16,
    batchSize: 4,
    steps: 4,
    warmup: 1,
    heldOut: 0.2,
    evalEvery: 2,
    checkpointEvery: 2,
  };
  const out = path.join(root, 'enc');
  let steps = 0;
  const first = await pretrainedEncoder(spec, out, () => steps++);
  assert.equal(steps, 4);
  assert.deepEqual(
    first.history.map((h) => h.step),
    [2, 4],
  );
  const { model } = loadEncoder(first.modelDir);
  assert.equal(model.config.hidden, 16);
  model.dispose();
  const again = await pretrainedEncoder(spec, out, () => steps++);
  assert.equal(steps, 4, 'a finished run is reused, not retrained');
  assert.deepEqual(again.history, first.history);
  // The count baselines on the run's held-out text are computed once and kept beside the run.
  assert.ok(first.baselines.positions > 0 && first.baselines.neighbours >= first.baselines.unigram);
  assert.deepEqual(again.baselines, first.baselines);
  assert.ok(fs.existsSync(path.join(out, 'baselines.json')));

  // A run interrupted after its last checkpoint (no model/ yet) resumes from it instead of restarting.
  fs.rmSync(path.join(out, 'model'), { recursive: true });
  const resumed = await pretrainedEncoder(spec, out, () => steps++);
  assert.equal(steps, 4);
  assert.ok(fs.existsSync(path.join(resumed.modelDir, 'config.json')));

  await assert.rejects(pretrainedEncoder({ ...spec, hidden: 32 }, out), /holds a different pretraining run/);
});
