/**
 * logSumExp on every backend here (aten's fused kernels, cpu's tf.logSumExp) against a float64 reference:
 * values and the gradient dy·softmax(x) along the axis, within 1e-6 of the largest magnitude, for each
 * axis of a 3-D x with and without keepDims and for a 1-D x; entries up to ±80 (no overflow); gradients
 * against central differences; one kernel each way on aten; the second order (tape on) equal to cpu's;
 * several axes and int32 fall back to tf.logSumExp.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import {
  assertClose,
  centralDifferences,
  relErr,
  assertSecondOrderAsCpu,
} from '../util/compare.test-util.js';
import { LOG_SUM_EXP, LOG_SUM_EXP_GRAD, logSumExp } from './fused-logsumexp.js';

const main = await initBackend({ quiet: true });
const backends = [...new Set([main, 'cpu'])];

const shape = [3, 4, 5];
const values = Array.from({ length: 60 }, (_, i) =>
  i % 17 === 0 ? 80 * Math.sign(Math.sin(i)) : 3 * Math.sin(0.7 * i),
);

/** Float64 log Σ exp along `axis` of `values` in `shape`, and its gradient for dy = 1 + 0.1·(output index). */
function reference(axis: number) {
  const strides = [20, 5, 1];
  const outShape = shape.filter((_, d) => d !== axis);
  const outSize = outShape.reduce((a, b) => a * b, 1);
  const value: number[] = [];
  const grad = new Array<number>(60).fill(0);
  for (let o = 0; o < outSize; o++) {
    // The output's coordinates, then the flat indices along the axis.
    const coords = [Math.floor(o / outShape[1]), o % outShape[1]];
    const at = (j: number) => {
      const full = [...coords];
      full.splice(axis, 0, j);
      return full.reduce((s, c, d) => s + c * strides[d], 0);
    };
    const idx = Array.from({ length: shape[axis] }, (_, j) => at(j));
    const m = Math.max(...idx.map((i) => values[i]));
    const lse = m + Math.log(idx.reduce((s, i) => s + Math.exp(values[i] - m), 0));
    value.push(lse);
    for (const i of idx) grad[i] = (1 + 0.1 * o) * Math.exp(values[i] - lse);
  }
  return { value, grad, outShape };
}

for (const backend of backends) {
  test(`${backend}: every axis, with and without keepDims, equals the float64 reference; no tensor leak`, async () => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + 3 : axis;
      const ref = reference(a);
      for (const keepDims of [false, true]) {
        tf.tidy(() => {
          const x = tf.tensor3d(values, shape as [number, number, number]);
          const y = logSumExp(x, axis, keepDims);
          const kept = [...ref.outShape];
          kept.splice(a, 0, 1);
          assert.deepEqual(y.shape, keepDims ? kept : ref.outShape);
          assertClose(y.dataSync(), ref.value, 1e-6, `axis ${axis} value`);
          const dy = tf.reshape(tf.add(1, tf.mul(0.1, tf.range(0, ref.value.length))), y.shape);
          const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(logSumExp(v, axis, keepDims), dy)))(x);
          assertClose(g.dataSync(), ref.grad, 1e-6, `axis ${axis} keepDims ${keepDims} gradient`);
        });
      }
    }
    // 1-D, no axis (CoSENT's form).
    tf.tidy(() => {
      const v = tf.tensor1d([0, -1e12, 2, -3]);
      const want = Math.log(1 + Math.exp(2) + Math.exp(-3));
      assertClose(logSumExp(v).dataSync(), [want], 1e-6, '1-D');
    });
    assert.equal(tf.memory().numTensors, before);
  });
}

test('gradients match central differences (float32, h = 1e-2)', () => {
  const x = tf.variable(
    tf.tensor2d(
      values.slice(0, 12).map((v) => v / 20),
      [3, 4],
    ),
  );
  const loss = () => tf.sum(tf.square(logSumExp(x, 1))) as tf.Scalar;
  const { grads } = tf.variableGrads(loss, [x]);
  assert.ok(relErr(grads[x.name].dataSync(), centralDifferences(loss, x, 1e-2)) < 3e-3);
  tf.dispose([x, ...Object.values(grads)]);
});

test('aten takes one kernel each way (no Max, Exp or Log); the second order (tape on) equals cpu’s', async () => {
  if (main !== 'aten') return;
  await tf.setBackend('aten');
  const x = tf.tensor2d(values.slice(0, 20), [4, 5]);
  const step = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.sum(logSumExp(v, 1)))(x));
  const names = step.kernels.map((k) => k.name);
  assert.equal(names.filter((n) => n === LOG_SUM_EXP).length, 1, names.join(' '));
  assert.equal(names.filter((n) => n === LOG_SUM_EXP_GRAD).length, 1, names.join(' '));
  assert.ok(!names.some((n) => ['Max', 'Exp', 'Log'].includes(n)), names.join(' '));
  tf.dispose([x, step.result as tf.Tensor]);
  const second = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const v = tf.tensor2d(
        values.slice(0, 20).map((u) => u / 10),
        [4, 5],
      );
      // d/dx of ‖d(Σ w·lse)/dx‖²: differentiates the gradient, so it must be built from ops.
      const w = tf.tensor1d([1, -2, 0.5, 3]);
      const g = tf.grad((a: tf.Tensor) =>
        tf.sum(tf.square(tf.grad((b: tf.Tensor) => tf.sum(tf.mul(logSumExp(b, 1), w)))(a))),
      );
      return Array.from(g(v).dataSync());
    });
  };
  await assertSecondOrderAsCpu(second, main);
});

test('several axes, no axis on a matrix and int32 are tf.logSumExp’s; an axis of −∞ gives −∞ when fused', () => {
  tf.tidy(() => {
    const x = tf.tensor3d(values, shape as [number, number, number]);
    assertClose(
      logSumExp(x, [0, 2]).dataSync(),
      Array.from(tf.logSumExp(x, [0, 2]).dataSync()),
      1e-6,
      'axes',
    );
    assertClose(logSumExp(x).dataSync(), Array.from(tf.logSumExp(x).dataSync()), 1e-6, 'all');
    const ints = tf.tensor1d([1, 2, 3], 'int32');
    assertClose(logSumExp(ints).dataSync(), Array.from(tf.logSumExp(ints).dataSync()), 1e-6, 'int32');
    if (tf.getKernel(LOG_SUM_EXP, tf.getBackend())) {
      const y = logSumExp(tf.tensor2d([-Infinity, -Infinity, 0, 0], [2, 2]), 1).dataSync();
      assert.equal(y[0], -Infinity);
      assertClose([y[1]], [Math.log(2)], 1e-6, 'finite row');
    }
  });
});
