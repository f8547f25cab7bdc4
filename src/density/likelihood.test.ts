/**
 * The estimator against exact log p(x) of linear-Gaussian VAEs, the ordering of the bounds, chunking,
 * per-datapoint log-mean-exp, and the log-density primitives against float64 formulas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { bernoulliLogPmf, gaussianLogPdf, logMeanExp, standardNormalLogPdf } from './distributions.js';
import { boundsByK, logLikelihood } from './likelihood.js';
import { bound } from './objectives.js';
import { linearGaussian1, linearGaussian2, mat, orthogonalW } from './linear-gaussian.test-util.js';
import { VAETrainer } from './trainer.js';
import { VAE } from './vae.js';

await initBackend({ quiet: true });

const rngMat = (r: number, c: number, seed: number, s = 1) => {
  const rng = new Rng(seed);
  return mat(r, c, () => s * rng.normal());
};
const mean = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0) / a.length;

test('log-densities match their float64 formulas (|Δ| < 1e-4)', () => {
  const rng = new Rng(1);
  const x = Array.from({ length: 12 }, () => rng.normal());
  const m = Array.from({ length: 12 }, () => rng.normal());
  const lv = Array.from({ length: 12 }, () => rng.normal());
  const l = Array.from({ length: 12 }, () => 30 * rng.normal()); // large logits: the stable form matters
  const xb: number[] = Array.from({ length: 12 }, () => (rng.next() < 0.5 ? 1 : 0));
  const refG = [0, 6].map((o) =>
    x
      .slice(o, o + 6)
      .reduce(
        (s, xi, i) =>
          s - 0.5 * (Math.log(2 * Math.PI) + lv[o + i] + (xi - m[o + i]) ** 2 / Math.exp(lv[o + i])),
        0,
      ),
  );
  const refN = [0, 6].map((o) =>
    x.slice(o, o + 6).reduce((s, xi) => s - 0.5 * (Math.log(2 * Math.PI) + xi * xi), 0),
  );
  const refB = [0, 6].map((o) =>
    xb.slice(o, o + 6).reduce((s, xi, i) => {
      const li = l[o + i];
      const logSig = li >= 0 ? -Math.log1p(Math.exp(-li)) : li - Math.log1p(Math.exp(li));
      const log1mSig = li >= 0 ? -li - Math.log1p(Math.exp(-li)) : -Math.log1p(Math.exp(li));
      return s + (xi ? logSig : log1mSig);
    }, 0),
  );
  const t = (a: number[]) => tf.tensor2d(a, [2, 6]);
  const close = (got: tf.Tensor, ref: number[]) => {
    const g = got.dataSync();
    ref.forEach((r, i) => assert.ok(Math.abs(g[i] - r) < 1e-4 * Math.max(1, Math.abs(r)), `${g[i]} vs ${r}`));
    got.dispose();
  };
  close(gaussianLogPdf(t(x), t(m), t(lv)), refG);
  close(standardNormalLogPdf(t(x)), refN);
  close(bernoulliLogPmf(t(xb), t(l)), refB);
  // log-mean-exp of values near −1000 (exp underflows without the max shift).
  close(logMeanExp(tf.tensor2d([-1000, -1001, -1002, 5, 5, 5], [2, 3]), 1), [
    -1000 + Math.log((1 + Math.exp(-1) + Math.exp(-2)) / 3),
    5,
  ]);
});

test('with the exact posterior every log weight equals log p(x) (|Δ| < 2e-4 nats)', () => {
  // Orthogonal columns make p(z|x) diagonal, so the diagonal encoder is exact and w ≡ p(x).
  const W = orthogonalW();
  const lg = linearGaussian1(W, [0.5, -1, 0, 2, 1], 0.5, 'exact');
  const x = lg.sample(8, new Rng(3));
  const exact = lg.exact(x);
  const logw = lg.vae.logWeights(tf.tensor2d(x, [8, 5]), 16, { seed: 4 });
  const a = logw.dataSync();
  for (let n = 0; n < 8; n++)
    for (let j = 0; j < 16; j++)
      assert.ok(Math.abs(a[n * 16 + j] - exact[n]) < 2e-4, `${a[n * 16 + j]} vs ${exact[n]}`);
  logw.dispose();
  lg.dispose();
});

test('one stochastic layer: log p̂(x) converges to the exact log p(x); at k = 5000 the mean error is < 0.01 nats', async () => {
  const lg = linearGaussian1(rngMat(6, 2, 11), [0.3, -0.2, 0.1, 0, 0.5, -0.4], 0.3, 'approx');
  const n = 40;
  const x = lg.sample(n, new Rng(12));
  const exact = lg.exact(x);
  const errs: number[] = [];
  for (const k of [1, 50, 5000]) {
    const r = await logLikelihood(lg.vae, x, { k, seed: 5 });
    errs.push(mean(exact) - mean(r.logPx));
    if (k === 5000) {
      // ELBO (mean log w) from the same samples is strictly below log p̂ and log p.
      assert.ok(mean(r.elbo) < mean(r.logPx) - 0.05);
      for (let i = 0; i < n; i++)
        assert.ok(Math.abs(r.logPx[i] - exact[i]) < 0.05, `datapoint ${i}: ${r.logPx[i]} vs ${exact[i]}`);
    }
  }
  assert.ok(errs[0] > 0.1, `the ELBO gap should be visible: ${errs}`);
  assert.ok(Math.abs(errs[2]) < 0.01, `k=5000 mean error ${errs[2]}`);
  assert.ok(
    Math.abs(errs[2]) < Math.abs(errs[1]) && Math.abs(errs[1]) < errs[0],
    `errors should shrink with k: ${errs}`,
  );
  lg.dispose();
});

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

test('two stochastic layers, exact posteriors: every log weight equals log p(x) (|Δ| < 2e-4 nats)', () => {
  const lg = linearGaussian2(W2, [0.1, 0.2, 0, -0.1, 0.3], 0.5, 2, [0.3, -0.2, 0.1], 0.3, 'exact');
  const x = lg.sample(6, new Rng(24));
  const exact = lg.exact(x);
  const logw = lg.vae.logWeights(tf.tensor2d(x, [6, 5]), 10, { seed: 2 }).dataSync();
  for (let n = 0; n < 6; n++)
    for (let j = 0; j < 10; j++)
      assert.ok(Math.abs(logw[n * 10 + j] - exact[n]) < 2e-4, `${logw[n * 10 + j]} vs ${exact[n]}`);
  lg.dispose();
});

test('two stochastic layers: log p̂(x) at k = 5000 is within 0.02 nats of the exact marginal on average', async () => {
  const lg = linearGaussian2(W2, [0.1, 0.2, 0, -0.1, 0.3], 0.5, 2, [0.3, -0.2, 0.1], 0.3, 'approx');
  const x = lg.sample(30, new Rng(23));
  const exact = lg.exact(x);
  const elbo = mean(bound(lg.vae, tf.tensor2d(x, [30, 5]), { objective: 'vae', k: 200, seed: 1 }).dataSync());
  const r = await logLikelihood(lg.vae, x, { k: 5000, seed: 6 });
  assert.ok(mean(exact) - elbo > 0.1, `ELBO gap ${mean(exact) - elbo}`);
  assert.ok(Math.abs(mean(r.logPx) - mean(exact)) < 0.02, `${mean(r.logPx)} vs ${mean(exact)}`);
  lg.dispose();
});

test('bounds are ordered L₁ ≤ L₅ ≤ L₅₀ ≤ log p(x) on average', async () => {
  const lg = linearGaussian1(rngMat(6, 3, 31), [0, 0, 0, 1, 1, 1], 0.2, 'approx');
  const x = lg.sample(100, new Rng(32));
  const exact = mean(lg.exact(x));
  const [l1, l5, l50] = await boundsByK(lg.vae, x, [1, 5, 50], { seed: 7 });
  assert.ok(l1 < l5 && l5 < l50 && l50 <= exact + 0.005, `L1 ${l1}, L5 ${l5}, L50 ${l50}, log p ${exact}`);
  lg.dispose();
});

test('chunked scoring equals unchunked scoring with the same noise (|Δ| < 1e-4), and leaks nothing', async () => {
  const lg = linearGaussian1(rngMat(4, 2, 41), [0, 1, 0, -1], 0.5, 'approx');
  const n = 7;
  const k = 60;
  const x = lg.sample(n, new Rng(42));
  const rng = new Rng(43);
  const eps = Float32Array.from({ length: n * k * 2 }, () => rng.normal());
  const noise = (start: number, B: number, s: number, c: number) => {
    const out = new Float32Array(B * c * 2);
    for (let b = 0; b < B; b++)
      for (let j = 0; j < c; j++)
        for (let t = 0; t < 2; t++) out[(b * c + j) * 2 + t] = eps[((start + b) * k + s + j) * 2 + t];
    return [tf.tensor3d(out, [B, c, 2])];
  };
  const before = tf.memory().numTensors;
  const whole = await logLikelihood(lg.vae, x, { k, noise, batchSize: n, chunk: k });
  const chunked = await logLikelihood(lg.vae, x, { k, noise, batchSize: 3, chunk: 7 });
  const single = await logLikelihood(lg.vae, x, { k, noise, batchSize: 1, chunk: 1 });
  assert.equal(tf.memory().numTensors, before);
  for (let i = 0; i < n; i++) {
    assert.ok(
      Math.abs(whole.logPx[i] - chunked.logPx[i]) < 1e-4 && Math.abs(whole.logPx[i] - single.logPx[i]) < 1e-4,
    );
    assert.ok(Math.abs(whole.elbo[i] - chunked.elbo[i]) < 1e-4);
  }
  lg.dispose();
});

test('the log-mean-exp runs over each datapoint’s own samples, never across the batch', async () => {
  const lg = linearGaussian1(rngMat(4, 2, 51), [0, 0, 0, 0], 0.5, 'approx');
  // One datapoint far away (log w ≈ −10⁴) beside ordinary ones: a batch-wide log-sum-exp would drown it.
  const x = Float32Array.from([0.1, 0.2, -0.1, 0, 80, -90, 70, 100, 0.3, -0.2, 0.1, 0.4]);
  const k = 20;
  const rng = new Rng(52);
  const eps = tf.tensor3d(
    Float32Array.from({ length: 3 * k * 2 }, () => rng.normal()),
    [3, k, 2],
  );
  const together = bound(lg.vae, tf.tensor2d(x, [3, 4]), { objective: 'iwae', k, noise: [eps] }).dataSync();
  for (let i = 0; i < 3; i++) {
    const e = tf.slice(eps, [i, 0, 0], [1, k, 2]);
    const alone = bound(lg.vae, tf.tensor2d(x.subarray(4 * i, 4 * i + 4), [1, 4]), {
      objective: 'iwae',
      k,
      noise: [e],
    }).dataSync()[0];
    assert.ok(
      Math.abs(together[i] - alone) < 1e-3 * Math.max(1, Math.abs(alone)),
      `datapoint ${i}: ${together[i]} vs ${alone}`,
    );
    e.dispose();
  }
  assert.ok(together[1] < -1000 && Number.isFinite(together[1]));
  eps.dispose();
  lg.dispose();
});

test('bad inputs are clear errors', async () => {
  const lg = linearGaussian1(rngMat(4, 2, 61), [0, 0, 0, 0], 0.5, 'approx');
  await assert.rejects(logLikelihood(lg.vae, new Float32Array(8), { k: 0 }), /k must be a positive integer/);
  await assert.rejects(logLikelihood(lg.vae, new Float32Array(7)), /not a multiple of dataDim 4/);
  assert.throws(() => lg.vae.logWeights(tf.zeros([2, 3]) as tf.Tensor2D, 2), /shape \[batch, 4\]/);
  await assert.rejects(boundsByK(lg.vae, new Float32Array(8), [3, 5]), /dividing max/);
  lg.dispose();
});

test('Gaussian decoder variants agree: learned log-variance, variance from the decoder output, fixed variance', () => {
  const rng = new Rng(71);
  const A = tf.tensor2d(
    Float32Array.from({ length: 8 }, () => rng.normal()),
    [4, 2],
  );
  const Wd = tf.tensor2d(
    Float32Array.from({ length: 8 }, () => rng.normal()),
    [2, 4],
  );
  const enc = (x: tf.Tensor2D) =>
    tf.tidy(() => tf.concat([tf.matMul(x, A), tf.fill([x.shape[0], 2], -1)], 1));
  const mean = (z: tf.Tensor2D) => tf.matMul(z, Wd);
  const withLogVar = (z: tf.Tensor2D) =>
    tf.tidy(() => tf.concat([tf.matMul(z, Wd), tf.fill([z.shape[0], 4], Math.log(0.3))], 1));
  const fixed = new VAE({
    dataDim: 4,
    latentDims: [2],
    encoders: [enc],
    decoders: [mean],
    likelihood: 'gaussian',
    variance: 0.3,
  });
  const learned = new VAE({
    dataDim: 4,
    latentDims: [2],
    encoders: [enc],
    decoders: [mean],
    likelihood: 'gaussian',
    variance: 'learned',
  });
  learned.decoderLogVar!.assign(tf.fill([4], Math.log(0.3)));
  const output = new VAE({
    dataDim: 4,
    latentDims: [2],
    encoders: [enc],
    decoders: [withLogVar],
    likelihood: 'gaussian',
    variance: 'output',
  });
  assert.equal(learned.variables.length, 1); // the learned variance is the VAE's own variable
  const x = tf.tensor2d(
    Float32Array.from({ length: 12 }, () => rng.normal()),
    [3, 4],
  );
  const noise = [
    tf.tensor3d(
      Float32Array.from({ length: 3 * 5 * 2 }, () => rng.normal()),
      [3, 5, 2],
    ),
  ];
  const ref = fixed.logWeights(x, 5, { noise }).dataSync();
  for (const v of [learned, output]) {
    const got = v.logWeights(x, 5, { noise }).dataSync();
    ref.forEach((r, i) => assert.ok(Math.abs(got[i] - r) < 1e-4, `${got[i]} vs ${r}`));
  }
  assert.throws(
    () =>
      new VAE({
        dataDim: 4,
        latentDims: [2],
        encoders: [enc],
        decoders: [mean],
        likelihood: 'gaussian',
        variance: 'output',
      }).logWeights(x, 2),
    /decoder 0 must return \[6, 8\]/,
  );
  learned.dispose();
  tf.dispose([A, Wd, x, ...noise]);
});

test('logLikelihood, boundsByK and VAETrainer refuse data a Bernoulli decoder cannot score, naming the row', async () => {
  const enc = (x: tf.Tensor2D) => tf.tidy(() => tf.concat([x, tf.zeros([x.shape[0], 2])], 1));
  const vae = new VAE({ dataDim: 2, latentDims: [2], encoders: [enc], decoders: [(z: tf.Tensor2D) => z] });
  const good = Float32Array.from([0, 1, 0.5, 0.25]);
  assert.equal((await logLikelihood(vae, good, { k: 4 })).logPx.length, 2);
  for (const [bad, pattern] of [
    [Float32Array.from([0, 1, 0.5, 2]), /x has 2 at row 1: a Bernoulli decoder needs values in \[0, 1\]/],
    [Float32Array.from([0, NaN, 0.5, 0.5]), /x has a non-finite value \(NaN\) at row 0/],
  ] as const) {
    await assert.rejects(logLikelihood(vae, bad, { k: 4 }), pattern);
    const t = tf.tensor2d(bad, [2, 2]);
    await assert.rejects(logLikelihood(vae, t, { k: 4 }), pattern);
    await assert.rejects(boundsByK(vae, t, [1, 2]), pattern);
    t.dispose();
    assert.throws(() => new VAETrainer(vae, bad, { objective: 'vae', k: 1, epochs: 1 }), pattern);
  }
  vae.dispose();
});
