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
export const ADAMW_UPDATE = 'KexueAdamWUpdate';

/**
 * The global L2 norm of a list of tensors (gradient clipping) as one kernel: inputs `t0`, `t1`, …;
 * output a float32 scalar √(Σᵢ ‖tᵢ‖²). No gradient: it scales updates, it is never differentiated.
 */
export const GLOBAL_NORM = 'KexueGlobalNorm';
