/**
 * gaussianLogPdf on every backend here (aten's fused kernels, cpu's op-by-op form) against a float64
 * reference: values and the gradients to x, the mean and the log-variance, within 1e-5 of the largest
 * magnitude, for the broadcasts a VAE uses (the mean and log-variance shared by k samples; x shared by k
 * decoder outputs; a log-variance shared by every row); the second-order gradient equal across backends;
 * aten takes one kernel each way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { assertClose, assertSecondOrderAsCpu } from '../util/compare.test-util.js';
import { gaussianLogPdf } from '../density/distributions.js';
import { GAUSSIAN_LOG_PDF, GAUSSIAN_LOG_PDF_GRAD } from './fused-gaussian.js';

const main = await initBackend({ quiet: true });
const backends = [...new Set([main, 'cpu'])];

/** Row-major values of `shape` from a formula of the flat index. */
function values(shape: number[], f: (i: number) => number): { shape: number[]; v: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, v: Array.from({ length: n }, (_, i) => f(i)) };
}

/** The flat index in a broadcast input of output multi-index `idx` (right-aligned, size-1 axes repeat). */
function flatIndex(t: { shape: number[] }, idx: number[]): number {
  let flat = 0;
  const off = idx.length - t.shape.length;
  for (let a = 0; a < t.shape.length; a++) flat = flat * t.shape[a] + (t.shape[a] === 1 ? 0 : idx[off + a]);
  return flat;
}

/** Float64 reference: values over the broadcast shape without its last axis, and d(Σ w·value)/d(each input). */
function reference(
  x: ReturnType<typeof values>,
  m: ReturnType<typeof values>,
  lv: ReturnType<typeof values>,
) {
  const rank = Math.max(x.shape.length, m.shape.length, lv.shape.length);
  const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
  const out = pad(x.shape).map((_, a) => Math.max(pad(x.shape)[a], pad(m.shape)[a], pad(lv.shape)[a]));
  const n = out.reduce((p, c) => p * c, 1);
  const D = out[rank - 1];
  const value = new Array<number>(n / D).fill(-0.5 * D * Math.log(2 * Math.PI));
  const w = (r: number) => 1 + 0.1 * r; // the upstream gradient of row r
  const grads = [x, m, lv].map((t) => new Array<number>(t.v.length).fill(0));
  for (let i = 0; i < n; i++) {
    const idx = new Array<number>(rank);
    for (let a = rank - 1, q = i; a >= 0; a--) {
      idx[a] = q % out[a];
      q = Math.floor(q / out[a]);
    }
    const [xv, mv, l] = [x, m, lv].map((t) => t.v[flatIndex(t, idx)]);
    const row = Math.floor(i / D);
    const quad = (xv - mv) ** 2 * Math.exp(-l);
    value[row] += -0.5 * (l + quad);
    const r = w(row) * (xv - mv) * Math.exp(-l);
    const add = (k: number, t: ReturnType<typeof values>, g: number) => (grads[k][flatIndex(t, idx)] += g);
    add(0, x, -r);
    add(1, m, r);
    add(2, lv, -0.5 * w(row) * (1 - quad));
  }
  return { value, grads, rows: n / D, weights: Array.from({ length: n / D }, (_, r) => w(r)), out };
}

const cases: [number[], number[], number[]][] = [
  [
    [4, 3, 7],
    [4, 1, 7],
    [4, 1, 7],
  ], // log q(z|x): k samples share the posterior's parameters
  [
    [4, 1, 9],
    [4, 3, 9],
    [4, 3, 9],
  ], // a Gaussian decoder: k outputs share x
  [[6, 5], [6, 5], [5]], // one log-variance for every row
  [
    [2, 50],
    [2, 50],
    [2, 50],
  ],
];

