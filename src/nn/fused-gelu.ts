/**
 * Exact GELU, x·Φ(x), as one kernel where the backend has it (kexue's 'aten' registers `KexueGelu` and
 * `KexueGeluGrad` over ATen's `gelu` / `gelu_backward`): one call forward and one backward, instead of five
 * element-wise kernels and their autodiff. Elsewhere `gelu` runs the op-by-op form.
 *
 * Both kernels have gradients, so gradients of gradients stay exact: with φ the standard normal density,
 *   GELU'(x) = Φ(x) + x·φ(x),   GELU''(x) = φ(x)·(2 − x²),
 * KexueGelu's gradient is KexueGeluGrad(dy, x) = dy·GELU'(x), and KexueGeluGrad's gradient (written in
 * ordinary ops) is ddx·GELU'(x) for dy and ddx·dy·GELU''(x) for x.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradientOnce } from '../grad/register-once.js';

export const GELU = 'KexueGelu';
export const GELU_GRAD = 'KexueGeluGrad';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** φ(x) = exp(−x²/2)/√(2π). */
const density = (x: tf.Tensor) => tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);

/** GELU'(x) = Φ(x) + x·φ(x), in differentiable ops. */
const slope = (x: tf.Tensor) =>
  tf.add(tf.mul(tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))), 0.5), tf.mul(x, density(x)));

const gradients: tf.GradConfig[] = [
  {
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({
      x: () => tf.engine().runKernel(GELU_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor,
    }),
  },
  {
    kernelName: GELU_GRAD,
    inputsToSave: ['dy', 'x'],
    gradFunc: (ddx, [dy, x]) => ({
      dy: () => tf.mul(ddx as tf.Tensor, slope(x)),
      x: () => tf.mul(tf.mul(ddx as tf.Tensor, dy), tf.mul(density(x), tf.sub(2, tf.square(x)))),
    }),
  },
];

/**
 * GELU, exact form x·Φ(x) = x·(1 + erf(x/√2))/2, as in BERT; fused when the active backend has the kernel.
 *
 * @example
 * gelu(tf.tensor1d([-1, 0, 1])); // → [−0.1587, 0, 0.8413]
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (
    x.dtype === 'float32' &&
    tf.getKernel(GELU, tf.getBackend()) &&
    tf.getKernel(GELU_GRAD, tf.getBackend())
  ) {
    gradients.forEach(registerGradientOnce);
    return tf.engine().runKernel(GELU, { x }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}
