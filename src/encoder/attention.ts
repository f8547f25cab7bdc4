/**
 * Multi-head self-attention with a padding mask, optional rotary position embeddings (RoPE, as in
 * RoFormer: interleaved pairs (2i, 2i+1) rotated by angle m·θᵢ, θᵢ = base^(−2i/d)), and a pluggable
 * logit scale.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { Linear, dropout, type SeedStream } from '../nn/layers.js';
import type { InitSpec } from '../nn/init.js';
import type { Rng } from '../util/rng.js';
import { logNScale, type LogNOptions } from '../attention/scale.js';
import { scaledRope, scaledRopeTables, type RopeScaling } from '../attention/rope.js';
import { rotatePairs, signedSinTable } from '../nn/fused-rope.js';

/** What a logit-scale function may look at. */
export interface ScaleContext {
  headDim: number;
  /** Padded sequence length N. */
  seqLen: number;
  /** [B, N], 1 for tokens, 0 for padding. */
  mask: tf.Tensor2D;
  /** [B], the number of non-padding tokens of each example (float32). */
  lengths: tf.Tensor1D;
}

/**
 * Returns a number, a scalar, a [B] tensor (one scale per example) or a [B, N] tensor (one per query
 * row, e.g. causal log-n). Called inside a tidy.
 */
export type AttentionScaleFn = (ctx: ScaleContext) => number | tf.Tensor;

/** Builds a scale from the options stored in the config (`attentionScaleOptions`). */
export type AttentionScaleFactory = (options: Record<string, unknown>) => AttentionScaleFn;

const scales = new Map<string, AttentionScaleFn>([['inv-sqrt-d', (ctx) => 1 / Math.sqrt(ctx.headDim)]]);
const factories = new Map<string, AttentionScaleFactory>([['log-n', (o) => logNScale(o as LogNOptions)]]);

/**
 * Makes a scale available by name, so configs (and saved models) can refer to it; a later registration
 * under the same name replaces the earlier one. Register before building or loading the encoder.
 *
 * @example
 * // A temperature on the logits: 0.5/√d instead of BERT's 1/√d.
 * registerAttentionScale('half-inv-sqrt-d', (ctx) => 0.5 / Math.sqrt(ctx.headDim));
 * const enc = new Encoder({ vocabSize: 1000, attentionScale: 'half-inv-sqrt-d' });
 */
export function registerAttentionScale(name: string, fn: AttentionScaleFn): void {
  scales.set(name, fn);
}

/**
 * Like `registerAttentionScale`, for a scale with settings kept in the config's `attentionScaleOptions`;
 * the factory receives those options (an empty object when absent) and should reject bad ones by throwing.
 *
 * @example
 * registerAttentionScaleFactory('temperature', (o) => {
 *   const t = Number(o.t ?? 1);
 *   return (ctx) => t / Math.sqrt(ctx.headDim);
 * });
 * const enc = new Encoder({
 *   vocabSize: 1000,
 *   attentionScale: 'temperature',
 *   attentionScaleOptions: { t: 0.8 },
 * });
 */
export function registerAttentionScaleFactory(name: string, factory: AttentionScaleFactory): void {
  factories.set(name, factory);
}

export function attentionScale(name: string, options?: Record<string, unknown>): AttentionScaleFn {
  const factory = factories.get(name);
  if (factory) return factory(options ?? {});
  const fn = scales.get(name);
  if (!fn)
    throw new Error(
      `unknown attention scale '${name}' (registered: ${[...scales.keys(), ...factories.keys()].join(', ')}); ` +
        'register it with registerAttentionScale or pass the function as the `scale` option',
    );
  if (options && Object.keys(options).length)
    throw new Error(`attention scale '${name}' takes no options (got ${Object.keys(options).join(', ')})`);
  return fn;
}

export interface AttentionOptions {
  hidden: number;
  heads: number;
  init: InitSpec;
  rng: Rng;
  dropoutRng: SeedStream;
  attentionDropout: number;
  /** `scaling` (NTK-aware base, position interpolation) applies only when not training. */
  rope?: { base: number; scaling?: RopeScaling };
  scale: AttentionScaleFn;
}

/** Receives each forward pass's attention probabilities [B, heads, N, N] (before dropout), inside a tidy. */
export type AttentionProbe = (probs: tf.Tensor4D, mask: tf.Tensor2D) => void;

