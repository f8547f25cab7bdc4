/**
 * Gradient normalization, on cpu, wasm and (when built) the native aten backend (float32):
 * - |f̂| ≤ 1 everywhere; for a ReLU/LeakyReLU critic ‖∇ₓf̂‖ ≤ 1 (+1e-5) on random points, and equal to
 *   the closed form ‖∇f‖²/(‖∇f‖+|f|)² within 1e-4;
 * - ∇ₓf̂ and ∇_W Σf̂ (double backprop) of a smooth tanh critic against central differences of f̂
 *   (h = 1e-2, relative L2 error ≤ 5e-3; truncation O(h²) and float32 rounding ~1e-5/h);
 * - the 0/0 case returns 0 with zero gradients (no NaN);
 * - GraN: ‖∇ₓf̂‖ = ‖∇f‖²/(‖∇f‖²+ε) ≤ 1 for piecewise-linear critics;
 * - the generator-side shortcut has GN's value and input gradient on a ReLU critic (≤ 1e-4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { testBackends } from '../grad/backends.test-util.js';
import { Rng } from '../util/rng.js';
import {
  gradientNormalize,
  gradientNormalizeForGenerator,
  granNormalize,
  valueAndInputGradient,
} from './gradnorm.js';
import { relErr } from '../util/compare.test-util.js';

// cpu and wasm always; the native backend too when initBackend() registered it
const backends = [...(await testBackends()), ...(tf.findBackendFactory('aten') ? ['aten'] : [])];

type Act = (z: tf.Tensor) => tf.Tensor;

function randomMlp(rng: Rng, dims: number[], act: Act, scale = 1.5) {
  const ws = dims.slice(1).map((d, i) =>
    tf.variable(
      tf.tensor2d(
        Array.from({ length: dims[i] * d }, () => (rng.normal() * scale) / Math.sqrt(dims[i])),
        [dims[i], d],
      ),
    ),
  );
  const bs = dims
    .slice(1)
    .map((d) => tf.variable(tf.tensor1d(Array.from({ length: d }, () => rng.normal() * 0.3))));
  const f = (x: tf.Tensor): tf.Tensor => {
    let h = x as tf.Tensor2D;
    ws.forEach((w, i) => {
      h = tf.add(tf.matMul(h, w as tf.Tensor2D), bs[i]) as tf.Tensor2D;
      if (i < ws.length - 1) h = act(h) as tf.Tensor2D;
    });
    return h;
  };
  return { f, ws, bs, dispose: () => [...ws, ...bs].forEach((v) => v.dispose()) };
}

function randomPoints(rng: Rng, n: number, d: number, scale = 2): tf.Tensor2D {
  return tf.tensor2d(
    Array.from({ length: n * d }, () => rng.normal() * scale),
    [n, d],
  );
}

function rowNorms(g: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.norm(tf.reshape(g, [g.shape[0], -1]), 'euclidean', 1)).dataSync() as Float32Array;
}

for (const backend of backends) {
  test(`GN is bounded and 1-Lipschitz for piecewise-linear critics (${backend})`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(1);
    for (const act of [tf.relu, (z: tf.Tensor) => tf.leakyRelu(z, 0.2)] as Act[]) {
      const net = randomMlp(rng, [5, 16, 16, 1], act);
      const x = randomPoints(rng, 200, 5);
      const gn = gradientNormalize(net.f);
      const fhat = gn(x).dataSync();
      const g = tf.grad((xx: tf.Tensor) => tf.sum(gn(xx)))(x);
      const norms = rowNorms(g);
      const { value, norm } = valueAndInputGradient(net.f, x);
      const v = value.dataSync();
      const n = norm.dataSync();
      for (let i = 0; i < 200; i++) {
        assert.ok(Math.abs(fhat[i]) <= 1 + 1e-6, `|f̂| = ${fhat[i]}`);
        assert.ok(norms[i] <= 1 + 1e-5, `‖∇f̂‖ = ${norms[i]}`);
        const closed = n[i] ** 2 / (n[i] + Math.abs(v[i])) ** 2;
        assert.ok(Math.abs(norms[i] - closed) <= 1e-4, `‖∇f̂‖ ${norms[i]} vs closed form ${closed}`);
      }
      tf.dispose([x, g, value, norm]);
      net.dispose();
    }
  });

  test(`GN gradients match central differences on a tanh critic (${backend})`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(2);
    const net = randomMlp(rng, [3, 8, 1], tf.tanh, 1);
    const x = randomPoints(rng, 4, 3, 1);
    const gn = gradientNormalize(net.f);
    const total = (xx: tf.Tensor) => tf.sum(gn(xx));
    const h = 1e-2;
    // input gradient
    const gx = tf.grad(total)(x).dataSync();
    const xv = x.dataSync();
    const fdx = Array.from(xv, (_, i) => {
      const plus = Float32Array.from(xv);
      const minus = Float32Array.from(xv);
      plus[i] += h;
      minus[i] -= h;
      const fp = total(tf.tensor2d(plus, x.shape as [number, number])).dataSync()[0];
      const fm = total(tf.tensor2d(minus, x.shape as [number, number])).dataSync()[0];
      return (fp - fm) / (2 * h);
    });
    assert.ok(relErr(gx, fdx) <= 5e-3, `∇ₓ rel err ${relErr(gx, fdx)}`);
    // parameter gradient of the first layer (double backprop)
    const w = net.ws[0];
    const { grads } = tf.variableGrads(() => total(x) as tf.Scalar, [w]);
    const gw = grads[w.name].dataSync();
    const wv = Float32Array.from(w.dataSync());
    const fdw = Array.from(wv, (_, i) => {
      const vals: number[] = [];
      for (const s of [1, -1]) {
        const p = Float32Array.from(wv);
        p[i] += s * h;
        w.assign(tf.tensor2d(p, w.shape as [number, number]));
        vals.push(total(x).dataSync()[0]);
      }
      w.assign(tf.tensor2d(wv, w.shape as [number, number]));
      return (vals[0] - vals[1]) / (2 * h);
    });
    assert.ok(relErr(gw, fdw) <= 5e-3, `∇_W rel err ${relErr(gw, fdw)}`);
    net.dispose();
  });

  test(`GN defines the 0/0 case as 0 with zero gradients (${backend})`, async () => {
    await tf.setBackend(backend);
    const w = tf.variable(tf.tensor2d([[1], [1]]));
    const f = (x: tf.Tensor) => tf.relu(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D));
    // first point: all units off (f = 0, ∇f = 0); second: on.
    const x = tf.tensor2d([
      [-1, -2],
      [1, 2],
    ]);
    const gn = gradientNormalize(f);
    const v = gn(x).dataSync();
    assert.equal(v[0], 0);
    assert.ok(Math.abs(v[1] - 3 / (3 + Math.SQRT2)) < 1e-6);
    const gx = tf
      .grad((xx: tf.Tensor) => tf.sum(gn(xx)))(x)
      .dataSync();
    assert.deepEqual(
      Array.from(gx.slice(0, 2), (a) => a + 0),
      [0, 0],
    ); // + 0 maps −0 to 0
    assert.ok(gx.every(Number.isFinite));
    const { grads } = tf.variableGrads(() => tf.sum(gn(tf.slice(x, [0, 0], [1, 2]))) as tf.Scalar, [w]);
    assert.deepEqual(
      Array.from(grads[w.name].dataSync(), (a) => a + 0),
      [0, 0],
    );
    // a critic that is identically zero
    const zero = gradientNormalize((xx) => tf.mul(tf.sum(xx, 1), 0));
    assert.deepEqual(
      Array.from(zero(x).dataSync(), (a) => a + 0),
      [0, 0],
    );
    // GraN too
    assert.equal(granNormalize(f)(x).dataSync()[0], 0);
    w.dispose();
  });

  test(`GraN: input gradient norm ‖∇f‖²/(‖∇f‖²+ε) for piecewise-linear critics (${backend})`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(3);
    const net = randomMlp(rng, [4, 16, 1], tf.relu);
    const x = randomPoints(rng, 100, 4);
    const eps = 1e-2;
    const gran = granNormalize(net.f, { epsilon: eps });
    const norms = rowNorms(tf.grad((xx: tf.Tensor) => tf.sum(gran(xx)))(x));
    const n = valueAndInputGradient(net.f, x).norm.dataSync();
    for (let i = 0; i < 100; i++) {
      assert.ok(norms[i] <= 1 + 1e-5);
      assert.ok(Math.abs(norms[i] - n[i] ** 2 / (n[i] ** 2 + eps)) < 1e-4);
    }
    net.dispose();
  });

  test(`generator-side GN matches GN's value and gradients on a ReLU critic (${backend})`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(4);
    const critic = randomMlp(rng, [3, 16, 16, 1], tf.relu);
    const gen = randomMlp(rng, [2, 8, 3], tf.relu);
    const z = randomPoints(rng, 50, 2, 1);
    const exact = gradientNormalize(critic.f);
    const fast = gradientNormalizeForGenerator(critic.f);
    const x = gen.f(z);
    assert.ok(relErr(fast(x).dataSync(), exact(x).dataSync()) < 1e-5);
    const gExact = tf
      .grad((xx: tf.Tensor) => tf.sum(exact(xx)))(x)
      .dataSync();
    const gFast = tf
      .grad((xx: tf.Tensor) => tf.sum(fast(xx)))(x)
      .dataSync();
    assert.ok(relErr(gFast, gExact) < 1e-4, `input grad rel err ${relErr(gFast, gExact)}`);
    const vars = [...gen.ws, ...gen.bs];
    const a = tf.variableGrads(() => tf.mean(exact(gen.f(z))) as tf.Scalar, vars).grads;
    const b = tf.variableGrads(() => tf.mean(fast(gen.f(z))) as tf.Scalar, vars).grads;
    for (const v of vars) {
      assert.ok(relErr(b[v.name].dataSync(), a[v.name].dataSync()) < 1e-4, `generator grad of ${v.name}`);
    }
    critic.dispose();
    gen.dispose();
  });
}

test('GN accepts a tf.LayersModel critic', async () => {
  await tf.setBackend('cpu');
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [3], activation: 'relu' }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  const x = randomPoints(new Rng(5), 20, 3);
  const v = gradientNormalize(model)(x);
  assert.deepEqual(v.shape, [20]);
  assert.ok(v.dataSync().every((a) => Math.abs(a) <= 1 + 1e-6));
  assert.throws(() => gradientNormalize((xx) => xx)(x), /one value per sample/);
  model.dispose();
});
