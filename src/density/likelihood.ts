/**
 * Importance-sampled log-likelihood, log p̂(x) = log (1/k) Σⱼ wⱼ with zⱼ ~ q(z|x) (Burda et al. §5 use
 * k = 5000), computed in chunks of samples and of datapoints so memory stays bounded for any k and
 * any number of inputs: each chunk's log-sum-exp per datapoint is folded into a running float64
 * log-sum-exp on the host. Also returns the ELBO estimated from the same samples (mean of log wⱼ).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Noise, VAE } from './vae.js';

/** Rows of [B·chunk] samples processed at once by default (≈ a few tens of MB for MNIST-sized models). */
export const DEFAULT_MAX_ROWS = 20000;

/** Settings of `logLikelihood` and `boundsByK`: the number of samples, chunking, seed and progress. */
export interface LikelihoodOptions {
  /** Importance samples per datapoint (default 5000). */
  k?: number;
  /** Samples per pass (default: as many as fit in `maxRows` with the batch). */
  chunk?: number;
  /** Datapoints per pass (default: min(n, 100)). */
  batchSize?: number;
  /** Bound on batchSize × chunk (default DEFAULT_MAX_ROWS). */
  maxRows?: number;
  seed?: number;
  /** Fixed noise for datapoints [start, start+B) and samples [s, s+c) (tests): one [B, c, d_i] per layer. */
  noise?: (start: number, B: number, s: number, c: number) => Noise;
  /** Called after each pass with the fraction done. */
  onProgress?: (fraction: number) => void;
}

/** What `logLikelihood` returns: per-datapoint log p̂(x) and ELBO, and the mean NLL (nats and bits/dim). */
export interface LikelihoodResult {
  /** log p̂(x) per datapoint, nats. */
  logPx: Float64Array;
  /** ELBO per datapoint estimated from the same k samples (mean of log wⱼ), nats. */
  elbo: Float64Array;
  /** Mean negative log-likelihood, nats. */
  nll: number;
  /** Mean NLL in bits per dimension: nll / (D ln 2). */
  bitsPerDim: number;
  k: number;
}

/** Data as a [n, D] tensor or a flat row-major Float32Array. */
export type DataInput = tf.Tensor2D | Float32Array;

function rows(data: DataInput, dim: number): number {
  if (data instanceof Float32Array) {
    if (data.length % dim !== 0)
      throw new Error(`data length ${data.length} is not a multiple of dataDim ${dim}`);
    return data.length / dim;
  }
  if (data.rank !== 2 || data.shape[1] !== dim)
    throw new Error(`x must have shape [n, ${dim}], got [${data.shape.join(', ')}]`);
  return data.shape[0];
}

function slice(data: DataInput, start: number, count: number, dim: number): tf.Tensor2D {
  if (data instanceof Float32Array)
    return tf.tensor2d(data.subarray(start * dim, (start + count) * dim), [count, dim]);
  return tf.slice(data, [start, 0], [count, dim]);
}

/**
 * Throws unless every value is finite (and in [0, 1] for a Bernoulli decoder, whose log-likelihood of
 * other values is a number but not a log-probability). A tensor is read with `await data()`.
 */
export async function checkData(vae: VAE, data: DataInput): Promise<void> {
  checkValues(vae, data instanceof Float32Array ? data : await data.data());
}

/** `checkData` on values already in memory. */
export function checkValues(vae: VAE, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v))
      throw new Error(`x has a non-finite value (${v}) at row ${Math.floor(i / vae.dataDim)}`);
    if (vae.likelihood === 'bernoulli' && (v < 0 || v > 1)) {
      throw new Error(
        `x has ${v} at row ${Math.floor(i / vae.dataDim)}: a Bernoulli decoder needs values in [0, 1]`,
      );
    }
  }
}

/**
 * Visits every (datapoint block, sample chunk) pair and hands the chunk's log weights to `visit`
 * (as a [B, c] row-major Float32Array). Shared by logLikelihood and boundsByK.
 */
async function forEachChunk(
  vae: VAE,
  data: DataInput,
  o: LikelihoodOptions,
  visit: (start: number, B: number, s: number, c: number, logw: Float32Array) => void,
): Promise<{ n: number; k: number }> {
  const k = o.k ?? 5000;
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
  const n = rows(data, vae.dataDim);
  const maxRows = o.maxRows ?? DEFAULT_MAX_ROWS;
  const B = Math.max(1, Math.min(n, o.batchSize ?? 100, maxRows));
  const chunk = Math.max(1, Math.min(k, o.chunk ?? Math.floor(maxRows / B)));
  for (const [name, v] of [
    ['chunk', chunk],
    ['batchSize', B],
  ] as const) {
    if (!Number.isInteger(v)) throw new Error(`${name} must be a positive integer, got ${v}`);
  }
  let seed = o.seed ?? 0;
  const passes = Math.ceil(n / B) * Math.ceil(k / chunk);
  let done = 0;
  for (let start = 0; start < n; start += B) {
    const b = Math.min(B, n - start);
    const x = slice(data, start, b, vae.dataDim);
    try {
      for (let s = 0; s < k; s += chunk) {
        const c = Math.min(chunk, k - s);
        const noise = o.noise?.(start, b, s, c);
        try {
          const logw = vae.logWeights(x, c, { seed: seed++, noise });
          const values = (await logw.data()) as Float32Array;
          logw.dispose();
          visit(start, b, s, c, values);
        } finally {
          if (noise) tf.dispose(noise);
        }
        o.onProgress?.(++done / passes);
      }
    } finally {
      if (x !== data) x.dispose();
    }
  }
  return { n, k };
}

