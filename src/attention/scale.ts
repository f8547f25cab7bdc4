/**
 * The entropy-invariant attention scale (Su, "Understanding attention's scale operation from entropy
 * invariance", kexue.fm/archives/8823): logits q·k are multiplied by log(n)/log(base) / √d instead of
 * 1/√d, where n is the number of keys the query attends to. The note derives that this keeps the entropy
 * of each attention row roughly constant as n grows, so a model trained at one length keeps its attention
 * focused at longer ones. At n = base the scale is exactly 1/√d.
 *
 * Two ways to apply it:
 * - `at: 'train'` (the note, bert4keras `attention_normalize(method='softmax_plus')`): the scale is used in
 *   training and inference alike; the model learns with it.
 * - `at: 'inference'` (Qwen's `use_logn_attn`, the note's logn†): the factor is max(1, log n/log base), so
 *   with `base: 'train-length'` it is exactly the standard scale up to the training length and grows only
 *   past it — a model trained with the standard scale can use it without retraining.
 *
 * In 'train' mode n is clamped below at `clamp` (bert4keras uses 16, noting that the scale hurts on very
 * short sequences: at n = 2 a base-512 factor would be 0.11, flattening attention almost to uniform).
 * 'inference' mode needs no clamp (the factor is never below 1) and ignores it, so that it stays exactly
 * the standard scale up to the training length whatever the clamp.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttentionScaleFn, ScaleContext } from '../encoder/attention.js';

/** When the log-n scale applies: in training and inference ('train'), or only past `base` at inference. */
export type ScaleAt = 'train' | 'inference';
/** Every `ScaleAt`, for validation and command-line choices. */
export const SCALE_AT: readonly ScaleAt[] = ['train', 'inference'];

/** Settings of the 'log-n' scale; they are stored in the encoder config (`attentionScaleOptions`). */
export interface LogNOptions {
  /** log base: n at which the factor is 1. A number > 1 (default 512, the note's), or the training length. */
  base?: number | 'train-length';
  /** Training sequence length; needed by `base: 'train-length'`. */
  trainLength?: number;
  /** 'train' mode: n is raised to at least this before the log (default 16, as bert4keras; 1 disables it). */
  clamp?: number;
  /** 'train' (default): always applied. 'inference': factor max(1, log n/log base) (Qwen's logn). */
  at?: ScaleAt;
  /**
   * Per-row n for causal attention: query i sees the unmasked keys 0..i, so n = that count (Qwen indexes
   * its logn table by position). Default false: every query of an example sees all its unmasked keys.
   */
  causal?: boolean;
}

/** The options with defaults filled and checked; throws a clear Error on bad input. */
export function resolveLogN(o: LogNOptions = {}): Required<Omit<LogNOptions, 'trainLength'>> & {
  trainLength?: number;
  logBase: number;
} {
  const known = ['base', 'trainLength', 'clamp', 'at', 'causal'];
  const extra = Object.keys(o).filter((k) => !known.includes(k));
  if (extra.length) throw new Error(`log-n scale: unknown option '${extra[0]}' (known: ${known.join(', ')})`);
  const base = o.base ?? 512;
  const clamp = o.clamp ?? 16;
  const at = o.at ?? 'train';
  if (o.trainLength !== undefined && !(Number.isInteger(o.trainLength) && o.trainLength >= 2))
    throw new Error(`log-n scale: trainLength must be an integer ≥ 2 (got ${o.trainLength})`);
  if (base === 'train-length') {
    if (o.trainLength === undefined) throw new Error("log-n scale: base 'train-length' needs trainLength");
  } else if (!(typeof base === 'number' && Number.isFinite(base) && base > 1)) {
    throw new Error(`log-n scale: base must be a number > 1 or 'train-length' (got ${String(base)})`);
  }
  if (!(typeof clamp === 'number' && clamp >= 1 && Number.isFinite(clamp)))
    throw new Error(`log-n scale: clamp must be a number ≥ 1 (got ${String(clamp)})`);
  if (!SCALE_AT.includes(at))
    throw new Error(`log-n scale: at must be train or inference (got ${String(at)})`);
  const b = base === 'train-length' ? o.trainLength! : base;
  return { base, trainLength: o.trainLength, clamp, at, causal: o.causal ?? false, logBase: Math.log(b) };
}

/**
 * The factor multiplying 1/√d for n keys, as plain numbers (the reference the tensor code is tested on).
 * Throws on bad options.
 *
 * @example
 * logNFactor(2048); // → 1.222 (log 2048 / log 512)
 * logNFactor(4); // → 0.444 (n clamped to 16 in 'train' mode)
 * logNFactor(256, { at: 'inference', base: 'train-length', trainLength: 64 }); // → 1.333
 */
export function logNFactor(n: number, o: LogNOptions = {}): number {
  const r = resolveLogN(o);
  if (r.at === 'inference') return Math.max(1, Math.log(n) / r.logBase);
  return Math.log(Math.max(n, r.clamp)) / r.logBase;
}

/**
 * The number of keys each query row sees: [B] (all rows of an example alike) or, causal, [B, N] (the
 * running count of unmasked keys up to and including the query's position).
 */
export function rowKeyCounts(mask: tf.Tensor2D, causal = false): tf.Tensor {
  return tf.tidy(() => (causal ? tf.cumsum(mask, 1) : tf.sum(mask, 1)));
}

/**
 * Tensor form of `logNFactor` / √d, for any tensor of key counts n (float32); same shape as `n`.
 *
 * @example
 * const scale = logNScaleTensor(tf.tensor1d([16, 512, 2048]), 64);
 * scale.dataSync(); // → [0.0556, 0.125, 0.1528]: 1/√64 = 0.125 at n = 512
 */
export function logNScaleTensor(n: tf.Tensor, headDim: number, o: LogNOptions = {}): tf.Tensor {
  const r = resolveLogN(o);
  return tf.tidy(() => {
    const f =
      r.at === 'inference'
        ? tf.maximum(tf.div(tf.log(tf.maximum(n, 1)), r.logBase), 1)
        : tf.div(tf.log(tf.maximum(n, r.clamp)), r.logBase);
    return tf.mul(f, 1 / Math.sqrt(headDim));
  });
}

/**
 * The 'log-n' attention scale for the encoder (`attentionScale: 'log-n'`, options in
 * `attentionScaleOptions`): [B] per example, or [B, N] per query row when `causal`. The encoder builds
 * it from the config by name; call it directly to pass the function as `new Encoder(cfg, { scale })`.
 *
 * @example
 * const options = { base: 512 };
 * const enc = new Encoder({ vocabSize: 1000, attentionScale: 'log-n', attentionScaleOptions: options });
 * // the same scale, given as a function (the config then records 'custom'):
 * const enc2 = new Encoder({ vocabSize: 1000 }, { scale: logNScale(options) });
 */
export function logNScale(o: LogNOptions = {}): AttentionScaleFn {
  const r = resolveLogN(o); // fail at construction, not at the first forward pass
  return (ctx: ScaleContext) =>
    logNScaleTensor(r.causal ? rowKeyCounts(ctx.mask, true) : ctx.lengths, ctx.headDim, o);
}
