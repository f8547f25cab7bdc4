/**
 * Gradient penalties, on cpu, wasm and (when built) aten (float32): values against a float64 JS
 * reference (via the MLP of inequality.ts: ‖∇ₓf‖² and ‖∇_θf‖² for a one-sample batch, 1e-4
 * relative), and the penalties' gradients with respect to the weights (double backprop) against
 * central differences of the penalty (h = 1e-2 on a tanh network; relative L2 error ≤ 5e-3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackends } from '../grad/backends.test-util.js';
import { Rng } from '../util/rng.js';
import { inputGradientPenalty, interpolate, parameterGradientPenalty } from './penalties.js';
import { gradientPenaltyInequality, randomMlp } from './inequality.js';
import { relErr } from '../util/compare.test-util.js';

// cpu and wasm always; the native backend too when initBackend() registered it
const backends = [...(await testBackends()), ...(tf.findBackendFactory('aten') ? ['aten'] : [])];

/** A tanh MLP as TF.js variables, built from the float64 reference MLP (W [out, in]). */
function tfMlp(seed: number) {
  const mlp = randomMlp(new Rng(seed), { inputDim: 3, widths: [6], activation: 'tanh', weightScale: 1.5 });
  const ws = mlp.layers.map((l) => tf.variable(tf.tensor2d(Array.from(l.weight), [l.outDim, l.inDim])));
  const bs = mlp.layers.map((l) => tf.variable(tf.tensor1d(Array.from(l.bias))));
  const f = (x: tf.Tensor): tf.Tensor => {
    let h = x as tf.Tensor2D;
    ws.forEach((w, t) => {
      h = tf.add(tf.matMul(h, w as tf.Tensor2D, false, true), bs[t]) as tf.Tensor2D;
      if (t < ws.length - 1) h = tf.tanh(h) as tf.Tensor2D;
    });
    return tf.reshape(h, [-1]);
  };
  return { mlp, f, vars: [...ws, ...bs] };
}

function fdGrad(vars: tf.Variable[], value: () => number, h = 1e-2): number[] {
  const out: number[] = [];
  for (const v of vars) {
    const base = Float32Array.from(v.dataSync());
    for (let k = 0; k < base.length; k++) {
      const vals: number[] = [];
      for (const s of [1, -1]) {
        const p = Float32Array.from(base);
        p[k] += s * h;
        v.assign(tf.tensor(p, v.shape));
        vals.push(value());
      }
      v.assign(tf.tensor(base, v.shape));
      out.push((vals[0] - vals[1]) / (2 * h));
    }
  }
  return out;
}

for (const backend of backends) {
  test(`penalty values match the float64 reference (${backend})`, async () => {
    await tf.setBackend(backend);
    const { mlp, f, vars } = tfMlp(1);
    const x = [0.3, -1.2, 0.8];
    const ref = gradientPenaltyInequality(mlp, x);
    const xt = tf.tensor2d([x]);
    const ip = inputGradientPenalty(f, xt, { weight: 2 }).dataSync()[0];
    assert.ok(Math.abs(ip - 2 * ref.inputGradNormSq) <= 1e-4 * 2 * ref.inputGradNormSq);
    const { loss, penalty } = parameterGradientPenalty(() => tf.sum(f(xt)) as tf.Scalar, vars, 0.5);
    assert.ok(Math.abs(loss.dataSync()[0] - ref.f) < 1e-5);
    assert.ok(Math.abs(penalty.dataSync()[0] - 0.5 * ref.paramGradNormSq) <= 1e-4 * ref.paramGradNormSq);
    vars.forEach((v) => v.dispose());
  });

  test(`input-gradient penalty: weight gradients vs central differences (${backend})`, async () => {
    await tf.setBackend(backend);
    const { f, vars } = tfMlp(2);
    const rng = new Rng(3);
    const x = tf.tensor2d(
      Array.from({ length: 15 }, () => rng.normal()),
      [5, 3],
    );
    for (const center of [undefined, 1]) {
      const pen = () => inputGradientPenalty(f, x, { weight: 1, center });
      const { grads } = tf.variableGrads(pen, vars);
      // the output bias does not move ∇ₓf, so it has no gradient (and its central difference is 0)
      const analytic = vars.flatMap((v) => Array.from((grads[v.name] ?? tf.zerosLike(v)).dataSync()));
      const fd = fdGrad(vars, () => pen().dataSync()[0]);
      assert.ok(relErr(analytic, fd) <= 5e-3, `center ${center}: rel err ${relErr(analytic, fd)}`);
    }
    vars.forEach((v) => v.dispose());
  });

  test(`parameter-gradient penalty: weight gradients vs central differences (${backend})`, async () => {
    await tf.setBackend(backend);
    const { f, vars } = tfMlp(4);
    const rng = new Rng(5);
    const x = tf.tensor2d(
      Array.from({ length: 12 }, () => rng.normal()),
      [4, 3],
    );
    const y = tf.tensor1d([0.5, -0.2, 0.1, 0.9]);
    const loss = () => tf.mean(tf.square(tf.sub(f(x), y))) as tf.Scalar;
    const pen = () => parameterGradientPenalty(loss, vars, 1).penalty;
    const { grads } = tf.variableGrads(pen, vars);
    const analytic = vars.flatMap((v) => Array.from(grads[v.name].dataSync()));
    const fd = fdGrad(vars, () => pen().dataSync()[0]);
    assert.ok(relErr(analytic, fd) <= 5e-3, `rel err ${relErr(analytic, fd)}`);
    vars.forEach((v) => v.dispose());
  });
}

test('interpolate stays on the segment between real and fake', async () => {
  await tf.setBackend('cpu');
  const real = tf.tensor2d([
    [0, 0],
    [1, 1],
  ]);
  const fake = tf.tensor2d([
    [2, 2],
    [1, 3],
  ]);
  const v = interpolate(real, fake, new Rng(1)).arraySync() as number[][];
  assert.ok(v[0][0] === v[0][1] && v[0][0] >= 0 && v[0][0] <= 2);
  assert.ok(v[1][0] === 1 && v[1][1] >= 1 && v[1][1] <= 3);
});
