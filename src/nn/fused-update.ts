/**
 * The fused AdamW update as a TF.js kernel name: a backend that registers a kernel under this name
 * (kexue's native 'aten' backend does) gets AdamW's whole per-variable update — clipping scale, both
 * moments, bias correction, decoupled decay and the step — as one kernel call instead of about twelve
 * element-wise ops, each with its own engine bookkeeping and allocation. Backends without it use the
 * op-by-op update; both compute the same formula (equal within float32 rounding).
 *
 * Inputs: `param`, `m`, `v`, `grad` (and an optional scalar `clipScale`); attrs: `lr`, `beta1`,
 * `beta2`, `epsilon`, `bc1` = 1 − β₁ᵗ, `bc2` = 1 − β₂ᵗ, `clip` (a number scale when no `clipScale`
 * tensor), `decay` = 1 − lr·weightDecay (1 when the parameter is not decayed). Outputs: the new param, m, v:
 *   m' = β₁m + (1−β₁)g,  v' = β₂v + (1−β₂)g²,  p' = decay·p − (lr/bc1)·m' / (√(v'/bc2) + ε),  g = clip·grad.
 */
import * as tf from '@tensorflow/tfjs-core';

export const ADAMW_UPDATE = 'KexueAdamWUpdate';

/** True when the active backend registers the fused AdamW update. */
export const hasFusedAdamW = (): boolean => tf.getKernel(ADAMW_UPDATE, tf.getBackend()) !== undefined;

/** `ADAMW_UPDATE`'s scalar attributes other than the clip scale (see the formula above). */
export interface AdamWAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  bc1: number;
  bc2: number;
  decay: number;
}

/**
 * One fused update: runs `ADAMW_UPDATE` and assigns the new param, m and v. `clip` is a number or a
 * scalar tensor (clipping computed on the device).
 */
export function fusedAdamWStep(
  param: tf.Variable,
  m: tf.Variable,
  v: tf.Variable,
  grad: tf.Tensor,
  attrs: AdamWAttrs,
  clip: number | tf.Scalar = 1,
): void {
  const inputs: tf.NamedTensorMap = { param, m, v, grad };
  if (clip instanceof tf.Tensor) inputs.clipScale = clip;
  const [p2, m2, v2] = tf.engine().runKernel(ADAMW_UPDATE, inputs, {
    ...attrs,
    clip: clip instanceof tf.Tensor ? 1 : clip,
  }) as tf.Tensor[];
  m.assign(m2);
  v.assign(v2);
  param.assign(p2);
  tf.dispose([p2, m2, v2]);
}

/**
 * The global L2 norm of a list of tensors (gradient clipping) as one kernel: inputs `t0`, `t1`, …;
 * output a float32 scalar √(Σᵢ ‖tᵢ‖²). No gradient: it scales updates, it is never differentiated.
 */
export const GLOBAL_NORM = 'KexueGlobalNorm';

/**
 * tfjs's RMSProp update (`tf.train.rmsprop`) as one kernel. Inputs `param`, `ms` (mean square), `mom`
 * (moment), `grad`, and `mg` (mean gradient) when centered; attrs `lr`, `decay`, `momentum`, `epsilon`.
 * Outputs the new param, ms, mom (and mg), by tfjs's formula — centered subtracts ε under the root, as
 * tfjs does:
 *   ms' = ρ·ms + (1−ρ)g²,  mg' = ρ·mg + (1−ρ)g,  mom' = μ·mom + lr·g / √(ms' + ε)  (centered: √(ms' − (mg'² + ε))),
 *   p' = p − mom'.
 */
export const RMSPROP_UPDATE = 'KexueRMSPropUpdate';

/**
 * tfjs's momentum update (`tf.train.momentum`) as one kernel. Inputs `param`, `acc`, `grad`; attrs `lr`,
 * `momentum`, `nesterov` (0 or 1). Outputs the new param and acc:
 *   acc' = μ·acc + g,  p' = p − lr·acc'  (Nesterov: p' = p − lr·(g + μ·acc')).
 */
export const MOMENTUM_UPDATE = 'KexueMomentumUpdate';