for (const backend of backends) {
  test(`${backend}: values and the three gradients equal the float64 reference; no tensor leak`, async () => {
    await tf.setBackend(backend);
    for (const [sx, sm, sl] of cases) {
      const x = values(sx, (i) => Math.sin(0.7 * i));
      const m = values(sm, (i) => 0.5 * Math.cos(0.3 * i));
      const lv = values(sl, (i) => 1.5 * Math.sin(0.11 * i + 1)); // log-variances within ±1.5
      const ref = reference(x, m, lv);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const [tx, tm, tl] = [x, m, lv].map((t) => tf.tensor(t.v, t.shape));
        const what = `[${sx}] [${sm}] [${sl}]`;
        assertClose(gaussianLogPdf(tx, tm, tl).dataSync(), ref.value, 1e-5, `${what} value`);
        const w = tf.tensor(ref.weights, ref.out.slice(0, -1));
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(gaussianLogPdf(a, b, c), w)),
        )([tx, tm, tl]);
        ['d/dx', 'd/dmean', 'd/dlogVar'].forEach((name, k) =>
          assertClose(g[k].dataSync(), ref.grads[k], 1e-5, `${what} ${name}`),
        );
      });
      assert.equal(tf.memory().numTensors, before);
    }
  });
}

test('aten takes one kernel each way; the second-order gradient (tape on) equals cpu’s', async () => {
  if (main !== 'aten') return;
  assert.ok(tf.getKernel(GAUSSIAN_LOG_PDF, 'aten') && tf.getKernel(GAUSSIAN_LOG_PDF_GRAD, 'aten'));
  const make = () => [
    tf.tensor3d(
      Array.from({ length: 24 }, (_, i) => Math.sin(i)),
      [2, 3, 4],
    ),
    tf.tensor3d(
      Array.from({ length: 8 }, (_, i) => Math.cos(i)),
      [2, 1, 4],
    ),
    tf.tensor3d(
      Array.from({ length: 8 }, (_, i) => 0.4 * Math.sin(3 * i)),
      [2, 1, 4],
    ),
  ];
  await tf.setBackend('aten');
  const [x, m, lv] = make();
  const step = await tf.profile(() =>
    tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(gaussianLogPdf(a, b, c)))([x, m, lv]),
  );
  const names = step.kernels.map((k) => k.name);
  assert.ok(names.includes(GAUSSIAN_LOG_PDF) && names.includes(GAUSSIAN_LOG_PDF_GRAD), names.join(' '));
  assert.ok(!names.includes('Exp') && !names.includes('Square'), names.join(' '));
  tf.dispose([x, m, lv, ...(step.result as tf.Tensor[])]);
  const second = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const [a, b, c] = make();
      // d/d(mean, logVar) of ‖d(Σ value)/dx‖²: differentiates the gradient, so it must be built from ops.
      const g = tf.grads((bb: tf.Tensor, cc: tf.Tensor) =>
        tf.sum(tf.square(tf.grad((aa: tf.Tensor) => tf.sum(gaussianLogPdf(aa, bb, cc)))(a))),
      );
      return g([b, c]).flatMap((t) => Array.from(t.dataSync()));
    });
  };
  await assertSecondOrderAsCpu(second, main);
});

test('a number log-variance and an int32 input take the op-by-op form', () => {
  const x = tf.tensor2d([[0, 1]]);
  // log N(x; 0, 1) summed over 2 dimensions: −log 2π − ½(0 + 1).
  assert.ok(
    Math.abs(gaussianLogPdf(x, tf.zeros([1, 2]), 0).dataSync()[0] - (-Math.log(2 * Math.PI) - 0.5)) < 1e-6,
  );
  const xi = tf.tensor2d([[0, 1]], [1, 2], 'int32');
  assert.ok(
    Math.abs(
      gaussianLogPdf(xi, tf.zeros([1, 2]), tf.zeros([1, 2])).dataSync()[0] - (-Math.log(2 * Math.PI) - 0.5),
    ) < 1e-6,
  );
});
