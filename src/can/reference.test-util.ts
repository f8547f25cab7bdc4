/**
 * The CAN algorithm exactly as the note states it, in plain float64 loops: for each uncertain row,
 * build Y = [confident rows; row] and alternate the normalisations. Slow on purpose; tests only.
 */
import { Rng } from '../util/rng.js';
import type { ProbMatrix } from './matrix.js';

export function directCan(
  p: ProbMatrix,
  prior: number[],
  topk: number,
  threshold: number,
  alpha: number,
  iters: number,
): Float64Array {
  const { rows, cols: k } = p;
  const row = (i: number) => Array.from(p.data.subarray(i * k, (i + 1) * k));
  const unc = (r: number[]) => {
    const top = [...r].sort((a, b) => b - a).slice(0, topk);
    const s = top.reduce((a, b) => a + b, 0);
    return -top.reduce((h, v) => (v > 0 ? h + (v / s) * Math.log(v / s) : h), 0) / Math.log(topk);
  };
  const isUncertain = Array.from({ length: rows }, (_, i) => unc(row(i)) >= threshold);
  const confident = Array.from({ length: rows }, (_, i) => i).filter((i) => !isUncertain[i]);
  const out = Float64Array.from(p.data);
  for (let u = 0; u < rows; u++) {
    if (!isUncertain[u]) continue;
    let Y = [...confident.map(row), row(u)];
    for (let t = 0; t < iters; t++) {
      Y = Y.map((r) => r.map((v) => Math.pow(v, alpha)));
      const colsum = Array.from({ length: k }, (_, j) => Y.reduce((s, r) => s + r[j], 0));
      Y = Y.map((r) => r.map((v, j) => (colsum[j] > 0 ? (v / colsum[j]) * prior[j] : 0)));
      Y = Y.map((r) => {
        const s = r.reduce((a, b) => a + b, 0);
        return r.map((v) => v / s);
      });
    }
    out.set(Y[Y.length - 1], u * k);
  }
  return out;
}

/** Random probabilities: softmax of Gaussian logits with a per-row temperature, so some rows are flat. */
export function randomProbs(rng: Rng, rows: number, cols: number, spread = 3): ProbMatrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const temp = spread * rng.next();
    let s = 0;
    for (let j = 0; j < cols; j++) s += data[i * cols + j] = Math.exp(temp * rng.normal());
    for (let j = 0; j < cols; j++) data[i * cols + j] /= s;
  }
  return { data, rows, cols };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
