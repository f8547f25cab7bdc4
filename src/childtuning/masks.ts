/**
 * The masks of ChildTuning (Xu et al. 2021; https://kexue.fm/archives/8764): Bernoulli(p) masks drawn
 * afresh per step for ChildTuning-F and update dropout, and the fixed top-p Fisher mask of
 * ChildTuning-D. Random masks are seeded by (seed, step, parameter name), so a run is reproducible and a
 * resumed run draws the same masks as an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';
import { Rng } from '../util/rng.js';
import { BERNOULLI, bernoulli } from '../nn/random.js';

/** FNV-1a hash of a string: parameter names → stable integers (independent of iteration order). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit seed mixed from the run seed, the step and the parameter name (murmur3's finaliser). */
export function maskSeed(seed: number, step: number, name: string): number {
  let h = (seed >>> 0) ^ Math.imul(step + 1, 0x9e3779b1) ^ hashString(name);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Checks a keep probability: 0 < p ≤ 1. */
export function checkKeep(p: number): void {
  if (!(typeof p === 'number' && p > 0 && p <= 1))
    throw new Error(`ChildTuning keep probability p must be in (0, 1], got ${p}`);
}

/**
 * A Bernoulli(p) mask shaped like `shape`: each element is `value` with probability p, else 0. Where the
 * backend has kexue's Bernoulli kernel (aten) it is one native call, else it is drawn in JS from
 * `Rng(seed)` (about 14 ms per million elements: some 1.5 s a step for BERT-base's 110M). Either way the
 * same seed gives the same mask on a backend; the two draws differ. Throws unless 0 < p ≤ 1.
 *
 * @example
 * const m = bernoulliMask([2, 3], 0.3, 42); // float32 0/1, about 30% ones
 * const scaled = bernoulliMask([2, 3], 0.3, 42, 1 / 0.3); // the same positions, kept entries 1/p
 */
export function bernoulliMask(shape: number[], p: number, seed: number, value = 1): tf.Tensor {
  checkKeep(p);
  if (tf.getKernel(BERNOULLI, tf.getBackend()))
    return tf.tidy(() => {
      const m = bernoulli(tf.fill(shape, p), seed);
      return value === 1 ? m : tf.mul(m, value);
    });
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) if (rng.next() < p) out[i] = value;
  return tf.tensor(out, shape, 'float32');
}

/** Which parameters ChildTuning-D may mask (by name). */
export type NameFilter = (name: string) => boolean;

/**
 * The default candidates of ChildTuning-D: parameters of the Transformer blocks ("layers.3.…" in a
 * kexue Encoder, "encoder.layer.3.…" in Hugging Face naming), as the reference masks only names
 * containing "layer"; embeddings, pooler and task head always update.
 */
export const encoderBlocks: NameFilter = (name) => /(^|[./_])layers?[._/]\d+([._/]|$)/.test(name);

/** Settings of `fisherMask`. */
export interface FisherMaskOptions {
  /** Which parameters are candidates for masking; default `encoderBlocks`. */
  candidates?: NameFilter;
}

/**
 * The ChildTuning-D mask from Fisher information: among candidate parameters, keep exactly
 * k = round(p·n) elements with the largest Fisher values (one global ranking across tensors; ties at
 * the threshold are broken by position, in name order). The reference thresholds at the (1−p)
 * percentile with `>=`, which keeps the same set up to ties and one element of rounding.
 * Returns 0/1 float masks for the candidate parameters only; others are not masked. The caller owns
 * the masks (or hands them to `childTuning`, which then owns them).
 *
 * @example
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 2 });
 * const params = clf.fineTunedParameters();
 * const loss = (b: LabelledText[]) => clf.loss(b.map((e) => e.text), b.map((e) => e.label));
 * const fisher = await fisherInformation(loss, params, [train.slice(0, 32), train.slice(32, 64)]);
 * const masks = fisherMask(fisher, 0.3); // keep the top 30% of the encoder blocks' elements
 * const opt = childTuning(new AdamW(params), { mode: 'D', p: 0.3, masks }); // ChildTuning-D
 */
export function fisherMask(
  fisher: Map<string, tf.Tensor>,
  p: number,
  opts: FisherMaskOptions = {},
): Map<string, tf.Tensor> {
  return readBackSync(maskWork(fisher, p, opts));
}

