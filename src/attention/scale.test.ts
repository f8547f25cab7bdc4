import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/model.js';
import { loadEncoder, saveEncoder } from '../io/encoder-files.js';
import { makeConfig } from '../encoder/config.js';
import { InputError } from '../io/errors.js';
import { logNFactor, logNScale, logNScaleTensor, resolveLogN, rowKeyCounts } from './scale.js';
import { withInferenceSettings } from './extrapolation.js';

await initBackend();

const base = {
  vocabSize: 30,
  hidden: 16,
  layers: 2,
  heads: 2,
  position: 'rope' as const,
  dropout: 0,
  attentionDropout: 0,
  seed: 3,
  initStd: 0.3,
};
const ids = (n: number, b = 1, offset = 0) =>
  tf.tensor2d(
    Array.from({ length: b * n }, (_, i) => 1 + ((i * 7 + offset) % 29)),
    [b, n],
    'int32',
  );

/** Last hidden states of the first `k` positions of example `b`, as plain numbers. */
function rows(m: Encoder, x: tf.Tensor2D, mask: tf.Tensor2D | undefined, b: number, k: number): number[] {
  return tf.tidy(() =>
    Array.from(tf.slice(m.apply({ ids: x, mask }).last, [b, 0, 0], [1, k, -1]).dataSync()),
  );
}
const maxDiff = (a: number[], b: number[]) => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);

test('log-n factor: exactly 1 at n = base (so the scale is 1/√d), log n/log base elsewhere (|Δ| < 1e-6)', () => {
  assert.equal(logNFactor(512), 1);
  assert.equal(logNFactor(64, { base: 'train-length', trainLength: 64 }), 1);
  assert.ok(Math.abs(logNFactor(1024) - 10 / 9) < 1e-12);
  const n = [1, 2, 15, 16, 17, 64, 512, 1000];
  for (const d of [16, 64]) {
    const got = tf.tidy(() => Array.from(logNScaleTensor(tf.tensor1d(n), d).dataSync()));
    n.forEach((v, i) => assert.ok(Math.abs(got[i] - logNFactor(v) / Math.sqrt(d)) < 1e-6, `n=${v} d=${d}`));
    const at512 = tf.tidy(() => logNScaleTensor(tf.scalar(512), d).dataSync()[0]);
    assert.ok(Math.abs(at512 - 1 / Math.sqrt(d)) < 1e-7);
  }
});

test('log-n clamp: n below the clamp counts as the clamp (default 16, as bert4keras); clamp 1 disables it', () => {
  assert.equal(logNFactor(2), logNFactor(16));
  assert.ok(logNFactor(17) > logNFactor(16));
  assert.ok(Math.abs(logNFactor(2, { clamp: 1 }) - Math.log(2) / Math.log(512)) < 1e-12);
  assert.equal(logNFactor(1, { clamp: 1 }), 0);
  assert.equal(logNFactor(8, { clamp: 4 }), Math.log(8) / Math.log(512));
});

test('inference-only log-n (logn†) is the identity up to the training length, log_L n past it', () => {
  const o = { at: 'inference' as const, base: 'train-length' as const, trainLength: 64 };
  for (const n of [1, 10, 63, 64]) assert.equal(logNFactor(n, o), 1);
  // The clamp is a training-mode device: it must not break the identity below the training length.
  assert.equal(logNFactor(8, { ...o, trainLength: 8, clamp: 16 }), 1);
  assert.ok(Math.abs(logNFactor(128, o) - 7 / 6) < 1e-12);
  // An encoder with it reproduces the standard encoder exactly below the training length, not above.
  const std = new Encoder(base);
  const dagger = withInferenceSettings(std, {
    attentionScale: 'log-n',
    attentionScaleOptions: { ...o, trainLength: 8, clamp: 16 },
  });
  const short = ids(8);
  const long = ids(20);
  assert.ok(maxDiff(rows(std, short, undefined, 0, 8), rows(dagger, short, undefined, 0, 8)) < 1e-6);
  assert.ok(maxDiff(rows(std, long, undefined, 0, 20), rows(dagger, long, undefined, 0, 20)) > 1e-4);
  tf.dispose([short, long]);
  std.dispose();
  dagger.dispose();
});

