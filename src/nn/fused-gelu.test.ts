/**
 * The fused GELU (aten's KexueGelu / KexueGeluGrad) against the op-by-op form: values, first, second and
 * third derivatives (within 1e-5 relative to each tensor's largest entry, float32), and the first
 * derivative against central finite differences (2e-3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { GELU, gelu } from './fused-gelu.js';

await initBackend({ quiet: true });

const opByOp = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));

function close(a: tf.Tensor, b: tf.Tensor, tol: number, what: string): void {
  const [u, v] = [a.dataSync(), b.dataSync()];
  const scale = Math.max(1e-6, ...Array.from(v, Math.abs));
  u.forEach((x, i) => assert.ok(Math.abs(x - v[i]) <= tol * scale, `${what}[${i}]: ${x} vs ${v[i]}`));
}

test('fused GELU equals the op-by-op form up to third derivatives; no tensor leak', () => {
  if (!tf.getKernel(GELU, tf.getBackend())) return; // only aten registers it
  const x = tf.randomNormal([4, 16], 0, 2, 'float32', 1);
  const w = tf.randomNormal([4, 16], 0, 1, 'float32', 2);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const f1 = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(tf.sin(f(t)), w));
    const f2 = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.square(tf.grad(f1(f))(t)));
    const f3 = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(tf.grad(f2(f))(t), w));
    close(gelu(x), opByOp(x), 1e-5, 'y');
    close(tf.grad(f1(gelu))(x), tf.grad(f1(opByOp))(x), 1e-5, "y'");
    close(tf.grad(f2(gelu))(x), tf.grad(f2(opByOp))(x), 1e-5, "y''");
    close(tf.grad(f3(gelu))(x), tf.grad(f3(opByOp))(x), 1e-5, "y'''");
  });
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  tf.dispose([x, w]);
});

test('fused GELU derivative against central finite differences', () => {
  const xs = [-3, -1.5, -0.5, 0, 0.3, 1, 2.5];
  const g = tf.tidy(() =>
    tf
      .grad((t: tf.Tensor) => tf.sum(gelu(t)))(tf.tensor1d(xs))
      .dataSync(),
  );
  const f = (v: number) => tf.tidy(() => gelu(tf.tensor1d([v])).dataSync()[0]);
  const h = 1e-2;
  xs.forEach((v, i) => {
    const fd = (f(v + h) - f(v - h)) / (2 * h);
    assert.ok(Math.abs(fd - g[i]) < 2e-3, `GELU'(${v}) ${g[i]} vs FD ${fd}`);
  });
});
