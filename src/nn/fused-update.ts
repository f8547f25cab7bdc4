/**
 * The fused AdamW update as a TF.js kernel name: a backend that registers a kernel under this name
 * (kexue's native 'aten' backend does) gets AdamW's whole update of every variable — clipping scale, both
 * moments, bias correction, decoupled decay and the step — as one kernel call instead of about twelve
 * element-wise ops per variable, each with its own engine bookkeeping and allocation. Backends without it
 * use the op-by-op update; both compute the same formula (equal within float32 rounding).
 *
 * Inputs, for variables i = 0, 1, …: `param<i>`, `m<i>`, `v<i>`, `grad<i>` (and an optional scalar
 * `clipScale`); attrs: `lr`, `beta1`, `beta2`, `epsilon`, `bc1` = 1 − β₁ᵗ, `bc2` = 1 − β₂ᵗ, `clip` (a
 * number scale when no `clipScale` tensor), `decay` = [1 − lr·weightDecay per variable] (1 when it is not
 * decayed). Outputs: the new param, m, v of variable 0, then of variable 1, …:
 *   m' = β₁m + (1−β₁)g,  v' = β₂v + (1−β₂)g²,  p' = decay·p − (lr/bc1)·m' / (√(v'/bc2) + ε),  g = clip·grad.
 */
import * as tf from '@tensorflow/tfjs-core';

export const ADAMW_UPDATE = 'KexueAdamWUpdate';

/** True when the active backend registers the fused AdamW update. */
export const hasFusedAdamW = (): boolean => tf.getKernel(ADAMW_UPDATE, tf.getBackend()) !== undefined;

/** `ADAMW_UPDATE`'s scalar attributes other than the clip scale and the decays (see the formula above). */
export interface AdamWAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  bc1: number;
  bc2: number;
}

/** One variable of a fused update: its moments, gradient and decay factor (1 − lr·weightDecay, or 1). */
export interface AdamWSlot {
  param: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
  grad: tf.Tensor;
  decay: number;
}

/**
 * A kernel call's share of the variables, in elements. Where a variable cannot be updated in place (its
 * old values are held elsewhere), the new ones exist beside them until the call returns, so a model's whole
 * state at once (BERT-base: 110M parameters, 1.3 GB for new param, m and v) would be a large peak; 2^22
 * elements (48 MB) is one call for small models and a few for large ones.
 */
const ELEMENTS_PER_CALL = 1 << 22;

/**
 * The fused update of all `slots`: runs `ADAMW_UPDATE` over as many at a time as `ELEMENTS_PER_CALL`
 * allows and assigns each new param, m and v. `clip` is a number or a scalar tensor (clipping computed on
 * the device).
 */
export function fusedAdamWStep(
  slots: readonly AdamWSlot[],
  attrs: AdamWAttrs,
  clip: number | tf.Scalar = 1,
): void {
  for (let start = 0; start < slots.length;) {
    let end = start + 1;
    let size = slots[start].param.size;
    while (end < slots.length && size + slots[end].param.size <= ELEMENTS_PER_CALL)
      size += slots[end++].param.size;
    runAdamW(slots.slice(start, end), attrs, clip);
    start = end;
  }
}

/** One `ADAMW_UPDATE` call over `slots`, its outputs assigned. */
function runAdamW(slots: readonly AdamWSlot[], attrs: AdamWAttrs, clip: number | tf.Scalar): void {
  const inputs: tf.NamedTensorMap = {};
  slots.forEach(({ param, m, v, grad }, i) =>
    Object.assign(inputs, { [`param${i}`]: param, [`m${i}`]: m, [`v${i}`]: v, [`grad${i}`]: grad }),
  );
  if (clip instanceof tf.Tensor) inputs.clipScale = clip;
  const outs = tf.engine().runKernel(ADAMW_UPDATE, inputs, {
    ...attrs,
    clip: clip instanceof tf.Tensor ? 1 : clip,
    decay: slots.map((s) => s.decay),
  }) as tf.Tensor[];
  slots.forEach(({ param, m, v }, i) => {
    m.assign(outs[3 * i + 1]);
    v.assign(outs[3 * i + 2]);
    param.assign(outs[3 * i]);
  });
  tf.dispose(outs);
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
