/**
 * dense on every backend here (aten's fused kernels, cpu's op-by-op form) against a float64 reference:
 * values and the gradients to x, the kernel and the bias within 1e-5 of the largest magnitude (5e-5 for
 * 500-row sums), for each activation, on small and IWAE-sized layers (products split over the threads), a
 * 3-D x and strided views;
 * gradients against central differences; the second-order gradient (tape on) equal across backends; aten
 * takes one kernel each way, and no product for a first layer's data; bad arguments throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { assertClose, centralDifferences, relErr } from '../util/compare.test-util.js';
import { DENSE, DENSE_ACTIVATIONS, DENSE_GRAD, dense, type DenseActivation } from './fused-dense.js';

const main = await initBackend({ quiet: true });
const backends = [...new Set([main, 'cpu'])];

const act: Record<DenseActivation, { f: (v: number) => number; d: (v: number) => number }> = {
  linear: { f: (v) => v, d: () => 1 },
  relu: { f: (v) => Math.max(v, 0), d: (v) => (v > 0 ? 1 : 0) },
  tanh: { f: Math.tanh, d: (v) => 1 - Math.tanh(v) ** 2 },
  sigmoid: { f: (v) => 1 / (1 + Math.exp(-v)), d: (v) => Math.exp(-v) / (1 + Math.exp(-v)) ** 2 },
};

const fill = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** Float64 y = act(x·w + b) and the gradients of Σ u·y (u the upstream weights) to x, w and b. */
function reference(
  x: number[],
  w: number[],
  b: number[],
  u: number[],
  rows: number,
  n: number,
  m: number,
  a: DenseActivation,
) {
  const y = new Array<number>(rows * m).fill(0);
  const [dx, dw, db] = [
    new Array<number>(rows * n).fill(0),
    new Array<number>(n * m).fill(0),
    new Array<number>(m).fill(0),
  ];
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < m; j++) {
      let pre = b[j];
      for (let i = 0; i < n; i++) pre += x[r * n + i] * w[i * m + j];
      y[r * m + j] = act[a].f(pre);
      const d = u[r * m + j] * act[a].d(pre);
      db[j] += d;
      for (let i = 0; i < n; i++) {
        dx[r * n + i] += d * w[i * m + j];
        dw[i * m + j] += d * x[r * n + i];
      }
    }
  return { y, dx, dw, db };
}

// [rows, in, out, tolerance]: small, one column, and the IWAE decoder's output layer (500 × 200 by
// 200 × 784, a product split over the threads, forward and for dW). dW sums 500 float32 terms of up to
// ~1.5, so its rounding reaches ~2e-5 of the largest entry there.
const sizes: [number, number, number, number][] = [
  [1, 4, 3, 1e-5], // one row: the output must not be the bias's own memory
  [5, 3, 4, 1e-5],
  [7, 6, 1, 1e-5],
  [500, 200, 784, 5e-5],
];

