/**
 * Training objectives on a VAE's log weights [B, k] (rows = datapoints, columns = their k samples):
 *   vae:  (1/k) Σⱼ log wⱼ          — the k-sample Monte Carlo ELBO (Kingma & Welling);
 *   iwae: log (1/k) Σⱼ wⱼ = L_k     — Burda et al.'s bound, the log-mean-exp over one datapoint's samples;
 * both averaged over the batch. The IWAE gradient is Σⱼ w̃ⱼ ∇log wⱼ with w̃ = softmax over the k samples.
 * The DReG estimator (Tucker et al. 2018) replaces the encoder's part with Σⱼ w̃ⱼ² ∂log wⱼ/∂zⱼ ∂zⱼ/∂φ,
 * dropping the high-variance score-function term; the decoder's gradient is unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from '../grad/stop-gradient.js';
import { logMeanExp } from './distributions.js';
import type { Noise, VAE } from './vae.js';

/** The bound trained: the k-sample ELBO ('vae') or the IWAE bound L_k ('iwae'). */
export type Objective = 'vae' | 'iwae';
/** The gradient estimator: the plain reparameterised gradient, or DReG (IWAE only). */
export type Estimator = 'standard' | 'dreg';

/** Settings of `bound` and `objectiveLoss`: the objective, k samples per datapoint, estimator, seed. */
export interface ObjectiveOptions {
  objective: Objective;
  /** Samples per datapoint (≥ 1). */
  k: number;
  /** 'dreg' (IWAE only): doubly reparameterized encoder gradient. Default 'standard'. */
  estimator?: Estimator;
  seed?: number;
  noise?: Noise;
}

/** Per-datapoint bound [B] from log weights [B, k]: the mean ('vae') or log-mean-exp ('iwae') over k. */
export function boundFromLogWeights(logw: tf.Tensor2D, objective: Objective): tf.Tensor1D {
  return tf.tidy(() => (objective === 'vae' ? tf.mean(logw, 1) : logMeanExp(logw, 1)) as tf.Tensor1D);
}

/**
 * Per-datapoint bound [B] in nats for `x` [B, D] (no gradient bookkeeping needed; caller disposes).
 *
 * @example
 * const xb = tf.tensor2d(binarizeFixed(images.subarray(0, 100 * 784)), [100, 784]);
 * const l50 = bound(vae, xb, { objective: 'iwae', k: 50 }); // [100], L₅₀ of each image
 */
export function bound(vae: VAE, x: tf.Tensor2D, o: ObjectiveOptions): tf.Tensor1D {
  return tf.tidy(() =>
    boundFromLogWeights(vae.logWeights(x, o.k, { seed: o.seed, noise: o.noise }), o.objective),
  );
}

function checkOptions(o: ObjectiveOptions): void {
  if (o.objective !== 'vae' && o.objective !== 'iwae') {
    throw new Error(`objective must be 'vae' or 'iwae', got '${String(o.objective)}'`);
  }
  const est = o.estimator ?? 'standard';
  if (est !== 'standard' && est !== 'dreg')
    throw new Error(`estimator must be 'standard' or 'dreg', got '${String(est)}'`);
  if (est === 'dreg' && o.objective !== 'iwae')
    throw new Error("the DReG estimator applies to the 'iwae' objective");
  if (!Number.isInteger(o.k) || o.k < 1) throw new Error(`k must be a positive integer, got ${o.k}`);
}

/**
 * The scalar to minimise for one minibatch and the batch-mean bound it corresponds to (a number, in
 * nats). Call inside `tf.variableGrads`/`optimizer.minimize`: for 'standard' the loss is −mean bound;
 * for 'dreg' it is a surrogate whose gradient is the DReG estimator (its value is not the bound).
 *
 * @example
 * const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-4);
 * const xb = tf.tensor2d(binarize(images.subarray(0, 20 * 784), 1), [20, 784]);
 * const o = { objective: 'iwae', k: 5, estimator: 'dreg' } as const;
 * opt.minimize(() => objectiveLoss(vae, xb, o).loss, false, vae.variables);
 */
export function objectiveLoss(
  vae: VAE,
  x: tf.Tensor2D,
  o: ObjectiveOptions,
): { loss: tf.Scalar; bound: number } {
  const { loss, bound } = objectiveTensors(vae, x, o);
  const value = bound.dataSync()[0];
  bound.dispose();
  return { loss, bound: value };
}

/**
 * As `objectiveLoss`, with the batch-mean bound left as a scalar tensor (not read back), so a training
 * loop can read it with `await data()` (no stall on webgl/webgpu) or batch the reads. Inside
 * `tf.variableGrads` the bound is disposed with the other intermediates unless `tf.keep`-ed.
 *
 * @example
 * const xb = tf.tensor2d(binarize(images.subarray(0, 20 * 784), 1), [20, 784]);
 * let boundT: tf.Scalar | undefined;
 * const { grads, value } = tf.variableGrads(() => {
 *   const r = objectiveTensors(vae, xb, { objective: 'iwae', k: 5 });
 *   boundT = tf.keep(r.bound);
 *   return r.loss;
 * });
 * const l5 = (await boundT!.data())[0]; // the minibatch's mean L₅, nats
 */
export function objectiveTensors(
  vae: VAE,
  x: tf.Tensor2D,
  o: ObjectiveOptions,
): { loss: tf.Scalar; bound: tf.Scalar } {
  checkOptions(o);
  if ((o.estimator ?? 'standard') === 'standard') {
    const b = boundFromLogWeights(vae.logWeights(x, o.k, { seed: o.seed, noise: o.noise }), o.objective);
    const loss = tf.neg(tf.mean(b)) as tf.Scalar;
    return { loss, bound: tf.neg(loss) };
  }
  // DReG: z enters the densities through `tap`, identity forward, whose backward scales row (b, j) by w̃_bj;
  // the surrogate Σ w̃ log w then gives w̃² on the pathwise encoder terms and w̃ on the decoder's.
  const B = x.shape[0];
  const ref: { w?: tf.Tensor2D } = {};
  const tapFn = (...args: unknown[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => {
      if (!ref.w) throw new Error('DReG weights were not set before the backward pass');
      return tf.mul(dy, ref.w);
    },
  });
  const tap = tf.customGrad(tapFn as Parameters<typeof tf.customGrad>[0]) as unknown as (
    z: tf.Tensor2D,
  ) => tf.Tensor2D;
  const logw = vae.logWeights(x, o.k, { seed: o.seed, noise: o.noise, hooks: { tap, cancelScore: true } });
  const wt = stopGradient(tf.softmax(logw, 1) as tf.Tensor2D);
  ref.w = tf.reshape(wt, [B * o.k, 1]);
  const loss = tf.div(tf.neg(tf.sum(tf.mul(wt, logw))), B) as tf.Scalar;
  return { loss, bound: tf.mean(logMeanExp(logw, 1)) as tf.Scalar };
}
