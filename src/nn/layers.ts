/** Basic layers on the `Module` pattern: Linear, LayerNorm, Embedding, plus GELU and dropout. */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from './module.js';
import { initTensor, type InitSpec } from './init.js';
import { Rng } from '../util/rng.js';
import { layerNorm } from './fused-layer-norm.js';
import { dense } from './fused-dense.js';

/** y = x·W + b, with W shaped [in, out] (the TF/Keras layout). Accepts any leading dimensions. */
export class Linear extends Module {
  readonly kernel: tf.Variable;
  readonly bias?: tf.Variable;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    init: InitSpec,
    rng: Rng,
    opts: { bias?: boolean } = {},
  ) {
    super();
    this.kernel = this.param('kernel', initTensor(init, [inFeatures, outFeatures], rng));
    if (opts.bias ?? true) this.bias = this.param('bias', tf.zeros([outFeatures]));
  }

  apply(x: tf.Tensor): tf.Tensor {
    return dense(x, this.kernel as tf.Tensor2D, this.bias as tf.Tensor1D | undefined);
  }
}

/** Layer normalisation over the last axis: γ·(x − μ)/√(σ² + ε) + β. */
export class LayerNorm extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(
    readonly dim: number,
    readonly eps = 1e-12,
  ) {
    super();
    this.gamma = this.param('gamma', tf.ones([dim]));
    this.beta = this.param('beta', tf.zeros([dim]));
  }

  apply(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.gamma, this.beta, this.eps);
  }
}

/** A lookup table [count, dim]; `apply(ids)` gathers rows. */
export class Embedding extends Module {
  readonly table: tf.Variable;

  constructor(
    readonly count: number,
    readonly dim: number,
    init: InitSpec,
    rng: Rng,
  ) {
    super();
    this.table = this.param('table', initTensor(init, [count, dim], rng));
  }

  apply(ids: tf.Tensor): tf.Tensor {
    return tf.gather(this.table, ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32'));
  }
}

export { gelu } from './fused-gelu.js';

/** Where dropout seeds come from: a stream that a trainer can reset (e.g. per step, for exact resumes). */
export class SeedStream {
  private rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  reseed(seed: number): void {
    this.rng = new Rng(seed);
  }
  seed(): number {
    return this.rng.seed();
  }
}

/**
 * Kernel: the inverted-dropout multiplier of a shape, 0 or 1/(1 − rate) per element, drawn from `seed`.
 * kexue's 'aten' registers it (a counter-based generator in the addon): tf.dropout draws its uniforms in
 * a JavaScript loop, ~5 ms per 262k elements, and a recipe-encoder training step has 13 dropouts.
 */
export const DROPOUT_MASK = 'KexueDropoutMask';

/**
 * Inverted dropout when `training` and rate > 0; seeds come from `seeds` so runs are reproducible (on a
 * given backend: the native mask and tf.dropout's draw different numbers from the same seed).
 */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seeds: { seed(): number }): tf.Tensor {
  if (!training || rate <= 0) return x;
  const seed = seeds.seed();
  if (x.dtype === 'float32' && tf.getKernel(DROPOUT_MASK, tf.getBackend()))
    return tf.tidy(() => {
      const mask = tf.engine().runKernel(DROPOUT_MASK, {}, { shape: x.shape, rate, seed }) as tf.Tensor;
      return tf.mul(x, mask);
    });
  return tf.dropout(x, rate, undefined, seed);
}
