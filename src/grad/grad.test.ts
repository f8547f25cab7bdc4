/**
 * Second derivatives through kexue's gradient fixes, against central differences, on cpu and wasm.
 *
 * Check 1 (the gradient-penalty shape): P(W) = ‖∇ₓ f(x; W)‖² with f = Σ c ⊙ op(xW); ∂P/∂W by
 * tf.grad(tf.grad) vs central differences of P (float32, eps 1e-2, inputs kept ≥ 0.03 away from
 * kinks). Tolerance: relative L2 error ≤ 3e-3 (fixed gradients measure ≤ 2e-4; tfjs-core's own
 * measured 0.08–0.6 for tanh/sigmoid/exp/elu/softmax, and threw for leakyRelu/prelu/selu/relu6).
 * Check 2: scalar d²op/dx² by tf.grad(tf.grad) vs the second central difference of a float64 JS
 * reference (h = 1e-4); tolerance 1e-3 relative + 1e-4 absolute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../util/rng.js';
import { registerGradientFixes, logSoftmax } from './index.js';
import { testBackends } from './backends.test-util.js';
import { relErr } from '../util/compare.test-util.js';

registerGradientFixes();
const backends = await testBackends();

type Op = (z: tf.Tensor) => tf.Tensor;
const SELU_A = 1.6732632423543772;
const SELU_S = 1.0507009873554805;

interface Case {
  op: Op;
  /** float64 reference of the elementwise op, for the scalar check (omitted for vector ops). */
  ref?: (v: number) => number;
  /** points for the scalar check */
  at?: number[];
  /** skip the penalty check (op undefined on part of the line) */
  scalarOnly?: boolean;
}

const mixed = [-1.3, -0.4, 0.35, 1.1];
const positive = [0.4, 1.3, 2.2];
const sig = (v: number) => 1 / (1 + Math.exp(-v));
const classWeights = (n: number) => tf.div(tf.range(1, n + 1), n);

const cases: Record<string, Case> = {
  tanh: { op: tf.tanh, ref: Math.tanh, at: mixed },
  sigmoid: { op: tf.sigmoid, ref: sig, at: mixed },
  exp: { op: tf.exp, ref: Math.exp, at: mixed },
  elu: { op: tf.elu, ref: (v) => (v > 0 ? v : Math.exp(v) - 1), at: mixed },
  leakyRelu: { op: (z) => tf.leakyRelu(z, 0.2), ref: (v) => (v > 0 ? v : 0.2 * v), at: mixed },
  relu: { op: tf.relu, ref: (v) => Math.max(v, 0), at: mixed },
  relu6: { op: (z) => tf.relu6(tf.mul(z, 4)), ref: (v) => Math.min(Math.max(4 * v, 0), 6), at: mixed },
  selu: {
    op: tf.selu,
    ref: (v) => SELU_S * (v > 0 ? v : SELU_A * (Math.exp(v) - 1)),
    at: mixed,
  },
  prelu: { op: (z) => tf.prelu(z, tf.fill([z.shape[z.rank - 1]], 0.3)) },
  softplus: { op: tf.softplus, ref: (v) => Math.log1p(Math.exp(v)), at: mixed },
  log: { op: (z) => tf.log(tf.add(tf.square(z), 0.5)), ref: (v) => Math.log(v * v + 0.5), at: mixed },
  sqrt: { op: tf.sqrt, ref: Math.sqrt, at: positive, scalarOnly: true },
  sqrtShifted: { op: (z) => tf.sqrt(tf.add(tf.square(z), 0.5)) },
  square: { op: tf.square, ref: (v) => v * v, at: mixed },
  softmax: { op: (z) => tf.mul(tf.softmax(z), classWeights(z.shape[1] ?? 1)) },
  logSoftmax: { op: (z) => tf.mul(logSoftmax(z), classWeights(z.shape[1] ?? 1)) },
  mean: { op: (z) => tf.mul(tf.mean(tf.tanh(z), 0, true), z.shape[0]) },
};

function randTensor(rng: Rng, shape: number[], scale: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, () => (2 * rng.next() - 1) * scale),
    shape,
  );
}

/** x, W with every entry of xW at least 0.03 away from 0 (relu-like kinks; also 1.5 for relu6). */
function inputs(seed: number): { x: tf.Tensor; w: tf.Tensor } {
  const rng = new Rng(seed);
  for (;;) {
    const x = randTensor(rng, [3, 4], 1);
    const w = randTensor(rng, [4, 5], 1);
    const z = Array.from(tf.matMul(x, w).dataSync());
    if (z.every((v) => Math.abs(v) > 0.03 && Math.abs(v - 1.5) > 0.03)) return { x, w };
  }
}

/** Relative L2 error of tf.grad(fun) at `at` against central differences (eps 1e-2, float32). */
function checkGrad(fun: (t: tf.Tensor) => tf.Tensor, at: tf.Tensor): number {
  const analytic = tf.tidy(() => tf.grad(fun)(at).dataSync());
  const v = at.dataSync();
  const eps = 1e-2;
  const value = (vals: Float32Array) => tf.tidy(() => fun(tf.tensor(vals, at.shape)).dataSync()[0]);
  const numeric = Array.from(v, (_, i) => {
    const p = Float32Array.from(v);
    const m = Float32Array.from(v);
    p[i] += eps;
    m[i] -= eps;
    return (value(p) - value(m)) / (2 * eps);
  });
  return relErr(analytic, numeric);
}

/** ∂‖∇ₓ Σ c⊙op(xW)‖²/∂W: analytic (double backprop) against central differences. */
function penaltyCheck(op: Op, x: tf.Tensor, w0: tf.Tensor): number {
  const c = tf.reshape(classWeights(w0.shape[1] ?? 1), [1, -1]);
  const penalty = (w: tf.Tensor) => {
    const f = (xx: tf.Tensor) => tf.sum(tf.mul(op(tf.matMul(xx, w)), c));
    return tf.sum(tf.square(tf.grad(f)(x)));
  };
  return checkGrad(penalty, w0);
}