/**
 * As `fisherMask`, reading the Fisher information back with `await data()` instead of `dataSync()`
 * (a browser page on webgl keeps responding).
 *
 * @example
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 2 });
 * const loss = (b: LabelledText[]) => clf.loss(b.map((e) => e.text), b.map((e) => e.label));
 * const fisher = await fisherInformation(loss, clf.fineTunedParameters(), [train.slice(0, 32)]);
 * const masks = await fisherMaskAsync(fisher, 0.3);
 */
export function fisherMaskAsync(
  fisher: Map<string, tf.Tensor>,
  p: number,
  opts: FisherMaskOptions = {},
): Promise<Map<string, tf.Tensor>> {
  return readBackAsync(maskWork(fisher, p, opts));
}

function* maskWork(
  fisher: Map<string, tf.Tensor>,
  p: number,
  opts: FisherMaskOptions,
): Generator<tf.Tensor, Map<string, tf.Tensor>, ArrayLike<number>> {
  checkKeep(p);
  const filter = opts.candidates ?? encoderBlocks;
  const names = [...fisher.keys()].filter(filter);
  if (names.length === 0)
    throw new Error(
      `ChildTuning-D: no parameter is a candidate for masking (names: ${[...fisher.keys()].slice(0, 5).join(', ')}…); pass a 'candidates' filter`,
    );
  const values: ArrayLike<number>[] = [];
  for (const n of names) values.push(yield fisher.get(n)!);
  const total = values.reduce((s, v) => s + v.length, 0);
  const k = Math.round(p * total);
  const all = new Float32Array(total);
  let off = 0;
  for (const v of values) {
    all.set(v, off);
    off += v.length;
  }
  for (const x of all)
    if (!Number.isFinite(x)) throw new Error('ChildTuning-D: Fisher information is not finite');
  const sorted = Float32Array.from(all).sort();
  const threshold = k > 0 ? sorted[total - k] : Infinity;
  // Elements strictly above the threshold are all kept; the rest of k comes from ties, in order.
  let tiesLeft = k - sorted.reduce((c, x) => c + (x > threshold ? 1 : 0), 0);
  const out = new Map<string, tf.Tensor>();
  names.forEach((n, i) => {
    const v = values[i];
    const m = new Float32Array(v.length);
    for (let j = 0; j < v.length; j++) {
      if (v[j] > threshold) m[j] = 1;
      else if (v[j] === threshold && tiesLeft > 0) {
        m[j] = 1;
        tiesLeft--;
      }
    }
    out.set(n, tf.tensor(m, fisher.get(n)!.shape, 'float32'));
  });
  return out;
}

/**
 * Fraction of non-zero entries over all elements of a set of masks (for reporting); 0 for no masks.
 *
 * @example
 * const masks = new Map([['a', tf.tensor1d([1, 0, 0, 1])], ['b', tf.tensor1d([0, 0, 1, 0])]]);
 * keptFraction(masks); // → 0.375 (3 of 8)
 */
export function keptFraction(masks: Map<string, tf.Tensor>): number {
  return readBackSync(keptWork(masks));
}

/**
 * As `keptFraction`, reading the count back with `await data()` instead of `dataSync()`.
 *
 * @example
 * const masks = new Map([['a', tf.tensor1d([1, 0, 0, 1])], ['b', tf.tensor1d([0, 0, 1, 0])]]);
 * await keptFractionAsync(masks); // → 0.375 (3 of 8)
 */
export function keptFractionAsync(masks: Map<string, tf.Tensor>): Promise<number> {
  return readBackAsync(keptWork(masks));
}

function* keptWork(masks: Map<string, tf.Tensor>): Generator<tf.Tensor, number, ArrayLike<number>> {
  const list = [...masks.values()];
  const n = list.reduce((s, m) => s + m.size, 0);
  if (n === 0) return 0;
  // Counted on the device in int32 (exact to 2^31 per mask, where a float32 sum stops counting at 2^24).
  const counts = tf.tidy(() => tf.stack(list.map((m) => tf.sum(tf.cast(tf.notEqual(m, 0), 'int32')))));
  const kept = yield* readAndDispose(counts);
  let sum = 0;
  for (let i = 0; i < kept.length; i++) sum += kept[i];
  return sum / n;
}
