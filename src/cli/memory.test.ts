import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/index.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import { encodeNpy } from '../io/npy.js';
import { kexue, kexueWithEnv, scratch } from './cli.test-util.js';
import { checkMemory, mlpStepBytes, transformerParameters, transformerStepBytes } from './memory.js';

await initBackend({ quiet: true });
const { dir, put } = scratch('memory');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the Transformer estimate is a lower bound of the real parameter count, within 10%', () => {
  for (const c of [
    { vocabSize: 500, hidden: 32, layers: 2, heads: 4, maxPositions: 64 },
    { vocabSize: 8000, hidden: 128, layers: 4, heads: 4, maxPositions: 512 },
  ]) {
    const enc = new Encoder({ ...c, position: 'learned', seed: 1 });
    let real = 0;
    for (const [, v] of enc.namedParameters()) real += v.size;
    enc.dispose();
    const est = transformerParameters({
      vocab: c.vocabSize,
      layers: c.layers,
      hidden: c.hidden,
      heads: c.heads,
      seq: c.maxPositions,
      batch: 1,
      outputVocab: c.vocabSize,
    });
    assert.ok(est <= real && est > 0.9 * real, `${est} vs ${real}`);
  }
});

test('step estimates grow with every size and count float32 training state four times', () => {
  const s = { vocab: 100, layers: 2, hidden: 16, heads: 2, seq: 8, batch: 4 };
  const base = transformerStepBytes(s);
  for (const k of ['vocab', 'layers', 'hidden', 'seq', 'batch'] as const)
    assert.ok(transformerStepBytes({ ...s, [k]: 2 * s[k] }) > base, k);
  assert.ok(transformerStepBytes(s, false) < base);
  // 2 → 3 → 1: 9 + 4 parameters; 4 rows × 6 units of activations, twice when training.
  assert.equal(mlpStepBytes([2, 3, 1], 4), 4 * (13 * 4 + 4 * 6 * 2));
  assert.equal(mlpStepBytes([2, 3, 1], 4, false), 4 * (13 + 4 * 6));
});

test('checkMemory names the flags and both amounts', () => {
  assert.doesNotThrow(() => checkMemory(100, 'x', ['a'], 1000));
  assert.throws(
    () => checkMemory(3 * 2 ** 30, 'this step', ['batch-size', 'seq'], 2 ** 30),
    /this step needs at least 3\.0 GiB of memory but 1\.0 GiB is available; lower --batch-size or --seq/,
  );
});

// Fixtures: a corpus, a tiny encoder, pairs, labelled texts, images.
const texts = ['the cat sleeps', 'a cat purrs', 'the car drives', 'a car honks'];
const corpus = put('corpus.txt', texts.join('\n') + '\n');
const { encoderDir } = await saveTinyEncoder(dir, texts);
const pairs = put(
  'pairs.tsv',
  texts.map((t, i) => `${t}\t${texts[(i + 1) % 4]}\t${i % 2}`).join('\n') + '\n',
);
const labelled = put(
  'cls.jsonl',
  texts.map((t, i) => JSON.stringify({ text: t, label: i < 2 ? 0 : 1 })).join('\n'),
);
const images = put(
  'images.npy',
  encodeNpy(
    new Float32Array(10 * 16).map((_, i) => i % 2),
    [10, 16],
  ),
);
const tiny = { KEXUE_MEMORY_BYTES: String(2 ** 20) };

test('sizes that cannot fit are refused before any work, naming the flags; nothing is written', () => {
  const out = path.join(dir, 'out');
  const cases: [Record<string, string>, string[], RegExp][] = [
    [tiny, ['pretrain', '--corpus', corpus, '--out', out, '--steps', '1'], /--batch-size or --seq/],
    [
      {},
      ['pretrain', '--corpus', corpus, '--out', out, '--hidden', '100000', '--heads', '1'],
      /pretraining step needs at least [\d.]+ GiB/,
    ],
    [
      tiny,
      [
        'cosent',
        'train',
        '--train',
        pairs,
        '--dev',
        pairs,
        '--encoder',
        encoderDir,
        '--out',
        out,
        '--max-len',
        '512',
      ],
      /--batch-size or --max-len/,
    ],
    [
      tiny,
      [
        'finetune',
        '--encoder',
        encoderDir,
        '--train',
        labelled,
        '--dev',
        labelled,
        '--out',
        out,
        '--max-len',
        '512',
      ],
      /fine-tuning step .*--batch-size or --max-len/,
    ],
    [
      tiny,
      ['encode', '--model', encoderDir, '--in', corpus, '--out', out + '.npy', '--max-len', '512'],
      /encoding batch/,
    ],
    [{}, ['diagnose', '--corpus', corpus, '--hidden', '100000', '--heads', '1'], /diagnosis step .*--hidden/],
    [
      {},
      ['density', 'train', '--data', images, '--out', out, '--k', '1000000000'],
      /training step .*--batch-size or --k/,
    ],
    [
      {},
      ['gradpenalty', '--width', '10000000'],
      /this network needs at least [\d.]+ GiB .*--width or --depth or --input-dim/,
    ],
  ];
  for (const [env, args, pattern] of cases) {
    const r = kexueWithEnv(env, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, pattern);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    for (const f of [out, out + '.npy']) assert.ok(!fs.existsSync(f), `${args[0]} left ${f}`);
  }
  // The same sizes within the machine's memory run.
  const ok = kexue('encode', '--model', encoderDir, '--in', corpus, '--out', path.join(dir, 'v.npy'));
  assert.equal(ok.code, 0, ok.err);
});