test('per-row n follows the mask: padding changes nothing, and each example gets its own n', () => {
  const m = new Encoder({ ...base, attentionScale: 'log-n', attentionScaleOptions: { base: 8, clamp: 1 } });
  const std = withInferenceSettings(m, { attentionScale: 'inv-sqrt-d', attentionScaleOptions: undefined });
  const alone = ids(10);
  // The same 10 tokens padded to 16, in a batch with a full-length example.
  const padded = tf.tidy(
    () =>
      tf.concat([
        tf.pad(alone, [
          [0, 0],
          [0, 6],
        ]),
        ids(16, 1, 3),
      ]) as tf.Tensor2D,
  );
  const mask = tf.tidy(
    () =>
      tf.concat([
        tf.pad(tf.ones([1, 10]), [
          [0, 0],
          [0, 6],
        ]),
        tf.ones([1, 16]),
      ]) as tf.Tensor2D,
  );
  const a = rows(m, alone, undefined, 0, 10);
  assert.ok(maxDiff(a, rows(m, padded, mask, 0, 10)) < 1e-5, 'padding changed the real tokens');
  const other = ids(16, 1, 3);
  assert.ok(maxDiff(rows(m, other, undefined, 0, 16), rows(m, padded, mask, 1, 16)) < 1e-5);
  // The scale is not a no-op: the standard scale gives other outputs for the same weights.
  assert.ok(maxDiff(a, rows(std, alone, undefined, 0, 10)) > 1e-4);
  tf.dispose([alone, padded, mask, other]);
  m.dispose();
  std.dispose();
});

test('rowKeyCounts: [B] unmasked keys, or the causal running count [B, N]; the encoder accepts [B, N] scales', () => {
  const mask = tf.tensor2d([
    [1, 1, 1, 0],
    [1, 1, 1, 1],
  ]);
  assert.deepEqual(Array.from(rowKeyCounts(mask).dataSync()), [3, 4]);
  assert.deepEqual(Array.from(rowKeyCounts(mask, true).dataSync()), [1, 2, 3, 3, 1, 2, 3, 4]);
  // A [B, N] scale with equal rows gives what the [B] scale gives.
  const perExample = logNScale({ base: 4, clamp: 1 });
  const perRow = (ctx: Parameters<typeof perExample>[0]) =>
    tf.tile(tf.expandDims(perExample(ctx) as tf.Tensor, 1), [1, ctx.seqLen]);
  const a = new Encoder(base, { scale: perExample });
  const b = new Encoder(base, { scale: perRow });
  const x = ids(6, 2);
  assert.ok(maxDiff(rows(a, x, undefined, 1, 6), rows(b, x, undefined, 1, 6)) < 1e-6);
  // Causal n: the model still runs and its row scales differ from the per-example ones.
  const c = new Encoder(base, { scale: logNScale({ base: 4, clamp: 1, causal: true }) });
  assert.ok(maxDiff(rows(a, x, undefined, 1, 6), rows(c, x, undefined, 1, 6)) > 1e-5);
  const bad = new Encoder(base, { scale: () => tf.ones([3]) });
  assert.throws(() => rows(bad, x, undefined, 0, 6), /must be a number, a scalar, \[B\] or \[B, N\]/);
  tf.dispose([mask, x]);
  [a, b, c, bad].forEach((m) => m.dispose());
});

