/**
 * rotatePairs on aten (one complex multiply) against the op-by-op form on cpu: values, first, second and
 * third derivatives within 1e-5 relative to each tensor's largest entry (float32), for contiguous and
 * transposed inputs; the rotation's defining properties on every backend; shapes checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { ropeTables } from '../encoder/rope.test-util.js';
import { ROPE, rotatePairs, signedSinTable } from './fused-rope.js';

const main = await initBackend({ quiet: true });
const backends = [...new Set([main, 'cpu'])];

const [B, H, N, D] = [2, 3, 5, 8];

function tables(): { cos: tf.Tensor2D; signedSin: tf.Tensor2D } {
  const { cos, sin } = ropeTables(N, D, 100);
  const signs = tf.tensor1d(Array.from({ length: D }, (_, i) => (i % 2 ? 1 : -1)));
  const signedSin = tf.mul(sin, signs) as tf.Tensor2D;
  tf.dispose([sin, signs]);
  return { cos, signedSin };
}

test('signedSinTable: −sin in even columns, +sin in odd ones', () => {
  const { cos, signedSin } = tables();
  const { sin } = ropeTables(N, D, 100);
  const made = signedSinTable(sin);
  assert.deepEqual(Array.from(made.dataSync()), Array.from(signedSin.dataSync()));
  tf.dispose([cos, signedSin, sin, made]);
});

/** Value and three derivatives of a non-linear function of the rotation, as plain arrays. */
function derivatives(x: tf.Tensor, w: tf.Tensor, transposed: boolean): Float32Array[] {
  return tf.tidy(() => {
    const { cos, signedSin } = tables();
    const rot = (t: tf.Tensor) => rotatePairs(transposed ? tf.transpose(t, [0, 2, 1, 3]) : t, cos, signedSin);
    const f1 = (t: tf.Tensor) => tf.sum(tf.mul(tf.sin(rot(t)), w));
    const f2 = (t: tf.Tensor) => tf.sum(tf.square(tf.grad(f1)(t)));
    const f3 = (t: tf.Tensor) => tf.sum(tf.mul(tf.grad(f2)(t), tf.sin(t)));
    return [rot(x), tf.grad(f1)(x), tf.grad(f2)(x), tf.grad(f3)(x)].map((t) => t.dataSync() as Float32Array);
  });
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i] - b[i]) <= tol * scale, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('fused rotation equals the op-by-op form up to third derivatives, transposed input too; no leak', async () => {
  for (const transposed of [false, true]) {
    const shape = transposed ? [B, N, H, D] : [B, H, N, D];
    const results: Float32Array[][] = [];
    for (const backend of backends) {
      await tf.setBackend(backend);
      const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
      const w = tf.randomNormal([B, H, N, D], 0, 1, 'float32', 2);
      const before = tf.memory().numTensors;
      results.push(derivatives(x, w, transposed));
      assert.equal(tf.memory().numTensors, before, `tensor leak on ${backend}`);
      tf.dispose([x, w]);
    }
    for (const r of results.slice(1))
      ['y', "y'", "y''", "y'''"].forEach((what, i) =>
        close(r[i], results[0][i], 1e-5, `${what} (transposed: ${transposed})`),
      );
  }
  await tf.setBackend(main);
});

for (const backend of backends) {
  test(`${backend}: a rotation keeps each pair's norm, and its gradient is the inverse rotation`, async () => {
    await tf.setBackend(backend);
    tf.tidy(() => {
      const { cos, signedSin } = tables();
      const x = tf.randomNormal([B, H, N, D], 0, 1, 'float32', 3);
      const pairNorms = (t: tf.Tensor) =>
        tf.sum(tf.square(tf.reshape(t, [B, H, N, D / 2, 2])), -1).dataSync();
      close(pairNorms(rotatePairs(x, cos, signedSin)), pairNorms(x), 1e-5, 'pair norms');
      // Σ rot(x)·rot(g) = Σ x·g for any g: the gradient of Σ rot(x)·v is rot⁻¹(v), and rot(rot⁻¹(v)) = v.
      const v = tf.randomNormal([B, H, N, D], 0, 1, 'float32', 4);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(rotatePairs(t, cos, signedSin), v)))(x);
      close(rotatePairs(g, cos, signedSin).dataSync(), v.dataSync(), 1e-5, 'rot(rot⁻¹(v))');
    });
  });
}

test(
  'aten: the rotation and its gradient are one kernel each, no reverse',
  { skip: main !== 'aten' },
  async () => {
    await tf.setBackend('aten');
    const { cos, signedSin } = tables();
    const x = tf.randomNormal([B, H, N, D]);
    const profile = await tf.profile(() =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.square(rotatePairs(t, cos, signedSin))))(x),
    );
    const names = profile.kernels.map((k) => k.name);
    assert.equal(names.filter((n) => n === ROPE).length, 2, names.join(' '));
    assert.ok(!names.includes('Reverse'), names.join(' '));
    tf.dispose([profile.result as tf.Tensor, cos, signedSin, x]);
  },
);

test('rotatePairs checks shapes', () => {
  const { cos, signedSin } = tables();
  assert.throws(() => rotatePairs(tf.ones([2, N, D - 1]), cos, signedSin), /d even and tables \[N, d\]/);
  assert.throws(() => rotatePairs(tf.ones([2, N + 1, D]), cos, signedSin), /got x \[2, 6, 8\]/);
  assert.throws(() => rotatePairs(tf.ones([2, N, D]), cos, tf.ones([N, D + 2]) as tf.Tensor2D), /tables/);
  tf.dispose([cos, signedSin]);
});
