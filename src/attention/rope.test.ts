import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { ropeTables } from '../encoder/rope.test-util.js';
import { Encoder } from '../encoder/model.js';
import { makeConfig } from '../encoder/config.js';
import { dynamicNtkAlpha, ntkBase, scaledRope, scaledRopeTables, validateRopeScaling } from './rope.js';
import { withInferenceSettings } from './extrapolation.js';

await initBackend();

test('NTK-aware base: the highest frequency is kept and the lowest divided by exactly α (rel. 1e-12)', () => {
  for (const [base, alpha, d] of [
    [10000, 4, 64],
    [10000, 16, 32],
    [500, 3, 8],
  ]) {
    const b2 = ntkBase(base, alpha, d);
    const theta = (b: number, i: number) => Math.pow(b, (-2 * i) / d);
    assert.equal(theta(b2, 0), theta(base, 0));
    const last = d / 2 - 1;
    const ratio = theta(base, last) / theta(b2, last);
    assert.ok(Math.abs(ratio / alpha - 1) < 1e-12, `ratio ${ratio} vs α ${alpha}`);
    // Frequencies in between are divided by α^{2i/(d−2)}: interpolation grows towards low frequencies.
    const mid = Math.floor(d / 4);
    assert.ok(Math.abs(theta(base, mid) / theta(b2, mid) / Math.pow(alpha, (2 * mid) / (d - 2)) - 1) < 1e-12);
  }
});

test("dynamic NTK α follows Qwen's rule 2^⌈log₂(n/L)+1⌉ − 1, and is 1 up to L", () => {
  const qwen = (n: number, L: number) => Math.max(Math.pow(2, Math.ceil(Math.log2(n / L) + 1)) - 1, 1);
  for (const n of [65, 96, 128, 129, 256, 1000, 1024, 4096])
    assert.equal(dynamicNtkAlpha(n, 64), qwen(n, 64));
  for (const n of [1, 32, 64]) assert.equal(dynamicNtkAlpha(n, 64), 1);
  assert.equal(dynamicNtkAlpha(128, 64), 3);
  assert.equal(dynamicNtkAlpha(1024, 64), 31);
  assert.deepEqual(scaledRope(64, 32, 10000, { kind: 'dynamic-ntk', trainLength: 64 }), {
    base: 10000,
    positionScale: 1,
  });
  assert.equal(
    scaledRope(128, 32, 10000, { kind: 'dynamic-ntk', trainLength: 64 }).base,
    ntkBase(10000, 3, 32),
  );
});

test('position interpolation squeezes n positions into the trained range; tables match the encoder’s (|Δ| < 1e-6)', () => {
  const s = scaledRope(256, 16, 10000, { kind: 'interpolation', trainLength: 64 });
  assert.equal(s.positionScale, 0.25);
  assert.equal(scaledRope(32, 16, 10000, { kind: 'interpolation', trainLength: 64 }).positionScale, 1);
  assert.equal(
    scaledRope(32, 16, 10000, { kind: 'interpolation', trainLength: 64, factor: 2 }).positionScale,
    0.5,
  );
  tf.tidy(() => {
    const a = ropeTables(12, 8, 10000);
    const b = scaledRopeTables(12, 8, 10000, 1);
    assert.ok(tf.max(tf.abs(tf.sub(a.cos, b.cos))).dataSync()[0] < 1e-6);
    assert.ok(tf.max(tf.abs(tf.sub(a.sin, b.sin))).dataSync()[0] < 1e-6);
    // Interpolated position p·s has the angles of the plain table at that position.
    const half = scaledRopeTables(12, 8, 10000, 0.5);
    const plain = ropeTables(6, 8, 10000);
    const even = tf.gather(half.cos, [0, 2, 4, 6, 8, 10]);
    assert.ok(tf.max(tf.abs(tf.sub(even, plain.cos))).dataSync()[0] < 1e-6);
  });
});

test('RoPE scalings apply only at inference, and dynamic NTK is the identity up to the training length', () => {
  const cfg = {
    vocabSize: 20,
    hidden: 16,
    layers: 1,
    heads: 2,
    position: 'rope' as const,
    dropout: 0,
    attentionDropout: 0,
    initStd: 0.5,
    ropeBase: 100,
  };
  const plain = new Encoder(cfg);
  const ntk = withInferenceSettings(plain, { ropeScaling: { kind: 'dynamic-ntk', trainLength: 8 } });
  const fixed = withInferenceSettings(plain, { ropeScaling: { kind: 'ntk', factor: 4 } });
  const out = (m: Encoder, n: number, training: boolean) =>
    tf.tidy(() => {
      m.train(training);
      const ids = tf.tensor2d([Array.from({ length: n }, (_, i) => 1 + (i % 19))], [1, n], 'int32');
      const r = Array.from(m.apply({ ids }).last.dataSync());
      m.train(false);
      return r;
    });
  const diff = (a: number[], b: number[]) => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);
  assert.ok(diff(out(plain, 8, false), out(ntk, 8, false)) < 1e-6);
  assert.ok(diff(out(plain, 20, false), out(ntk, 20, false)) > 1e-4);
  assert.ok(diff(out(plain, 8, false), out(fixed, 8, false)) > 1e-4);
  // In training mode the model runs plain RoPE whatever the scaling.
  assert.ok(diff(out(plain, 20, true), out(ntk, 20, true)) < 1e-6);
  assert.ok(diff(out(plain, 20, true), out(fixed, 20, true)) < 1e-6);
  [plain, ntk, fixed].forEach((m) => m.dispose());
});

test('bad RoPE scalings are clear errors', () => {
  assert.throws(
    () => validateRopeScaling({ kind: 'yarn' } as never),
    /kind must be one of ntk, dynamic-ntk, interpolation/,
  );
  assert.throws(() => validateRopeScaling({ kind: 'ntk', factor: 0.5 }), /factor must be a number ≥ 1/);
  assert.throws(() => validateRopeScaling({ kind: 'dynamic-ntk' } as never), /needs trainLength/);
  assert.throws(
    () =>
      makeConfig({
        vocabSize: 10,
        hidden: 8,
        heads: 2,
        position: 'learned',
        ropeScaling: { kind: 'ntk', factor: 2 },
      }),
    /ropeScaling needs position rope/,
  );
});
