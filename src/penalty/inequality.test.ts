/**
 * The input/parameter gradient inequality (float64 JS):
 * - property: 10,000 random MLPs (depths 1–8, widths 1–64, relu/tanh/gelu/linear, random and trained
 *   weights): right ≥ left·(1 − 1e-9) in every case, with the ratio distribution printed as diagnostics;
 * - depth 1 is an equality (ratio 1 within 1e-12);
 * - ∇ₓf against central differences (h = 1e-6, rel. error ≤ 1e-6 on smooth activations), the last
 *   Jacobian row equals ∇ₓf, and ‖∇_θf‖² against central differences over every parameter;
 * - spectral norms against power iteration on AᵀA (1e-9), Jacobi eigen-decomposition reconstructs A;
 * - TF.js cross-check on 8 MLPs: ‖∇ₓf‖² and ‖∇_θf‖² from tf.grad/tf.variableGrads (float32, cpu)
 *   agree with the float64 values within 1e-3 relative.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import {
  erf64,
  gradientPenaltyInequality,
  hiddenJacobians,
  mlpPass,
  randomMlp,
  type Activation,
  type Mlp,
} from './inequality.js';
import { inequalitySurvey, randomInequalityCase } from './property.js';
import { spectralNormSq, symmetricEigen } from './linalg.js';

test('the inequality holds on 10,000 random MLPs', (t) => {
  const s = inequalitySurvey(new Rng(2021), 10_000);
  t.diagnostic(`zero left side: ${s.zeroLeft}; violations: ${s.violations}`);
  t.diagnostic(
    `right/left quantiles: ${s.quantiles.map((q) => `${q.q}:${q.ratio.toPrecision(4)}`).join(' ')}`,
  );
  t.diagnostic(
    `median by depth: ${s.medianByDepth.map((d) => `${d.depth}:${d.median.toPrecision(3)}`).join(' ')}`,
  );
  assert.equal(s.violations, 0);
  assert.ok(s.quantiles[0].ratio >= 1 - 1e-9);
  // depth 1 is an equality, so the ratio must reach 1; deeper nets must be strictly slack somewhere
  assert.ok(Math.abs(s.medianByDepth[0].median - 1) < 1e-12);
  assert.ok(s.medianByDepth[7].median > 1.5);
});

test('one layer gives equality', () => {
  const rng = new Rng(7);
  for (const act of ['relu', 'tanh', 'gelu', 'linear'] as Activation[]) {
    const mlp = randomMlp(rng, { inputDim: 9, widths: [], activation: act, outputActivation: act });
    const x = Float64Array.from({ length: 9 }, () => rng.normal());
    const r = gradientPenaltyInequality(mlp, x);
    if (r.left > 0) assert.ok(Math.abs(r.ratio - 1) < 1e-12, `${act}: ratio ${r.ratio}`);
  }
});

function fParams(mlp: Mlp, x: Float64Array): number {
  return mlpPass(mlp, x).f;
}

test('gradients against central differences, Jacobians consistent', () => {
  const rng = new Rng(8);
  for (const act of ['tanh', 'gelu'] as Activation[]) {
    const mlp = randomMlp(rng, { inputDim: 5, widths: [7, 6], activation: act, weightScale: 1.5 });
    const x = Float64Array.from({ length: 5 }, () => rng.normal());
    const p = mlpPass(mlp, x);
    const h = 1e-6;
    for (let i = 0; i < 5; i++) {
      const a = Float64Array.from(x);
      const b = Float64Array.from(x);
      a[i] += h;
      b[i] -= h;
      const fd = (fParams(mlp, a) - fParams(mlp, b)) / (2 * h);
      assert.ok(Math.abs(fd - p.inputGrad[i]) <= 1e-6 * (1 + Math.abs(fd)), `${act} ∂f/∂x${i}`);
    }
    // last hidden Jacobian times the last layer's W and slope = ∇ₓf
    const jac = hiddenJacobians(mlp, p);
    const last = mlp.layers[2];
    const J = jac[2];
    for (let k = 0; k < 5; k++) {
      let s = 0;
      for (let j = 0; j < last.inDim; j++) s += last.weight[j] * J[j * 5 + k];
      assert.ok(Math.abs(s * p.delta[2][0] - p.inputGrad[k]) < 1e-12);
    }
    // ‖∇_θf‖² by finite differences over every parameter
    let fdSq = 0;
    for (const l of mlp.layers) {
      for (const arr of [l.weight, l.bias]) {
        for (let k = 0; k < arr.length; k++) {
          const v = arr[k];
          arr[k] = v + h;
          const fp = fParams(mlp, x);
          arr[k] = v - h;
          const fm = fParams(mlp, x);
          arr[k] = v;
          fdSq += ((fp - fm) / (2 * h)) ** 2;
        }
      }
    }
    const r = gradientPenaltyInequality(mlp, x);
    assert.ok(Math.abs(fdSq - r.paramGradNormSq) <= 1e-6 * fdSq, `${act} ‖∇θf‖²`);
    assert.ok(r.right >= r.left);
  }
});

test('erf64 against known values', () => {
  // erf(0.5), erf(1), erf(2), erf(3.5) to 15 digits (Abramowitz & Stegun / standard tables)
  const known: [number, number][] = [
    [0.5, 0.520499877813047],
    [1, 0.842700792949715],
    [2, 0.995322265018953],
    [3.5, 0.999999256901628],
  ];
  for (const [x, v] of known) {
    assert.ok(Math.abs(erf64(x) - v) < 1e-14, `erf(${x})`);
    assert.ok(Math.abs(erf64(-x) + v) < 1e-14);
  }
});

test('spectral norms and symmetric eigen-decomposition', () => {
  const rng = new Rng(9);
  for (const [rows, cols] of [
    [1, 1],
    [1, 7],
    [9, 1],
    [13, 40],
    [64, 17],
    [30, 30],
  ]) {
    const a = Float64Array.from({ length: rows * cols }, () => rng.normal());
    // power iteration on AᵀA, many steps (reference)
    let v = Float64Array.from({ length: cols }, () => rng.normal());
    let lambda = 0;
    for (let it = 0; it < 5000; it++) {
      const av = Array.from({ length: rows }, (_, i) =>
        a.slice(i * cols, (i + 1) * cols).reduce((s, w, j) => s + w * v[j], 0),
      );
      const w = Float64Array.from({ length: cols }, (_, j) =>
        av.reduce((s, u, i) => s + u * a[i * cols + j], 0),
      );
      lambda = Math.sqrt(w.reduce((s, u) => s + u * u, 0));
      v = w.map((u) => u / lambda);
    }
    const s = spectralNormSq(a, rows, cols);
    assert.ok(Math.abs(s - lambda) <= 1e-9 * lambda, `${rows}×${cols}: ${s} vs ${lambda}`);
  }
  const n = 12;
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  const sym = Float64Array.from({ length: n * n }, (_, k) => b[k] + b[(k % n) * n + Math.floor(k / n)]);
  const { values, vectors } = symmetricEigen(sym, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
      assert.ok(Math.abs(s - sym[i * n + j]) < 1e-10);
    }
  }
});

test('TF.js cross-check of both gradient norms on a handful of MLPs', async () => {
  await initBackend({ quiet: true });
  await tf.setBackend('cpu');
  const rng = new Rng(10);
  const acts: Record<Activation, (z: tf.Tensor) => tf.Tensor> = {
    relu: tf.relu,
    tanh: tf.tanh,
    gelu: (z) => tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.mul(z, Math.SQRT1_2)))),
    linear: (z) => z,
  };
  for (let c = 0; c < 8; c++) {
    const { mlp, x } = randomInequalityCase(rng, 5, 24);
    const ws = mlp.layers.map((l) =>
      tf.variable(tf.tensor2d(Array.from(l.weight), [l.outDim, l.inDim], 'float32')),
    );
    const bs = mlp.layers.map((l) => tf.variable(tf.tensor1d(Array.from(l.bias), 'float32')));
    const f = (xx: tf.Tensor): tf.Scalar => {
      let h = tf.reshape(xx, [-1, 1]);
      mlp.layers.forEach((l, t) => {
        h = acts[l.activation](
          tf.add(tf.matMul(ws[t] as tf.Tensor2D, h as tf.Tensor2D), tf.reshape(bs[t], [-1, 1])),
        );
      });
      return tf.sum(h);
    };
    const xt = tf.tensor1d(Array.from(x), 'float32');
    const gx = tf.grad(f)(xt);
    const gxSq = tf.sum(tf.square(gx)).dataSync()[0];
    const { grads } = tf.variableGrads(() => f(xt), [...ws, ...bs]);
    const gtSq = Object.values(grads).reduce((a, g) => a + tf.sum(tf.square(g)).dataSync()[0], 0);
    const r = gradientPenaltyInequality(mlp, x);
    assert.ok(Math.abs(gxSq - r.inputGradNormSq) <= 1e-3 * r.inputGradNormSq + 1e-6, `case ${c} ‖∇ₓf‖²`);
    assert.ok(Math.abs(gtSq - r.paramGradNormSq) <= 1e-3 * r.paramGradNormSq + 1e-6, `case ${c} ‖∇θf‖²`);
    tf.dispose([...ws, ...bs, xt, gx, ...Object.values(grads)]);
  }
});
