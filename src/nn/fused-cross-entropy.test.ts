/**
 * sparseSoftmaxCrossEntropy on every backend here (aten's fused kernels, cpu's op-by-op form) against a
 * float64 reference: values within 1e-5 relative, the gradient dy·(softmax − onehot) within 1e-5 and
 * against central finite differences (2e-3, float32), a second-order gradient equal across backends,
 * bad labels and shapes rejected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { SPARSE_XENT, SPARSE_XENT_GRAD, sparseSoftmaxCrossEntropy } from './fused-cross-entropy.js';

const main = await initBackend({ quiet: true });
const backends = [...new Set([main, 'cpu'])];

const ROWS = 6;
const CLASSES = 11;
const logitValues = Array.from({ length: ROWS * CLASSES }, (_, i) => 3 * Math.sin(1.7 * i + 0.3));
const labelValues = [0, 10, 3, 3, 7, 1];
const weights = [0.5, -1, 2, 0.25, 1, -0.75]; // dy: a weighted sum of the rows' losses

/** Float64 reference: per-row loss and d(Σ wᵣ·lossᵣ)/dlogits. */
function reference(): { loss: number[]; grad: number[] } {
  const loss: number[] = [];
  const grad: number[] = [];
  for (let r = 0; r < ROWS; r++) {
    const row = logitValues.slice(r * CLASSES, (r + 1) * CLASSES);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    loss.push(m + Math.log(z) - row[labelValues[r]]);
    row.forEach((v, c) => grad.push(weights[r] * (Math.exp(v - m) / z - (c === labelValues[r] ? 1 : 0))));
  }
  return { loss, grad };
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const scale = Math.max(1e-6, ...Array.from(expected, Math.abs));
  for (let i = 0; i < actual.length; i++)
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
}

const inputs = () => ({
  logits: tf.tensor2d(logitValues, [ROWS, CLASSES]),
  labels: tf.tensor1d(labelValues, 'int32'),
  w: tf.tensor1d(weights),
});

for (const backend of backends) {
  test(`${backend}: losses and gradient equal the float64 reference; no tensor leak`, async () => {
    await tf.setBackend(backend);
    const { logits, labels, w } = inputs();
    const before = tf.memory().numTensors;
    const ref = reference();
    tf.tidy(() => {
      close(sparseSoftmaxCrossEntropy(logits, labels).dataSync(), ref.loss, 1e-5, 'loss');
      const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(sparseSoftmaxCrossEntropy(z, labels), w)))(logits);
      close(g.dataSync(), ref.grad, 1e-5, 'gradient');
    });
    assert.equal(tf.memory().numTensors, before, 'tensor leak');
    tf.dispose([logits, labels, w]);
  });

  test(`${backend}: gradient against central finite differences`, async () => {
    await tf.setBackend(backend);
    const { labels, w } = inputs();
    const f = (v: number[]) =>
      tf.tidy(
        () =>
          tf.sum(tf.mul(sparseSoftmaxCrossEntropy(tf.tensor2d(v, [ROWS, CLASSES]), labels), w)).dataSync()[0],
      );
    const g = tf.tidy(() =>
      tf
        .grad((z: tf.Tensor) => tf.sum(tf.mul(sparseSoftmaxCrossEntropy(z, labels), w)))(
          tf.tensor2d(logitValues, [ROWS, CLASSES]),
        )
        .dataSync(),
    );
    const h = 1e-2;
    for (const i of [0, 5, 10, 11, 21, 36, 40, 65]) {
      const up = [...logitValues];
      const down = [...logitValues];
      up[i] += h;
      down[i] -= h;
      const fd = (f(up) - f(down)) / (2 * h);
      assert.ok(Math.abs(fd - g[i]) < 2e-3, `d/dlogits[${i}]: ${g[i]} vs FD ${fd}`);
    }
    tf.dispose([labels, w]);
  });

  test(`${backend}: a label out of range is an error or a NaN row, never a plausible loss`, async () => {
    await tf.setBackend(backend);
    const logits = tf.tensor2d(logitValues.slice(0, 2 * CLASSES), [2, CLASSES]);
    for (const bad of [CLASSES, -1]) {
      const labels = tf.tensor1d([1, bad], 'int32');
      let losses: Float32Array | undefined;
      try {
        losses = tf.tidy(() => sparseSoftmaxCrossEntropy(logits, labels)).dataSync() as Float32Array;
      } catch (e) {
        assert.match((e as Error).message, /out of bounds/, `label ${bad}`);
      }
      if (losses) {
        assert.ok(Number.isFinite(losses[0]), 'the valid row keeps its loss');
        assert.ok(Number.isNaN(losses[1]), `label ${bad}: ${losses[1]}`);
      }
      labels.dispose();
    }
    assert.throws(() => sparseSoftmaxCrossEntropy(logits, tf.tensor1d([1, 2])), /labels must be int32 \[2\]/);
    assert.throws(
      () => sparseSoftmaxCrossEntropy(logits, tf.tensor1d([1], 'int32')),
      /labels must be int32 \[2\]/,
    );
    assert.throws(
      () => sparseSoftmaxCrossEntropy(tf.ones([2, 3, 4]), tf.tensor1d([1, 2], 'int32')),
      /logits must be float32 \[rows, classes\]/,
    );
    logits.dispose();
  });
}

test('second order (a gradient penalty on the logits) equals the cpu result', async () => {
  const { logits, labels, w } = inputs();
  // d/dlogits of ‖∂L/∂logits‖²: the inner gradient is recorded, so it must be differentiable.
  const penalty = () =>
    tf.tidy(() =>
      tf
        .grad((z: tf.Tensor) =>
          tf.sum(
            tf.square(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(sparseSoftmaxCrossEntropy(u, labels), w)))(z)),
          ),
        )(logits)
        .dataSync(),
    );
  const results = [];
  for (const backend of backends) {
    await tf.setBackend(backend);
    results.push(penalty());
  }
  await tf.setBackend(main);
  for (const r of results.slice(1)) close(r, results[0], 1e-5, 'second-order gradient');
  assert.ok(
    results[0].some((v) => Math.abs(v) > 1e-3),
    'the penalty gradient is not trivially zero',
  );
  tf.dispose([logits, labels, w]);
});

test(
  'aten: plain training runs the loss and its gradient as one kernel each',
  { skip: main !== 'aten' },
  async () => {
    await tf.setBackend('aten');
    const { logits, labels, w } = inputs();
    const profile = await tf.profile(() =>
      tf.grad((z: tf.Tensor) => tf.sum(tf.mul(sparseSoftmaxCrossEntropy(z, labels), w)))(logits),
    );
    const names = profile.kernels.map((k) => k.name);
    assert.equal(names.filter((n) => n === SPARSE_XENT).length, 1);
    assert.equal(names.filter((n) => n === SPARSE_XENT_GRAD).length, 1);
    assert.ok(!names.includes('OneHot'), names.join(' '));
    tf.dispose([profile.result as tf.Tensor, logits, labels, w]);
  },
);