/** A scale as returned by an AttentionScaleFn, shaped to multiply [B, heads, N, N] logits. */
function broadcastScale(scale: number | tf.Tensor, b: number, n: number): number | tf.Tensor {
  if (typeof scale === 'number' || scale.rank === 0) return scale;
  if (scale.rank === 1 && scale.size === b) return tf.reshape(scale, [b, 1, 1, 1]);
  if (scale.rank === 2 && scale.shape[0] === b && scale.shape[1] === n)
    return tf.reshape(scale, [b, 1, n, 1]);
  throw new Error(
    `attention scale must be a number, a scalar, [B] or [B, N]; got shape [${scale.shape.join(', ')}]`,
  );
}

/** Large negative logit for padded keys: exp underflows to exactly 0 after the max subtraction. */
const MASKED = -1e9;

export class SelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly output: Linear;
  private readonly headDim: number;
  /**
   * Set to observe the attention probabilities (e.g. `attentionEntropy`); unset, the forward pass does
   * no extra work. The probe must `tf.keep` anything it stores.
   */
  probe?: AttentionProbe;
  private ropeCache?: { cos: tf.Tensor2D; signedSin: tf.Tensor2D };

  constructor(private readonly o: AttentionOptions) {
    super();
    const h = o.hidden;
    this.query = this.child('query', new Linear(h, h, o.init, o.rng));
    this.key = this.child('key', new Linear(h, h, o.init, o.rng));
    this.value = this.child('value', new Linear(h, h, o.init, o.rng));
    this.output = this.child('output', new Linear(h, h, o.init, o.rng));
    this.headDim = h / o.heads;
  }

  /**
   * cos and pair-signed sin tables [n, d] for this forward pass. The unscaled ones (all of training, and
   * inference without a RoPE extension or within its training length) are made once for the longest n
   * seen and sliced: a training step would otherwise rebuild and upload them in every layer. Scaled ones
   * depend on n and are made per call.
   */
  private ropeTablesFor(n: number): { cos: tf.Tensor2D; signedSin: tf.Tensor2D } {
    const { base, scaling } = this.o.rope!;
    const r = this.training ? { base, positionScale: 1 } : scaledRope(n, this.headDim, base, scaling);
    const make = (len: number, b: number, scale: number) =>
      tf.tidy(() => {
        const { cos, sin } = scaledRopeTables(len, this.headDim, b, scale);
        return { cos, signedSin: signedSinTable(sin) };
      });
    if (r.base !== base || r.positionScale !== 1) return make(n, r.base, r.positionScale);
    if (!this.ropeCache || this.ropeCache.cos.shape[0] < n) {
      this.disposeRopeCache();
      const t = make(n, base, 1);
      this.ropeCache = { cos: tf.keep(t.cos), signedSin: tf.keep(t.signedSin) };
    }
    const { cos, signedSin } = this.ropeCache;
    if (cos.shape[0] === n) return { cos, signedSin };
    return { cos: tf.slice(cos, 0, n), signedSin: tf.slice(signedSin, 0, n) };
  }

  private disposeRopeCache(): void {
    if (this.ropeCache) tf.dispose([this.ropeCache.cos, this.ropeCache.signedSin]);
    this.ropeCache = undefined;
  }

  override dispose(): void {
    this.disposeRopeCache();
    super.dispose();
  }

  private splitHeads(x: tf.Tensor, b: number, n: number): tf.Tensor4D {
    return tf.transpose(tf.reshape(x, [b, n, this.o.heads, this.headDim]), [0, 2, 1, 3]);
  }

  /** x [B, N, H], mask [B, N] (1 = token) → [B, N, H]. */
  apply(x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n] = x.shape;
      let q: tf.Tensor = this.splitHeads(this.query.apply(x), b, n);
      let k: tf.Tensor = this.splitHeads(this.key.apply(x), b, n);
      const v = this.splitHeads(this.value.apply(x), b, n);
      if (this.o.rope) {
        const { cos, signedSin } = this.ropeTablesFor(n);
        q = rotatePairs(q, cos, signedSin);
        k = rotatePairs(k, cos, signedSin);
      }
      const scale = this.o.scale({
        headDim: this.headDim,
        seqLen: n,
        mask,
        lengths: tf.sum(mask, 1) as tf.Tensor1D,
      });
      let scores = tf.matMul(q, k, false, true);
      scores = tf.mul(scores, broadcastScale(scale, b, n));
      const bias = tf.reshape(tf.mul(tf.sub(1, mask), MASKED), [b, 1, 1, n]);
      let probs = tf.softmax(tf.add(scores, bias));
      this.probe?.(probs as tf.Tensor4D, mask);
      probs = dropout(probs, this.o.attentionDropout, this.training, this.o.dropoutRng);
      const ctx = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [b, n, this.o.hidden]);
      return this.output.apply(ctx) as tf.Tensor3D;
    });
  }
}
