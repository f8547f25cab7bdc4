/**
 * A linear-Gaussian VAE whose marginal is known exactly: z ~ N(0, I_d), x | z ~ N(Wz + b, σ²I), so
 * x ~ N(b, WWᵀ + σ²I). The encoder is linear with a per-dimension log-variance; `exactPosterior`
 * gives the true p(z|x) when WᵀW is diagonal (then every importance weight equals p(x)).
 * Also a two-layer version: z₂ ~ N(0, I), z₁ | z₂ ~ N(Vz₂ + c, τ²I), x | z₁ ~ N(Wz₁ + b, σ²I).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VAE } from './vae.js';
import { Rng } from '../util/rng.js';

/** Row-major matrix helpers in float64. */
export type Mat = { r: number; c: number; a: Float64Array };
export const mat = (r: number, c: number, f: (i: number, j: number) => number): Mat => ({
  r,
  c,
  a: Float64Array.from({ length: r * c }, (_, t) => f(Math.floor(t / c), t % c)),
});
export const mm = (x: Mat, y: Mat): Mat =>
  mat(x.r, y.c, (i, j) => {
    let s = 0;
    for (let t = 0; t < x.c; t++) s += x.a[i * x.c + t] * y.a[t * y.c + j];
    return s;
  });
/** A matrix from its rows. */
export const fromRows = (rows: number[][]): Mat => mat(rows.length, rows[0].length, (i, j) => rows[i][j]);

/**
 * W (5 × 2) with orthogonal columns: p(z|x) of the linear-Gaussian model is then diagonal, so a
 * diagonal-Gaussian encoder can be the exact posterior.
 */
export const orthogonalW = (): Mat =>
  fromRows([
    [1, 0],
    [0, 2],
    [1, 0],
    [0, -1],
    [-1, 0],
  ]);

export const tr = (x: Mat): Mat => mat(x.c, x.r, (i, j) => x.a[j * x.c + i]);

/** log N(x; mean, S) by Cholesky, float64. */
export function mvnLogPdf(x: ArrayLike<number>, mean: ArrayLike<number>, S: Mat): number {
  const n = S.r;
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = S.a[i * n + j];
      for (let t = 0; t < j; t++) s -= L[i * n + t] * L[j * n + t];
      L[i * n + j] = i === j ? Math.sqrt(s) : s / L[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = x[i] - mean[i];
    for (let t = 0; t < i; t++) s -= L[i * n + t] * y[t];
    y[i] = s / L[i * n + i];
  }
  let logDet = 0;
  let quad = 0;
  for (let i = 0; i < n; i++) {
    logDet += 2 * Math.log(L[i * n + i]);
    quad += y[i] * y[i];
  }
  return -0.5 * (n * Math.log(2 * Math.PI) + logDet + quad);
}

const f32 = (m: Mat) => tf.tensor2d(Float32Array.from(m.a), [m.r, m.c]);

/** A linear encoder x ↦ [x·A + c, logVar]: trainable variables A [in, d], c [d], logVar [d]. */
export function linearGaussianNet(A: Mat, c: number[], logVar: number[]) {
  const vA = tf.variable(f32(A));
  const vc = tf.variable(tf.tensor1d(c));
  const vlv = tf.variable(tf.tensor1d(logVar));
  const net = (x: tf.Tensor2D) =>
    tf.tidy(() =>
      tf.concat([tf.add(tf.matMul(x, vA), vc), tf.tile(tf.reshape(vlv, [1, -1]), [x.shape[0], 1])], 1),
    );
  return { net, variables: [vA, vc, vlv] };
}

export interface LinearGaussian {
  vae: VAE;
  /** Exact log p(x) for row-major data. */
  exact(x: Float32Array): Float64Array;
  sample(n: number, rng: Rng): Float32Array;
  variables: tf.Variable[];
  dispose(): void;
}

/**
 * One stochastic layer. `posterior`: 'exact' (requires WᵀW diagonal, so p(z|x) is diagonal) or a
 * deliberately imperfect diagonal Gaussian (mean scaled by 0.9, log-variance + 0.3).
 */
export function linearGaussian1(
  W: Mat,
  b: number[],
  sigma2: number,
  posterior: 'exact' | 'approx',
): LinearGaussian {
  const D = W.r;
  const d = W.c;
  // p(z|x) = N(Σ Wᵀ(x − b)/σ², Σ), Σ = (I + WᵀW/σ²)⁻¹; with the diagonal of WᵀW only (exact when diagonal).
  const WtW = mm(tr(W), W);
  const post = Array.from({ length: d }, (_, j) => 1 / (1 + WtW.a[j * d + j] / sigma2));
  const scale = posterior === 'exact' ? 1 : 0.9;
  const A = mat(D, d, (i, j) => (scale * W.a[i * d + j] * post[j]) / sigma2);
  const c = Array.from({ length: d }, (_, j) => -b.reduce((s, bi, i) => s + bi * A.a[i * d + j], 0));
  const lv = post.map((p) => Math.log(p) + (posterior === 'exact' ? 0 : 0.3));
  const enc = linearGaussianNet(A, c, lv);
  const vW = tf.variable(f32(tr(W)));
  const vb = tf.variable(tf.tensor1d(b));
  const dec = (z: tf.Tensor2D) => tf.tidy(() => tf.add(tf.matMul(z, vW), vb));
  const vae = new VAE({
    dataDim: D,
    latentDims: [d],
    encoders: [enc.net],
    decoders: [dec],
    likelihood: 'gaussian',
    variance: sigma2,
    variables: [...enc.variables, vW, vb],
  });
  const S = mm(W, tr(W));
  for (let i = 0; i < D; i++) S.a[i * D + i] += sigma2;
  return {
    vae,
    variables: [...enc.variables, vW, vb],
    exact: (x) =>
      Float64Array.from({ length: x.length / D }, (_, n) => mvnLogPdf(x.subarray(n * D, (n + 1) * D), b, S)),
    sample: (n, rng) => {
      const out = new Float32Array(n * D);
      for (let t = 0; t < n; t++) {
        const z = Array.from({ length: d }, () => rng.normal());
        for (let i = 0; i < D; i++) {
          let s = b[i] + Math.sqrt(sigma2) * rng.normal();
          for (let j = 0; j < d; j++) s += W.a[i * d + j] * z[j];
          out[t * D + i] = s;
        }
      }
      return out;
    },
    dispose: () => {
      vae.dispose();
      tf.dispose([...enc.variables, vW, vb]);
    },
  };
}

