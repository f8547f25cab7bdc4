/**
 * bernoulliLogPmf on every backend here (aten's fused kernels, cpu's op-by-op form) against a float64
 * reference: values and the gradient to the logits, dy·(x − sigmoid(l)), within 1e-5 of the largest
 * magnitude; no gradient to the data (an error when asked, on both); rows of 13 (the loops' one-at-a-time tail) and of
 * 784 (8 at a time, several parallel chunks); x broadcast over samples as the VAE does; logits of ±90
 * (no overflow); the second-order gradient equal across backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { assertClose, assertSecondOrderAsCpu } from '../util/compare.test-util.js';
import { bernoulliLogPmf } from '../density/distributions.js';
import { BERNOULLI_LOG_PMF, BERNOULLI_LOG_PMF_GRAD } from './fused-bernoulli.js';

const main = await initBackend({ quiet: true });
const backends = [...new Set([main, 'cpu'])];

/** x [B, 1, D] (fractional and 0/1 values), logits [B, k, D] (some beyond ±80), dy [B, k]. */
function problem(B: number, k: number, D: number) {
  const x = Array.from({ length: B * D }, (_, i) => (i % 3 === 0 ? 0.5 + 0.4 * Math.sin(i) : i % 2));
  const l = Array.from({ length: B * k * D }, (_, i) =>
    i % 97 === 0 ? 90 * Math.sign(Math.sin(i)) : 4 * Math.sin(0.37 * i),
  );
  const dy = Array.from({ length: B * k }, (_, i) => 1 - 0.3 * i);
  return { B, k, D, x, l, dy };
}

const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Float64 reference: values [B·k] and d(Σ dy·value)/dl [B·k·D]. */
function reference({ B, k, D, x, l, dy }: ReturnType<typeof problem>) {
  const value: number[] = [];
  const dl: number[] = [];
  for (let b = 0; b < B; b++)
    for (let j = 0; j < k; j++) {
      const r = b * k + j;
      let s = 0;
      for (let i = 0; i < D; i++) {
        const [xv, lv] = [x[b * D + i], l[r * D + i]];
        s += xv * lv - softplus(lv);
        dl.push(dy[r] * (xv - sigmoid(lv)));
      }
      value.push(s);
    }
  return { value, dl };
}

for (const backend of backends) {
  for (const [B, k, D] of [
    [3, 2, 13],
    [60, 5, 784],
  ]) {
    test(`${backend}: [${B}, ${k}, ${D}] values and gradients equal the float64 reference; no tensor leak`, async () => {
      await tf.setBackend(backend);
      const p = problem(B, k, D);
      const ref = reference(p);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.tensor3d(p.x, [B, 1, D]);
        const l = tf.tensor3d(p.l, [B, k, D]);
        const dy = tf.tensor2d(p.dy, [B, k]);
        assertClose(bernoulliLogPmf(x, l).dataSync(), ref.value, 1e-5, 'value');
        const gl = tf.grad((b: tf.Tensor) => tf.sum(tf.mul(bernoulliLogPmf(x, b), dy)))(l);
        assertClose(gl.dataSync(), ref.dl, 1e-5, 'd/dlogits');
      });
      assert.equal(tf.memory().numTensors, before);
      // (after the leak check: tfjs leaves a failed gradient's tensors behind)
      const [x, l] = [tf.ones([B, 1, D]), tf.zeros([B, k, D])];
      assert.throws(() => tf.grad((a: tf.Tensor) => tf.sum(bernoulliLogPmf(a, l)))(x), /gradient|backprop/i);
    });
  }
}

test('aten registers both kernels; the second-order gradient (tape on) equals cpu’s', async () => {
  if (main !== 'aten') return;
  assert.ok(tf.getKernel(BERNOULLI_LOG_PMF, 'aten') && tf.getKernel(BERNOULLI_LOG_PMF_GRAD, 'aten'));
  const p = problem(2, 3, 13);
  await tf.setBackend('aten');
  const [x, l] = [tf.tensor3d(p.x, [2, 1, 13]), tf.tensor3d(p.l, [2, 3, 13])];
  const step = await tf.profile(() => tf.grad((c: tf.Tensor) => tf.sum(bernoulliLogPmf(x, c)))(l));
  const names = step.kernels.map((k) => k.name);
  assert.ok(names.includes(BERNOULLI_LOG_PMF) && names.includes(BERNOULLI_LOG_PMF_GRAD), names.join(' '));
  assert.ok(!names.includes('Softplus') && !names.includes('Sigmoid'), names.join(' '));
  tf.dispose([x, l, step.result as tf.Tensor]);
  const second = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor3d(p.x, [2, 1, 13]);
      const l = tf.tensor3d(p.l, [2, 3, 13]);
      // d/dl of ‖d(Σ value)/dl‖²: differentiates the gradient, so it must be built from ops.
      const g = tf.grad((b: tf.Tensor) =>
        tf.sum(tf.square(tf.grad((c: tf.Tensor) => tf.sum(bernoulliLogPmf(x, c)))(b))),
      );
      return Array.from(g(l).dataSync());
    });
  };
  await assertSecondOrderAsCpu(second, main);
});

test('shapes the fused kernel does not take (x larger than the logits) fall back to ops', () => {
  const x = tf.ones([4, 3]);
  const l = tf.zeros([1, 3]);
  // log Bernoulli(1; 1/2) = −log 2 per element.
  assertClose(
    bernoulliLogPmf(x, l).dataSync(),
    [0, 1, 2, 3].map(() => -3 * Math.log(2)),
    1e-6,
    'broadcast logits',
  );
  tf.dispose([x, l]);
});
