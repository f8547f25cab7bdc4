/**
 * A plain-JavaScript (float64) forward pass of the encoder, written from the definitions rather than
 * from the TF.js code, to check the TF.js model against. Tiny models only.
 */
import type { Encoder } from './model.js';
import { erf } from '../nn/init.js';

type Mat = number[][];

function weights(model: Encoder): Map<string, { shape: number[]; data: number[] }> {
  const out = new Map<string, { shape: number[]; data: number[] }>();
  for (const [n, v] of model.namedParameters())
    out.set(n, { shape: v.shape, data: Array.from(v.dataSync()) });
  return out;
}

function matrix(w: { shape: number[]; data: number[] }): Mat {
  const [r, c] = w.shape;
  return Array.from({ length: r }, (_, i) => w.data.slice(i * c, (i + 1) * c));
}

const matmul = (a: Mat, b: Mat): Mat =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, x, k) => s + x * b[k][j], 0)));
const addVec = (a: Mat, v: number[]): Mat => a.map((row) => row.map((x, j) => x + v[j]));
const add = (a: Mat, b: Mat): Mat => a.map((row, i) => row.map((x, j) => x + b[i][j]));
const geluJs = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

function layerNorm(x: Mat, g: number[], b: number[], eps: number): Mat {
  return x.map((row) => {
    const mu = row.reduce((s, v) => s + v, 0) / row.length;
    const varc = row.reduce((s, v) => s + (v - mu) ** 2, 0) / row.length;
    return row.map((v, j) => ((v - mu) / Math.sqrt(varc + eps)) * g[j] + b[j]);
  });
}

function rope(x: number[], pos: number, base: number): number[] {
  const d = x.length;
  const out = [...x];
  for (let i = 0; i < d / 2; i++) {
    const a = pos * Math.pow(base, (-2 * i) / d);
    out[2 * i] = x[2 * i] * Math.cos(a) - x[2 * i + 1] * Math.sin(a);
    out[2 * i + 1] = x[2 * i + 1] * Math.cos(a) + x[2 * i] * Math.sin(a);
  }
  return out;
}

/** Final hidden states [N, H] of one sequence (no padding beyond `mask`), and MLM logits [N, V]. */
export function referenceForward(model: Encoder, ids: number[], mask: number[]): { last: Mat; logits: Mat } {
  const c = model.config;
  const w = weights(model);
  const vec = (n: string) => w.get(n)!.data;
  const mat = (n: string) => matrix(w.get(n)!);
  const dense = (x: Mat, p: string) => addVec(matmul(x, mat(`${p}.kernel`)), vec(`${p}.bias`));
  const ln = (x: Mat, p: string) => layerNorm(x, vec(`${p}.gamma`), vec(`${p}.beta`), c.layerNormEps);
  const word = mat('embeddings.word.table');
  let x: Mat = ids.map((id, i) => {
    let e = [...word[id]];
    if (c.position === 'learned') e = e.map((v, j) => v + mat('embeddings.position.table')[i][j]);
    if (c.typeVocabSize > 0) e = e.map((v, j) => v + mat('embeddings.type.table')[0][j]);
    return e;
  });
  x = ln(x, 'embeddings.norm');
  const d = c.hidden / c.heads;
  const attention = (h: Mat, p: string): Mat => {
    const q = dense(h, `${p}.query`);
    const k = dense(h, `${p}.key`);
    const v = dense(h, `${p}.value`);
    const ctx: Mat = h.map(() => new Array(c.hidden).fill(0));
    for (let head = 0; head < c.heads; head++) {
      const sl = (r: number[], i: number) => {
        const s = r.slice(head * d, (head + 1) * d);
        return c.position === 'rope' ? rope(s, i, c.ropeBase) : s;
      };
      for (let i = 0; i < h.length; i++) {
        const qi = sl(q[i], i);
        const scores = k.map((kr, j) =>
          mask[j] ? sl(kr, j).reduce((s, kv, t) => s + kv * qi[t], 0) / Math.sqrt(d) : -Infinity,
        );
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const z = e.reduce((s, t) => s + t, 0);
        for (let j = 0; j < h.length; j++) {
          for (let t = 0; t < d; t++) ctx[i][head * d + t] += (e[j] / z) * v[j][head * d + t];
        }
      }
    }
    return dense(ctx, `${p}.output`);
  };
  const ffn = (h: Mat, p: string) =>
    dense(
      dense(h, `${p}.inner`).map((r) => r.map(geluJs)),
      `${p}.outer`,
    );
  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}`;
    if (c.norm === 'post') {
      x = ln(add(x, attention(x, `${p}.attention`)), `${p}.attentionNorm`);
      x = ln(add(x, ffn(x, `${p}.ffn`)), `${p}.ffnNorm`);
    } else {
      x = add(x, attention(ln(x, `${p}.attentionNorm`), `${p}.attention`));
      x = add(x, ffn(ln(x, `${p}.ffnNorm`), `${p}.ffn`));
    }
  }
  if (c.norm === 'pre') x = ln(x, 'finalNorm');
  const t = ln(
    dense(x, 'mlm.dense').map((r) => r.map(geluJs)),
    'mlm.norm',
  );
  const logits = addVec(
    t.map((r) => word.map((wr) => wr.reduce((s, v, j) => s + v * r[j], 0))),
    vec('mlm.bias'),
  );
  return { last: x, logits };
}