for (const backend of backends) {
  test(`${backend}: values and the gradients to x, kernel and bias equal the float64 reference; no leak`, async () => {
    await tf.setBackend(backend);
    try {
      for (const [rows, n, m, tol] of sizes) {
        const x = fill(rows * n, (i) => Math.sin(0.37 * i));
        const w = fill(n * m, (i) => Math.cos(0.23 * i) / Math.sqrt(n));
        const b = fill(m, (i) => 0.3 * Math.sin(i));
        const u = fill(rows * m, (i) => 1 + 0.5 * Math.cos(0.11 * i));
        for (const a of DENSE_ACTIVATIONS) {
          const ref = reference(x, w, b, u, rows, n, m, a);
          const before = tf.memory().numTensors;
          tf.tidy(() => {
            const [tx, tw, tb, tu] = [
              tf.tensor2d(x, [rows, n]),
              tf.tensor2d(w, [n, m]),
              tf.tensor1d(b),
              tf.tensor2d(u, [rows, m]),
            ];
            const what = `${a} [${rows}, ${n}] by [${n}, ${m}]`;
            assertClose(dense(tx, tw, tb, a).dataSync(), ref.y, tol, `${what} value`);
            const g = tf.grads((p: tf.Tensor, q: tf.Tensor, s: tf.Tensor) =>
              tf.sum(tf.mul(dense(p, q as tf.Tensor2D, s as tf.Tensor1D, a), tu)),
            )([tx, tw, tb]);
            assertClose(g[0].dataSync(), ref.dx, tol, `${what} d/dx`);
            assertClose(g[1].dataSync(), ref.dw, tol, `${what} d/dkernel`);
            assertClose(g[2].dataSync(), ref.db, tol, `${what} d/dbias`);
            for (const [t, v, name] of [
              [tx, x, 'x'],
              [tw, w, 'kernel'],
              [tb, b, 'bias'],
            ] as const)
              assertClose(t.dataSync(), Array.from(Float32Array.from(v)), 0, `${what}: ${name} unchanged`);
          });
          assert.equal(tf.memory().numTensors, before, 'tensors left behind');
        }
      }
    } finally {
      await tf.setBackend(main);
    }
  });
}

test('a 3-D x, strided views of x and of the kernel, and no bias give the 2-D values', () => {
  tf.tidy(() => {
    const x = tf.tensor3d(
      fill(2 * 3 * 4, (i) => Math.sin(i)),
      [2, 3, 4],
    );
    const w = tf.tensor2d(
      fill(4 * 5, (i) => Math.cos(i)),
      [4, 5],
    );
    const b = tf.tensor1d(fill(5, (i) => 0.1 * i));
    const flat = dense(tf.reshape(x, [6, 4]), w, b, 'tanh');
    const y = dense(x, w, b, 'tanh');
    assert.deepEqual(y.shape, [2, 3, 5]);
    assertClose(y.dataSync(), Array.from(flat.dataSync()), 1e-6, '3-D');
    // Transposes of contiguous transposes: on aten, views with column-major strides (BLAS reads them
    // transposed, in place), for the forward product and the gradient's xᵀ·dPre.
    const x2 = tf.reshape(x, [6, 4]);
    const xs = tf.transpose(tf.add(tf.transpose(x2), 0));
    const ws = tf.transpose(tf.add(tf.transpose(w), 0)) as tf.Tensor2D;
    assertClose(dense(xs, ws, b, 'tanh').dataSync(), Array.from(flat.dataSync()), 1e-6, 'strided');
    const grads = (p: tf.Tensor, q: tf.Tensor) =>
      tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.square(dense(u, v as tf.Tensor2D, b, 'tanh'))))([
        p,
        q,
      ]);
    const [strided, contiguous] = [grads(xs, ws), grads(x2, w)];
    for (const k of [0, 1])
      assertClose(strided[k].dataSync(), Array.from(contiguous[k].dataSync()), 1e-6, `strided gradient ${k}`);
    const plain = tf.tanh(tf.matMul(tf.reshape(x, [6, 4]), w));
    assertClose(
      dense(tf.reshape(x, [6, 4]), w, undefined, 'tanh').dataSync(),
      Array.from(plain.dataSync()),
      1e-6,
      'no bias',
    );
  });
});

test('gradients match central differences of the loss (float32, h = 1e-2)', () => {
  for (const a of ['tanh', 'sigmoid'] as const) {
    const x = tf.tensor2d(
      fill(4 * 3, (i) => Math.sin(1.3 * i)),
      [4, 3],
    );
    const w = tf.variable(
      tf.tensor2d(
        fill(3 * 5, (i) => 0.5 * Math.cos(i)),
        [3, 5],
      ),
    );
    const b = tf.variable(tf.tensor1d(fill(5, (i) => 0.2 * Math.sin(2 * i))));
    const loss = () =>
      tf.sum(tf.square(dense(x, w as tf.Variable<tf.Rank.R2>, b as tf.Variable<tf.Rank.R1>, a))) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, [w, b]);
    for (const v of [w, b]) {
      const fd = centralDifferences(loss, v, 1e-2);
      assert.ok(relErr(grads[v.name].dataSync(), fd) < 3e-3, `${a} ${v.name}`);
    }
    tf.dispose([x, w, b, ...Object.values(grads)]);
  }
});