/**
 * log p̂(x) with k importance samples (default 5000) and the ELBO, per datapoint; see the module comment.
 *
 * @example
 * const r = await logLikelihood(vae, binarizeFixed(images), { k: 5000 });
 * r.nll; // mean −log p̂(x) in nats, e.g. 86.8 for a one-layer VAE on binarized MNIST
 * r.bitsPerDim;
 */
export async function logLikelihood(
  vae: VAE,
  data: DataInput,
  o: LikelihoodOptions = {},
): Promise<LikelihoodResult> {
  const n0 = rows(data, vae.dataDim);
  await checkData(vae, data);
  const kTotal = o.k ?? 5000;
  const max = new Float64Array(n0).fill(-Infinity);
  const sum = new Float64Array(n0); // Σ exp(log w − max), rescaled whenever max grows
  const mean = new Float64Array(n0);
  const { n, k } = await forEachChunk(vae, data, o, (start, B, _s, c, logw) => {
    for (let b = 0; b < B; b++) {
      const i = start + b;
      let m = max[i];
      for (let j = 0; j < c; j++) m = Math.max(m, logw[b * c + j]);
      if (!Number.isFinite(m)) throw new Error(`log weight is ${m} for datapoint ${i}`);
      let acc = max[i] === -Infinity ? 0 : sum[i] * Math.exp(max[i] - m);
      let tot = 0;
      for (let j = 0; j < c; j++) {
        acc += Math.exp(logw[b * c + j] - m);
        tot += logw[b * c + j];
      }
      max[i] = m;
      sum[i] = acc;
      mean[i] += tot / kTotal;
    }
  });
  const logPx = new Float64Array(n);
  let nll = 0;
  for (let i = 0; i < n; i++) {
    logPx[i] = max[i] + Math.log(sum[i]) - Math.log(k);
    nll -= logPx[i] / n;
  }
  return { logPx, elbo: mean, nll, bitsPerDim: nll / (vae.dataDim * Math.LN2), k };
}

/**
 * Unbiased estimates of L_k for several k from one set of kMax = max(ks) samples per datapoint: the
 * kMax log weights are split into kMax/k disjoint groups, L_k is the mean of the groups' log-mean-exp.
 * Every k must divide kMax. Returns the mean over datapoints for each k (nats), in the order of `ks`.
 *
 * @example
 * const [l1, l10, l100] = await boundsByK(vae, binarizeFixed(images), [1, 10, 100]);
 * // L₁ (the ELBO) ≤ L₁₀ ≤ L₁₀₀ ≤ log p(x), up to sampling noise
 */
export async function boundsByK(
  vae: VAE,
  data: DataInput,
  ks: number[],
  o: Omit<LikelihoodOptions, 'k'> = {},
): Promise<number[]> {
  const kMax = Math.max(...ks);
  if (ks.some((k) => !Number.isInteger(k) || k < 1 || kMax % k !== 0)) {
    throw new Error(`every k must be a positive integer dividing max(k) = ${kMax}, got [${ks}]`);
  }
  const n = rows(data, vae.dataDim);
  await checkData(vae, data);
  const B = Math.max(1, Math.min(n, o.batchSize ?? 100, o.maxRows ?? DEFAULT_MAX_ROWS));
  const totals = new Float64Array(ks.length);
  // Buffer one block of datapoints' kMax weights (B·kMax floats), then fold it into the totals.
  for (let start = 0; start < n; start += B) {
    const b = Math.min(B, n - start);
    const block = new Float64Array(b * kMax);
    const part =
      data instanceof Float32Array
        ? data.subarray(start * vae.dataDim, (start + b) * vae.dataDim)
        : tf.slice(data, [start, 0], [b, vae.dataDim]);
    try {
      await forEachChunk(
        vae,
        part,
        { ...o, k: kMax, batchSize: b, seed: (o.seed ?? 0) + start * 7919 },
        (_st, bb, s, c, logw) => {
          for (let r = 0; r < bb; r++) for (let j = 0; j < c; j++) block[r * kMax + s + j] = logw[r * c + j];
        },
      );
    } finally {
      if (!(part instanceof Float32Array)) part.dispose();
    }
    ks.forEach((k, t) => {
      for (let r = 0; r < b; r++) {
        for (let g = 0; g < kMax; g += k) {
          let m = -Infinity;
          for (let j = 0; j < k; j++) m = Math.max(m, block[r * kMax + g + j]);
          let s = 0;
          for (let j = 0; j < k; j++) s += Math.exp(block[r * kMax + g + j] - m);
          totals[t] += (m + Math.log(s / k)) / (kMax / k) / n;
        }
      }
    });
  }
  return [...totals];
}
