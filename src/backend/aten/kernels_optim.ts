/**
 * Fused optimizer updates (see src/nn/fused-update.ts for the formula): ATen's out-of-place
 * element-wise calls on native ids, so no tfjs tensor is made for an intermediate. Out-of-place on
 * purpose: a variable's storage may be shared by views other tensors hold (Transpose and Slice
 * return ATen views), which an in-place update would change behind their backs.
 */
import { ADAMW_UPDATE } from '../../nn/fused-update.js';
import type { Inputs, NativeKernel, Attrs } from './kernels_math.js';
import { idOf, out, run } from './native.js';

function adamW(inputs: Inputs, attrs: Attrs) {
  const { param, m, v, grad, clipScale } = inputs;
  const a = attrs as Record<string, number>;
  let g = idOf(grad);
  if (clipScale) g = run('mul.Tensor', [g, idOf(clipScale)]);
  else if (a.clip !== 1) g = run('mul.Scalar', [g, a.clip]);
  const m2 = run('add.Tensor', [run('mul.Scalar', [idOf(m), a.beta1]), g, 1 - a.beta1]);
  const v2 = run('addcmul', [run('mul.Scalar', [idOf(v), a.beta2]), g, g, 1 - a.beta2]);
  const denom = run('add.Scalar', [run('sqrt', [run('div.Scalar', [v2, a.bc2])]), a.epsilon]);
  const p = a.decay === 1 ? idOf(param) : run('mul.Scalar', [idOf(param), a.decay]);
  const p2 = run('addcdiv', [p, m2, denom, -a.lr / a.bc1]);
  return [out(p2, 'float32'), out(m2, 'float32'), out(v2, 'float32')];
}

export const optimKernels: Record<string, NativeKernel> = { [ADAMW_UPDATE]: adamW };
