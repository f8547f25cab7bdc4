/**
 * Gradients of the VAE, IWAE and DReG objectives against central finite differences (float32 forward,
 * h = 1e-2, relative error < 2e-2), DReG's zero-variance property at the exact posterior, and the
 * relation of the objectives to each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { centralDifferences, relErr } from '../util/compare.test-util.js';
import { gaussianLogPdf, standardNormalLogPdf } from './distributions.js';
import { objectiveLoss, type ObjectiveOptions } from './objectives.js';
import { linearGaussian1, linearGaussian2, mat, orthogonalW } from './linear-gaussian.test-util.js';

await initBackend({ quiet: true });

const W = () => {
  const rng = new Rng(5);
  return mat(4, 2, () => rng.normal());
};

function setup(seed: number, B: number, k: number) {
  const lg = linearGaussian1(W(), [0.2, -0.1, 0, 0.3], 0.5, 'approx');
  const x = tf.tensor2d(lg.sample(B, new Rng(seed)), [B, 4]);
  const rng = new Rng(seed + 1);
  const eps = tf.tensor3d(
    Float32Array.from({ length: B * k * 2 }, () => rng.normal()),
    [B, k, 2],
  );
  return { lg, x, eps };
}

function grads(lg: ReturnType<typeof linearGaussian1>, f: () => tf.Scalar) {
  const { value, grads } = tf.variableGrads(f, lg.variables);
  value.dispose();
  const out = lg.variables.map((v) => Float64Array.from(grads[v.name].dataSync()));
  tf.dispose(Object.values(grads));
  return out;
}

for (const objective of ['vae', 'iwae'] as const) {
  test(`${objective} objective: gradients match central differences for encoder and decoder`, () => {
    const { lg, x, eps } = setup(1, 3, 4);
    const o: ObjectiveOptions = { objective, k: 4, noise: [eps] };
    const loss = () => objectiveLoss(lg.vae, x, o).loss;
    const g = grads(lg, loss);
    lg.variables.forEach((v, i) => {
      const fd = centralDifferences(loss, v, 1e-2);
      assert.ok(relErr(g[i], fd) < 2e-2, `variable ${i}: rel err ${relErr(g[i], fd)}`);
    });
    tf.dispose([x, eps]);
    lg.dispose();
  });
}

test('k = 1: the IWAE and VAE objectives coincide; for k > 1 the IWAE bound is higher', () => {
  const { lg, x, eps } = setup(2, 5, 1);
  const a = objectiveLoss(lg.vae, x, { objective: 'vae', k: 1, noise: [eps] }).bound;
  const b = objectiveLoss(lg.vae, x, { objective: 'iwae', k: 1, noise: [eps] }).bound;
  assert.ok(Math.abs(a - b) < 1e-5);
  const s = setup(2, 5, 8);
  const v = objectiveLoss(s.lg.vae, s.x, { objective: 'vae', k: 8, noise: [s.eps] }).bound;
  const w = objectiveLoss(s.lg.vae, s.x, { objective: 'iwae', k: 8, noise: [s.eps] }).bound;
  assert.ok(w > v, `${w} vs ${v}`); // Jensen, sample by sample
  tf.dispose([x, eps, s.x, s.eps]);
  lg.dispose();
  s.lg.dispose();
});

test('DReG: decoder gradients equal the IWAE ones; encoder gradients match central differences of Σ w̃² log w with q frozen', () => {
  const B = 3;
  const k = 5;
  const { lg, x, eps } = setup(3, B, k);
  const iwae = grads(lg, () => objectiveLoss(lg.vae, x, { objective: 'iwae', k, noise: [eps] }).loss);
  const dreg = grads(
    lg,
    () => objectiveLoss(lg.vae, x, { objective: 'iwae', k, noise: [eps], estimator: 'dreg' }).loss,
  );
  // variables: [A, c, logVar] (encoder), [Wᵀ, b] (decoder)
  for (const i of [3, 4]) assert.ok(relErr(dreg[i], iwae[i]) < 1e-4, `decoder variable ${i}`);
  // Reference: L(φ) = −(1/B) Σ c_bj [log p(x, z_bj(φ)) − log q₀(z_bj(φ))], c = w̃² and q₀ at the current φ.
  const q0 = lg.vae.posterior(0, x);
  const logw0 = lg.vae.logWeights(x, k, { noise: [eps] });
  const c = tf.tidy(() => tf.square(tf.softmax(logw0, 1)));
  const ref = () =>
    tf.tidy(() => {
      const { mean, logVar } = lg.vae.posterior(0, x);
      const z = tf.add(
        tf.reshape(mean, [B, 1, 2]),
        tf.mul(tf.exp(tf.mul(tf.reshape(logVar, [B, 1, 2]), 0.5)), eps),
      );
      const dec = lg.variables[3];
      const mu = tf.add(tf.matMul(tf.reshape(z, [B * k, 2]), dec), lg.variables[4]);
      const logp = tf.add(
        tf.reshape(gaussianLogPdf(tf.reshape(x, [B, 1, 4]), tf.reshape(mu, [B, k, 4]), Math.log(0.5)), [
          B,
          k,
        ]),
        standardNormalLogPdf(z),
      );
      const logq = gaussianLogPdf(z, tf.reshape(q0.mean, [B, 1, 2]), tf.reshape(q0.logVar, [B, 1, 2]));
      return tf.div(tf.neg(tf.sum(tf.mul(c, tf.sub(logp, logq)))), B) as tf.Scalar;
    });
  for (const i of [0, 1, 2]) {
    const fd = centralDifferences(ref, lg.variables[i], 1e-2);
    assert.ok(relErr(dreg[i], fd) < 2e-2, `encoder variable ${i}: rel err ${relErr(dreg[i], fd)}`);
    assert.ok(relErr(iwae[i], fd) > 0.05, 'the IWAE encoder gradient should differ from DReG’s');
  }
  tf.dispose([q0.mean, q0.logVar, logw0, c, x, eps]);
  lg.dispose();
});

test('DReG encoder gradient vanishes at the exact posterior (one and two stochastic layers); the standard one does not', () => {
  const W1 = orthogonalW();
  const W2 = mat(
    5,
    3,
    (i, j) =>
      [
        [1, 0, 0],
        [0, 2, 0],
        [0, 0, 1],
        [1, 0, 0],
        [-1, 0, 0],
      ][i][j],
  );
  const models = [
    { lg: linearGaussian1(W1, [0.5, -1, 0, 2, 1], 0.5, 'exact'), encVars: 3 },
    { lg: linearGaussian2(W2, [0.1, 0.2, 0, -0.1, 0.3], 0.5, 2, [0.3, -0.2, 0.1], 0.3, 'exact'), encVars: 6 },
  ];
  for (const { lg, encVars } of models) {
    const x = tf.tensor2d(lg.sample(4, new Rng(9)), [4, 5]);
    const g = (estimator: 'standard' | 'dreg') => {
      const { value, grads } = tf.variableGrads(
        () => objectiveLoss(lg.vae, x, { objective: 'iwae', k: 6, seed: 3, estimator }).loss,
        lg.variables,
      );
      value.dispose();
      const norms = lg.variables
        .slice(0, encVars)
        .map((v) => Math.max(...Array.from(grads[v.name].dataSync(), Math.abs)));
      tf.dispose(Object.values(grads));
      return Math.max(...norms);
    };
    assert.ok(g('dreg') < 2e-3, `DReG encoder gradient ${g('dreg')}`);
    assert.ok(g('standard') > 2e-2, `standard encoder gradient ${g('standard')}`);
    x.dispose();
    lg.dispose();
  }
});

test('objective options are checked', () => {
  const { lg, x, eps } = setup(4, 2, 2);
  assert.throws(
    () => objectiveLoss(lg.vae, x, { objective: 'vae', k: 2, estimator: 'dreg' }),
    /DReG estimator applies to the 'iwae'/,
  );
  assert.throws(
    () => objectiveLoss(lg.vae, x, { objective: 'iwae', k: 1.5 }),
    /k must be a positive integer/,
  );
  assert.throws(() => objectiveLoss(lg.vae, x, { objective: 'elbo' as 'vae', k: 2 }), /objective must be/);
  assert.throws(() => lg.vae.logWeights(x, 3, { noise: [eps] }), /noise\[0\] must have shape \[2, 3, 2\]/);
  tf.dispose([x, eps]);
  lg.dispose();
});

test('Bernoulli decoder (hand-written logit gradient): IWAE gradients match central differences', async () => {
  const { VAEModel } = await import('./build.js');
  const model = VAEModel.build(
    { dataDim: 6, latent: [2], hidden: [[5]], likelihood: 'bernoulli' },
    { seed: 3 },
  );
  const rng = new Rng(4);
  const x = tf.tensor2d(
    Float32Array.from({ length: 18 }, () => (rng.next() < 0.4 ? 1 : 0)),
    [3, 6],
  );
  const eps = tf.tensor3d(
    Float32Array.from({ length: 3 * 4 * 2 }, () => rng.normal()),
    [3, 4, 2],
  );
  const loss = () => objectiveLoss(model, x, { objective: 'iwae', k: 4, noise: [eps] }).loss;
  const params = [...model.namedParameters().values()];
  const { value, grads } = tf.variableGrads(loss, params);
  value.dispose();
  for (const v of params) {
    const fd = centralDifferences(loss, v, 1e-2);
    const err = relErr(grads[v.name].dataSync(), fd);
    assert.ok(err < 2e-2, `${v.name}: rel err ${err}`);
  }
  tf.dispose([x, eps, ...Object.values(grads)]);
  model.dispose();
});
