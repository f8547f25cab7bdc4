import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { attentionScale, registerAttentionScale } from './attention.js';
import { applyRope, ropeTables } from './rope.test-util.js';
import { Rng } from '../util/rng.js';

await initBackend();

/** Rotated q_m · k_n for one q and one k vector placed at every position 0..n−1. */
function ropeScores(q: number[], k: number[], n: number, offset = 0): number[][] {
  return tf.tidy(() => {
    const d = q.length;
    const { cos, sin } = ropeTables(n, d, 10000, offset);
    const qs = applyRope(tf.tile(tf.tensor2d([q]), [n, 1]), cos, sin);
    const ks = applyRope(tf.tile(tf.tensor2d([k]), [n, 1]), cos, sin);
    return tf.matMul(qs as tf.Tensor2D, ks as tf.Tensor2D, false, true).arraySync() as number[][];
  });
}

test('RoPE: q·k scores depend only on the offset n − m (|Δ| < 1e-4), and do depend on it', () => {
  const rng = new Rng(5);
  const d = 16;
  const q = Array.from({ length: d }, () => rng.normal());
  const k = Array.from({ length: d }, () => rng.normal());
  const n = 24;
  const s = ropeScores(q, k, n);
  let worst = 0;
  for (let i = 0; i + 1 < n; i++)
    for (let j = 0; j + 1 < n; j++) worst = Math.max(worst, Math.abs(s[i][j] - s[i + 1][j + 1]));
  assert.ok(worst < 1e-4, `max |s(m,n) − s(m+1,n+1)| = ${worst}`);
  // Shifting all positions by 1000 leaves the scores as they were.
  const far = ropeScores(q, k, n, 1000);
  let shift = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) shift = Math.max(shift, Math.abs(s[i][j] - far[i][j]));
  assert.ok(shift < 1e-3, `shift by 1000: ${shift}`);
  // Different offsets give different scores, and offset 0 gives the plain dot product.
  assert.ok(Math.abs(s[0][0] - s[0][5]) > 1e-2);
  const dot = q.reduce((a, x, i) => a + x * k[i], 0);
  assert.ok(Math.abs(s[3][3] - dot) < 1e-4);
});

test('RoPE rotation matches the pairwise formula (reference, |Δ| < 1e-5) and preserves norms', () => {
  const rng = new Rng(9);
  const d = 8;
  const n = 5;
  const x = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
  const got = tf.tidy(() => {
    const { cos, sin } = ropeTables(n, d, 10000);
    return applyRope(tf.tensor2d(x), cos, sin).arraySync() as number[][];
  });
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < d / 2; i++) {
      const a = p * Math.pow(10000, (-2 * i) / d);
      const e0 = x[p][2 * i] * Math.cos(a) - x[p][2 * i + 1] * Math.sin(a);
      const e1 = x[p][2 * i + 1] * Math.cos(a) + x[p][2 * i] * Math.sin(a);
      assert.ok(Math.abs(got[p][2 * i] - e0) < 1e-5 && Math.abs(got[p][2 * i + 1] - e1) < 1e-5);
    }
    const norm = (v: number[]) => Math.hypot(...v);
    assert.ok(Math.abs(norm(got[p]) - norm(x[p])) < 1e-5);
  }
});

test('RoPE gradient equals central differences in float64 (rotation by −θ, |Δ| < 1e-3)', () => {
  const rng = new Rng(11);
  const [b, n, d] = [2, 3, 6];
  const x = Array.from({ length: b * n * d }, () => rng.normal());
  const w = Array.from({ length: b * n * d }, () => rng.normal());
  const { cos, sin } = ropeTables(n, d, 100);
  const f = (v: tf.Tensor) => tf.sum(tf.mul(applyRope(v, cos, sin), tf.tensor3d(w, [b, n, d])));
  const g = tf
    .grad(f)(tf.tensor3d(x, [b, n, d]))
    .dataSync();
  // The same function in float64: y = x·c + swap(x)·sign·s.
  const [c, s] = [cos.dataSync(), sin.dataSync()];
  const plain = (v: number[]) =>
    v.reduce((acc, _, i) => {
      const j = i % (n * d);
      const pair = i % 2 ? v[i - 1] : -v[i + 1];
      return acc + w[i] * (v[i] * c[j] + pair * s[j]);
    }, 0);
  const h = 1e-4;
  x.forEach((_, i) => {
    const up = x.map((v, k) => (k === i ? v + h : v));
    const down = x.map((v, k) => (k === i ? v - h : v));
    const fd = (plain(up) - plain(down)) / (2 * h);
    assert.ok(Math.abs(g[i] - fd) < 1e-3, `x[${i}]: ${g[i]} vs ${fd}`);
  });
  assert.throws(
    () => applyRope(tf.ones([2, 3]), ropeTables(2, 3).cos, ropeTables(2, 3).sin),
    /even last dimension/,
  );
});

test('attention scales are looked up by name', () => {
  const ctx = { headDim: 64, seqLen: 10, mask: tf.ones([1, 10]) as tf.Tensor2D, lengths: tf.tensor1d([10]) };
  assert.equal(attentionScale('inv-sqrt-d')(ctx), 1 / 8);
  registerAttentionScale('test-half', () => 0.5);
  assert.equal(attentionScale('test-half')(ctx), 0.5);
  assert.throws(() => attentionScale('nope'), /unknown attention scale/);
  tf.dispose([ctx.mask, ctx.lengths]);
});