test('aten takes one kernel each way, and no product for a first layer’s data; second order equals cpu’s', async () => {
  if (main !== 'aten') return;
  assert.ok(tf.getKernel(DENSE, 'aten') && tf.getKernel(DENSE_GRAD, 'aten'));
  const x = tf.tensor2d(
    fill(6 * 4, (i) => Math.sin(i)),
    [6, 4],
  );
  const w = tf.variable(
    tf.tensor2d(
      fill(4 * 3, (i) => Math.cos(i)),
      [4, 3],
    ),
  );
  const b = tf.variable(tf.tensor1d([0.1, -0.2, 0.3]));
  const step = await tf.profile(() =>
    tf.variableGrads(() =>
      tf.sum(dense(x, w as tf.Variable<tf.Rank.R2>, b as tf.Variable<tf.Rank.R1>, 'tanh')),
    ),
  );
  const names = step.kernels.map((k) => k.name);
  for (const k of ['BatchMatMul', '_FusedMatMul', 'Tanh', 'Add'])
    assert.ok(!names.includes(k), names.join(' '));
  assert.equal(names.filter((k) => k === DENSE || k === DENSE_GRAD).length, 2, names.join(' '));
  const r = step.result as { value: tf.Tensor; grads: tf.NamedTensorMap };
  tf.dispose([x, w, b, r.value, ...Object.values(r.grads)]);
  const second = (backend: string, a: DenseActivation) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const xx = tf.tensor2d(
        fill(5 * 4, (i) => Math.sin(0.7 * i)),
        [5, 4],
      );
      const ww = tf.tensor2d(
        fill(4 * 3, (i) => 0.6 * Math.cos(i)),
        [4, 3],
      );
      const bb = tf.tensor1d([0.1, -0.2, 0.3]);
      // d/d(kernel, bias) of ‖d(Σ y²)/dx‖²: differentiates the gradient, so it must be built from ops.
      const g = tf.grads((k: tf.Tensor, c: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.grad((p: tf.Tensor) => tf.sum(tf.square(dense(p, k as tf.Tensor2D, c as tf.Tensor1D, a))))(xx),
          ),
        ),
      );
      return g([ww, bb]).flatMap((t) => Array.from(t.dataSync()));
    });
  };
  for (const a of DENSE_ACTIVATIONS) {
    const [onAten, onCpu] = [second('aten', a), second('cpu', a)];
    assertClose(onAten, onCpu, 1e-5, `${a} second order`);
    assert.ok(
      onAten.some((v) => Math.abs(v) > 1e-3),
      `${a}: the second-order gradient is not all zero`,
    );
  }
  await tf.setBackend(main);
});

test('bad arguments throw clear errors', () => {
  const x = tf.zeros([2, 3]);
  const w = tf.zeros([3, 4]) as tf.Tensor2D;
  assert.throws(
    () => dense(x, w, undefined, 'gelu' as DenseActivation),
    /activation 'gelu' is not one of linear, relu, tanh, sigmoid/,
  );
  assert.throws(() => dense(tf.zeros([2, 5]), w), /x \[2,5\] does not fit a kernel \[3,4\]/);
  assert.throws(() => dense(tf.zeros([3]), w), /does not fit/);
  assert.throws(() => dense(x, w, tf.zeros([3]) as tf.Tensor1D), /bias \[3\] does not fit a kernel \[3,4\]/);
  tf.dispose([x, w]);
});