/**
 * Two stochastic layers with W [D, d₁] having orthogonal columns and V = [I_{d₂}; 0] (d₁ ≥ d₂), so both
 * p(z₁|x) and p(z₂|z₁) are diagonal Gaussians and the linear encoders can be exact; 'approx' scales the
 * means by 0.9 and adds 0.3 to the log-variances.
 */
export function linearGaussian2(
  W: Mat,
  b: number[],
  sigma2: number,
  d2: number,
  c: number[],
  tau2: number,
  posterior: 'exact' | 'approx',
): LinearGaussian {
  const D = W.r;
  const d1 = W.c;
  const V = mat(d1, d2, (i, j) => (i === j ? 1 : 0));
  const scale = posterior === 'exact' ? 1 : 0.9;
  const widen = posterior === 'exact' ? 0 : 0.3;
  // p(z₁|x): precision C₁⁻¹ + WᵀW/σ² with C₁ = VVᵀ + τ²I (diagonal), mean S₁(C₁⁻¹c + Wᵀ(x − b)/σ²).
  const C1 = Array.from({ length: d1 }, (_, j) => (j < d2 ? 1 : 0) + tau2);
  const WtW = mm(tr(W), W);
  const S1 = C1.map((v, j) => 1 / (1 / v + WtW.a[j * d1 + j] / sigma2));
  const A1 = mat(D, d1, (i, j) => (scale * S1[j] * W.a[i * d1 + j]) / sigma2);
  const c1 = S1.map(
    (s, j) => scale * s * (c[j] / C1[j] - b.reduce((t, bi, i) => t + bi * W.a[i * d1 + j], 0) / sigma2),
  );
  const enc1 = linearGaussianNet(
    A1,
    c1,
    S1.map((s) => Math.log(s) + widen),
  );
  // p(z₂|z₁): precision I + VᵀV/τ², mean S₂Vᵀ(z₁ − c)/τ².
  const s2 = 1 / (1 + 1 / tau2);
  const A2 = mat(d1, d2, (i, j) => (scale * s2 * V.a[i * d2 + j]) / tau2);
  const c2 = Array.from({ length: d2 }, (_, j) => -c.reduce((t, ci, i) => t + ci * A2.a[i * d2 + j], 0));
  const enc2 = linearGaussianNet(A2, c2, Array(d2).fill(Math.log(s2) + widen));
  const vW = tf.variable(f32(tr(W)));
  const vb = tf.variable(tf.tensor1d(b));
  const vV = tf.variable(f32(tr(V)));
  const vc = tf.variable(tf.tensor1d(c));
  const dec0 = (z: tf.Tensor2D) => tf.tidy(() => tf.add(tf.matMul(z, vW), vb));
  const dec1 = (z: tf.Tensor2D) =>
    tf.tidy(() => tf.concat([tf.add(tf.matMul(z, vV), vc), tf.fill([z.shape[0], d1], Math.log(tau2))], 1));
  const variables = [...enc1.variables, ...enc2.variables, vW, vb, vV, vc];
  const vae = new VAE({
    dataDim: D,
    latentDims: [d1, d2],
    encoders: [enc1.net, enc2.net],
    decoders: [dec0, dec1],
    likelihood: 'gaussian',
    variance: sigma2,
    variables,
  });
  // x ~ N(Wc + b, W(VVᵀ + τ²I)Wᵀ + σ²I)
  const S = mm(
    mm(
      W,
      mat(d1, d1, (i, j) => (i === j ? C1[i] : 0)),
    ),
    tr(W),
  );
  for (let i = 0; i < D; i++) S.a[i * D + i] += sigma2;
  const mean = Array.from(
    { length: D },
    (_, i) => b[i] + c.reduce((s, cj, j) => s + W.a[i * d1 + j] * cj, 0),
  );
  return {
    vae,
    variables,
    exact: (x) =>
      Float64Array.from({ length: x.length / D }, (_, n) =>
        mvnLogPdf(x.subarray(n * D, (n + 1) * D), mean, S),
      ),
    sample: (n, rng) => {
      const out = new Float32Array(n * D);
      for (let t = 0; t < n; t++) {
        const z2 = Array.from({ length: d2 }, () => rng.normal());
        const z1 = Array.from(
          { length: d1 },
          (_, j) => c[j] + Math.sqrt(tau2) * rng.normal() + (j < d2 ? z2[j] : 0),
        );
        for (let i = 0; i < D; i++)
          out[t * D + i] =
            b[i] + Math.sqrt(sigma2) * rng.normal() + z1.reduce((s, v, j) => s + W.a[i * d1 + j] * v, 0);
      }
      return out;
    },
    dispose: () => {
      vae.dispose();
      tf.dispose(variables);
    },
  };
}
