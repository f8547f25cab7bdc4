/**
 * The whole path for a user bringing a Hugging Face BERT: a tiny random BERT (written by the plain-PyTorch
 * reference in Hugging Face's layout) → `kexue import-hf` → `kexue cosent train` → `kexue cosent eval` →
 * `kexue search` → `kexue export-hf`, whose checkpoint the PyTorch reference runs to the same vectors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { referencePython } from '../util/python.js';
import { loadSentenceModel } from '../io/sentence-files.js';
import { encodeTexts, disposeInput } from '../encoder/inputs.js';
import { kexue, scratch } from './cli.test-util.js';

await initBackend({ quiet: true });
const REF = fileURLToPath(new URL('../../src/io/hf_bert_ref.py', import.meta.url));

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
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...new Set(words.join(' ').split(' ')), '##s'];

test('import-hf → cosent train → eval → search → export-hf, on a tiny random BERT', (t) => {
  const { dir, put } = scratch('hf-cosent');
  const hf = path.join(dir, 'hf');
  fs.mkdirSync(hf);
  fs.writeFileSync(path.join(hf, 'vocab.txt'), vocab.join('\n') + '\n');
  fs.writeFileSync(path.join(hf, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  const config = {
    model_type: 'bert',
    vocab_size: vocab.length,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 16,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  };
  const spec = {
    config,
    layout: 'pretraining',
    dtype: 'F32',
    seed: 3,
    ids: [[2, 5, 3]],
    mask: [[1, 1, 1]],
    types: [[0, 0, 0]],
  };
  try {
    execFileSync(referencePython(), [REF, 'make', hf, JSON.stringify(spec)], { stdio: 'pipe' });
  } catch (e) {
    if (/No module named 'torch'|ENOENT/.test(String((e as { stderr?: unknown }).stderr ?? e)))
      return t.skip('python3 with torch is not installed');
    throw e;
  }
  const rows = words.flatMap((a, i) =>
    words.map((b, j) => `${a}\t${b}\t${i === j ? 5 : (i ^ j) === 1 ? 3 : Math.abs(i - j) % 3}`),
  );
  const trainFile = put('train.tsv', rows.join('\n') + '\n');
  const devFile = put('dev.tsv', rows.slice(0, 20).join('\n') + '\n');
  const corpusFile = put('corpus.txt', words.join('\n') + '\n');
  const imported = path.join(dir, 'imported');
  const out = path.join(dir, 'trained');
  const run = (...args: string[]) => {
    const r = kexue(...args);
    assert.equal(r.code, 0, `${args.slice(0, 2).join(' ')}: ${r.err}`);
    return r.out;
  };
  run('import-hf', hf, '--out', imported, '--pooling', 'mean', '--max-len', '12');
  const trained = run(
    'cosent',
    'train',
    '--train',
    trainFile,
    '--dev',
    devFile,
    '--encoder',
    imported,
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
    '12',
  );
  assert.match(trained, /best epoch [12]: dev Spearman -?\d+\.\d\d/);
  const summary = JSON.parse(run('cosent', 'eval', '--model', out, '--data', devFile, '--json'));
  assert.equal(summary.pairs, 20);
  const hits = JSON.parse(
    run('search', '--model', out, '--corpus', corpusFile, '--query', words[2], '-k', '2', '--json'),
  ).hits;
  assert.deepEqual([hits[0].line, hits[0].text], [3, words[2]]);

  // Fine-tuning changed the weights, and the exported checkpoint gives the same token states in PyTorch.
  const before = loadSentenceModel(imported);
  const after = loadSentenceModel(out);
  const changed = [...after.encoder.namedParameters()].some(([n, v]) => {
    const a = v.dataSync();
    const b = before.encoder.namedParameters().get(n)!.dataSync();
    return a.some((x, i) => x !== b[i]);
  });
  assert.ok(changed, 'cosent train changed the imported weights');
  before.dispose();
  const exported = path.join(dir, 'exported');
  run('export-hf', out, '--out', exported);
  const input = encodeTexts(after.tokenizer, words.slice(0, 3), 12);
  const ids = input.ids.arraySync();
  const mask = input.mask!.arraySync();
  const last = tf.tidy(() => after.encoder.train(false).apply(input).last.arraySync());
  disposeInput(input);
  after.dispose();
  const ref = JSON.parse(
    execFileSync(
      referencePython(),
      [REF, 'forward', exported, JSON.stringify({ ids, mask, types: ids.map((r) => r.map(() => 0)) })],
      { encoding: 'utf8' },
    ),
  ) as { hidden: number[][][][] };
  const refLast = ref.hidden[ref.hidden.length - 1];
  let worst = 0;
  last.forEach((r, b) =>
    r.forEach((v, i) => v.forEach((x, k) => (worst = Math.max(worst, Math.abs(x - refLast[b][i][k]))))),
  );
  assert.ok(worst <= 1e-4, `exported model differs from kexue's by ${worst}`);
  fs.rmSync(dir, { recursive: true, force: true });
});