for (const backend of backends) {
  for (const [name, c] of Object.entries(cases)) {
    if (!c.scalarOnly)
      test(`${backend}: d/dW ‖∇x f‖² through ${name} matches central differences`, async () => {
        await tf.setBackend(backend);
        const { x, w } = inputs(7);
        const err = penaltyCheck(c.op, x, w);
        if (process.env.KEXUE_GRAD_REPORT) console.log(`${backend} ${name} ${err.toExponential(2)}`);
        assert.ok(err < 3e-3, `${name} on ${backend}: relative error ${err.toExponential(2)}`);
      });
    const { ref, at } = c;
    if (!ref || !at) continue;
    test(`${backend}: d²/dx² of ${name} matches a float64 reference`, async () => {
      await tf.setBackend(backend);
      const second = tf.grad(tf.grad((z: tf.Tensor) => c.op(z)));
      const got = second(tf.tensor1d(at)).dataSync();
      const h = 1e-4;
      at.forEach((v, i) => {
        const want = (ref(v + h) - 2 * ref(v) + ref(v - h)) / (h * h);
        assert.ok(
          Math.abs(got[i] - want) <= 1e-3 * Math.abs(want) + 1e-4,
          `${name} at ${v}: ${got[i]} vs ${want}`,
        );
      });
    });
  }
}

/** Conv nets: input- and parameter-gradient penalties (the latter needs Conv2DBackpropFilter's gradient). */
type Conv = (x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: 'same' | 'valid') => tf.Tensor4D;
const convSetups: [string, Conv, number[], number, 'same' | 'valid'][] = [
  ['conv2d stride 1 valid', tf.conv2d, [3, 3, 2, 3], 1, 'valid'],
  ['conv2d stride 2 same', tf.conv2d, [3, 3, 2, 3], 2, 'same'],
  ['depthwise stride 1 valid', tf.depthwiseConv2d, [3, 3, 2, 2], 1, 'valid'],
  ['depthwise stride 2 same', tf.depthwiseConv2d, [3, 3, 2, 1], 2, 'same'],
];

for (const backend of backends) {
  for (const [what, conv, filterShape, stride, pad] of convSetups) {
    test(`${backend}: ${what}: second derivatives match central differences`, async () => {
      await tf.setBackend(backend);
      const rng = new Rng(11);
      const x = randTensor(rng, [2, 5, 5, 2], 1) as tf.Tensor4D;
      const w = randTensor(rng, filterShape, 0.5) as tf.Tensor4D;
      const c = randTensor(rng, conv(x, w, stride, pad).shape, 1);
      const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.mul(tf.tanh(conv(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad)), c));
      const inputPenalty = (ww: tf.Tensor) => tf.sum(tf.square(tf.grad((xx: tf.Tensor) => loss(xx, ww))(x)));
      const paramPenalty = (xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.square(tf.grad((v: tf.Tensor) => loss(xx, v))(ww)));
      const errs = {
        'd/dW ‖∇x f‖²': checkGrad(inputPenalty, w),
        'd/dW ‖∇W f‖²': checkGrad((ww) => paramPenalty(x, ww), w),
        'd/dx ‖∇W f‖²': checkGrad((xx) => paramPenalty(xx, w), x),
      };
      for (const [name, err] of Object.entries(errs)) {
        if (process.env.KEXUE_GRAD_REPORT) console.log(`${backend} ${what} ${name} ${err.toExponential(2)}`);
        assert.ok(err < 3e-3, `${name}: relative error ${err.toExponential(2)}`);
      }
    });
  }
}

/** The tfjs-layers path (fused matMul + activation) that gradient penalties on models use. */
for (const backend of backends) {
  for (const activation of ['tanh', 'sigmoid'] as const) {
    test(`${backend}: input-gradient penalty of a tfjs-layers Dense(${activation}) model`, async () => {
      await tf.setBackend(backend);
      const init = (seed: number) => tfl.initializers.randomNormal({ seed });
      const dense = tfl.layers.dense({
        units: 6,
        activation,
        kernelInitializer: init(1),
        biasInitializer: init(3),
      });
      const head = tfl.layers.dense({ units: 1, kernelInitializer: init(2) });
      const x = tf.randomNormal([3, 4], 0, 1, 'float32', 5);
      const model = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [4] }), dense, head] });
      const penalty = () =>
        tf.sum(tf.square(tf.grad((xx: tf.Tensor) => tf.sum(model.apply(xx) as tf.Tensor))(x))) as tf.Scalar;
      const kernel = dense.trainableWeights[0].read() as tf.Variable;
      const { value, grads } = tf.variableGrads(penalty, [kernel]);
      const analytic = grads[kernel.name].dataSync();
      tf.dispose([value, grads[kernel.name]]);
      // Central differences through setWeights (eps 1e-2), as in checkGrad.
      const [k0, bias] = dense.getWeights().map((t) => t.clone());
      const k = k0.dataSync();
      const at = (i: number, delta: number) => {
        const v = Float32Array.from(k);
        v[i] += delta;
        dense.setWeights([tf.tensor(v, k0.shape), bias]);
        return tf.tidy(() => penalty().dataSync()[0]);
      };
      const numeric = Array.from(k, (_, i) => (at(i, 1e-2) - at(i, -1e-2)) / 2e-2);
      const err = relErr(analytic, numeric);
      model.dispose();
      assert.ok(err < 3e-3, `relative error ${err.toExponential(2)}`);
    });
  }
}