test('gradients through the log-n scale match central finite differences (rel. 2e-2, float32)', () => {
  const m = new Encoder({
    ...base,
    layers: 1,
    attentionScale: 'log-n',
    attentionScaleOptions: { base: 4, clamp: 1 },
  });
  const x = ids(7, 2);
  const w = m.blocks[0].attention.query.kernel;
  const f = () => tf.tidy(() => tf.sum(tf.square(m.apply({ ids: x }).last)).dataSync()[0]);
  const analytic = tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(m.apply({ ids: x }).last)) as tf.Scalar, [w]);
    return grads[w.name].arraySync() as number[][];
  });
  const h = 1e-2;
  for (const [i, j] of [
    [0, 0],
    [3, 5],
    [15, 15],
  ]) {
    const orig = w.arraySync() as number[][];
    const at = (delta: number) => {
      const v = orig.map((r) => [...r]);
      v[i][j] += delta;
      w.assign(tf.tensor2d(v));
      return f();
    };
    const fd = (at(h) - at(-h)) / (2 * h);
    w.assign(tf.tensor2d(orig));
    const a = analytic[i][j];
    assert.ok(Math.abs(fd - a) <= 2e-2 * Math.max(1, Math.abs(a)), `(${i},${j}): fd ${fd} vs ${a}`);
  }
  tf.dispose(x);
  m.dispose();
});

test('bad log-n options are clear errors, at construction and in config validation', () => {
  assert.throws(() => resolveLogN({ base: 1 }), /base must be a number > 1/);
  assert.throws(() => resolveLogN({ base: 'train-length' }), /needs trainLength/);
  assert.throws(() => resolveLogN({ clamp: 0 }), /clamp must be a number ≥ 1/);
  assert.throws(() => resolveLogN({ at: 'always' as never }), /at must be train or inference/);
  assert.throws(() => resolveLogN({ bsae: 3 } as never), /unknown option 'bsae'/);
  assert.throws(
    () => makeConfig({ ...base, attentionScale: 'log-n', attentionScaleOptions: { base: -2 } }),
    /invalid encoder config.*base/,
  );
  assert.throws(() => makeConfig({ ...base, attentionScaleOptions: { base: 2 } }), /takes no options/);
});

test('save/load keeps the scale and RoPE settings; configs without them (older models) load as standard', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-logn-'));
  const settings = {
    attentionScale: 'log-n',
    attentionScaleOptions: { base: 'train-length', trainLength: 8, at: 'inference', clamp: 1 },
    ropeScaling: { kind: 'dynamic-ntk' as const, trainLength: 8 },
  };
  const m = new Encoder({ ...base, ...settings }).train(false);
  await saveEncoder(dir, m);
  const loaded = loadEncoder(dir).model.train(false);
  assert.deepEqual(loaded.config.attentionScaleOptions, settings.attentionScaleOptions);
  assert.deepEqual(loaded.config.ropeScaling, settings.ropeScaling);
  const x = ids(20);
  assert.deepEqual(rows(loaded, x, undefined, 0, 20), rows(m, x, undefined, 0, 20));
  // An old config.json: no attentionScaleOptions / ropeScaling keys at all.
  const file = path.join(dir, 'config.json');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete raw.attentionScaleOptions;
  delete raw.ropeScaling;
  raw.attentionScale = 'inv-sqrt-d';
  fs.writeFileSync(file, JSON.stringify(raw));
  const old = loadEncoder(dir).model.train(false);
  assert.equal(old.config.ropeScaling, undefined);
  const std = withInferenceSettings(m, {
    attentionScale: 'inv-sqrt-d',
    attentionScaleOptions: undefined,
    ropeScaling: undefined,
  });
  assert.deepEqual(rows(old, x, undefined, 0, 20), rows(std, x, undefined, 0, 20));
  // A bad stored option is an input error naming the file.
  fs.writeFileSync(
    file,
    JSON.stringify({ ...raw, attentionScale: 'log-n', attentionScaleOptions: { base: 0 } }),
  );
  assert.throws(
    () => loadEncoder(dir),
    (e: unknown) => e instanceof InputError && /config\.json/.test(String(e)) && /base/.test(String(e)),
  );
  tf.dispose(x);
  [m, loaded, old, std].forEach((e) => e.dispose());
  fs.rmSync(dir, { recursive: true, force: true });
});
