/**
 * The fused layer norm (aten's KexueLayerNorm) against the op-by-op form it replaces: values, first
 * derivatives for x, γ and β, and second derivatives (the gradient of a gradient norm, as gradient
 * penalties take it). Tolerance 2e-5 relative to each tensor's largest entry (float32; the two forms
 * sum in different orders). Also checked against central finite differences in float32 (5e-3 relative).
 * First-order gradients go through the one-call native backward (checked by profiling), second-order
 * ones through the differentiable form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { LAYER_NORM, LAYER_NORM_GRAD, layerNorm } from './fused-layer-norm.js';

await initBackend({ quiet: true });

const fusedHere = () => tf.getKernel(LAYER_NORM, tf.getBackend()) !== undefined;

function opByOp(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
}

function close(a: tf.Tensor, b: tf.Tensor, tol: number, what: string): void {
  const [u, v] = [a.dataSync(), b.dataSync()];
  const scale = Math.max(1e-6, ...Array.from(v, Math.abs));
  u.forEach((x, i) => assert.ok(Math.abs(x - v[i]) <= tol * scale, `${what}[${i}]: ${x} vs ${v[i]}`));
}

test('fused layer norm equals the op-by-op form: values, gradients and gradients of gradients', () => {
  if (!fusedHere()) return; // only aten registers the kernel; elsewhere layerNorm is the op-by-op form
  const x = tf.randomNormal([2, 3, 8], 1, 2, 'float32', 1);
  const g = tf.randomNormal([8], 1, 0.5, 'float32', 2);
  const b = tf.randomNormal([8], 0, 0.5, 'float32', 3);
  const w = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 4); // a random upstream gradient
  const before = tf.memory().numTensors;
  const loss = (f: typeof layerNorm) => (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
    tf.sum(tf.mul(tf.sin(f(xx, gg, bb, 1e-5)), w));
  tf.tidy(() => {
    close(layerNorm(x, g, b, 1e-5), opByOp(x, g, b, 1e-5), 2e-5, 'y');
    const [fx, fg, fb] = tf.grads(loss(layerNorm))([x, g, b]);
    const [ox, og, ob] = tf.grads(loss(opByOp))([x, g, b]);
    close(fx, ox, 2e-5, 'dx');
    close(fg, og, 2e-5, 'dγ');
    close(fb, ob, 2e-5, 'dβ');
    // Second order: d/d(x, γ) of ‖∂loss/∂x‖², through the kernel's gradient (which sees dμ and dr).
    const penalty = (f: typeof layerNorm) => (xx: tf.Tensor, gg: tf.Tensor) =>
      tf.sum(tf.square(tf.grad((z: tf.Tensor) => loss(f)(z, gg, b))(xx)));
    const [fxx, fgg] = tf.grads(penalty(layerNorm))([x, g]);
    const [oxx, ogg] = tf.grads(penalty(opByOp))([x, g]);
    close(fxx, oxx, 1e-4, 'd²x');
    close(fgg, ogg, 1e-4, 'd²γ');
  });
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  tf.dispose([x, g, b, w]);
});

test('fused layer norm gradient against central finite differences', () => {
  if (!fusedHere()) return;
  const x = tf.randomNormal([3, 6], 0, 1, 'float32', 5);
  const g = tf.randomNormal([6], 1, 0.3, 'float32', 6);
  const b = tf.zeros([6]);
  const w = tf.randomNormal([3, 6], 0, 1, 'float32', 7);
  const f = (xx: tf.Tensor) => tf.sum(tf.mul(tf.tanh(layerNorm(xx, g, b, 1e-5)), w)).dataSync()[0];
  const grad = tf
    .grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.tanh(layerNorm(xx, g, b, 1e-5)), w)))(x)
    .dataSync();
  const base = x.dataSync();
  const h = 1e-2;
  for (let i = 0; i < base.length; i++) {
    const shift = (d: number) =>
      tf.tidy(() =>
        f(
          tf.tensor(
            base.map((v, j) => (j === i ? v + d : v)),
            x.shape,
          ),
        ),
      );
    const fd = (shift(h) - shift(-h)) / (2 * h);
    assert.ok(Math.abs(fd - grad[i]) <= 5e-3 * Math.max(1, Math.abs(fd)), `dx[${i}]: ${grad[i]} vs FD ${fd}`);
  }
  tf.dispose([x, g, b, w]);
});

test('first-order gradients run the one-call backward; its μ and r terms match the op-by-op form', async () => {
  if (!fusedHere()) return;
  const x = tf.randomNormal([4, 5, 16], 0.5, 1.5, 'float32', 8);
  const g = tf.randomNormal([16], 1, 0.5, 'float32', 9);
  const b = tf.randomNormal([16], 0, 0.5, 'float32', 10);
  const w = tf.randomNormal([4, 5, 16], 0, 1, 'float32', 11);
  const profile = await tf.profile(() =>
    tf.grads((xx: tf.Tensor) => tf.sum(tf.mul(layerNorm(xx, g, b, 1e-5), w)))([x]),
  );
  const kernels = profile.kernels.map((k) => k.name);
  assert.ok(kernels.includes(LAYER_NORM_GRAD), kernels.join(' '));
  assert.ok(!kernels.includes('Mean'), 'the backward should not recompute moments op by op');
  tf.dispose(profile.result as tf.Tensor[]);
  // A caller using all three outputs of the kernel gets dμ and dr ≠ 0: the native backward adds their terms.
  const wm = tf.randomNormal([4, 5, 1], 0, 1, 'float32', 12);
  const wr = tf.randomNormal([4, 5, 1], 0, 1, 'float32', 13);
  const all = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
    const [y, mean, rstd] = tf
      .engine()
      .runKernel(LAYER_NORM, { x: xx, gamma: gg, beta: bb }, { eps: 1e-5 }) as tf.Tensor[];
    return tf.addN([tf.sum(tf.mul(y, w)), tf.sum(tf.mul(mean, wm)), tf.sum(tf.mul(rstd, wr))]);
  };
  const reference = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
    const { mean, variance } = tf.moments(xx, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, 1e-5));
    const y = opByOp(xx, gg, bb, 1e-5);
    return tf.addN([tf.sum(tf.mul(y, w)), tf.sum(tf.mul(mean, wm)), tf.sum(tf.mul(rstd, wr))]);
  };
  tf.tidy(() => {
    const [fx, fg, fb] = tf.grads(all)([x, g, b]);
    const [ox, og, ob] = tf.grads(reference)([x, g, b]);
    close(fx, ox, 2e-5, 'dx with dμ, dr');
    close(fg, og, 2e-5, 'dγ');
    close(fb, ob, 2e-5, 'dβ');
  });
  tf.dispose([x, g, b, w, wm, wr]);
});
