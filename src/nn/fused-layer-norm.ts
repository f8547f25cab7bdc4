/**
 * Layer normalisation as one kernel where the backend has it (kexue's 'aten' registers `KexueLayerNorm`
 * over ATen's `native_layer_norm`, and `KexueLayerNormGrad` over `native_layer_norm_backward`): the forward
 * pass is one call instead of about ten element-wise kernels, and so is the backward pass, instead of the
 * twenty-odd of autodiff. Elsewhere `layerNorm` runs the op-by-op form; both agree within float32 rounding.
 *
 * The kernel returns y and the per-row statistics μ and r = 1/√(σ² + ε) (shape [..., 1]). Its gradient
 * covers all three outputs: with g = dy·γ, x̂ = (x − μ)·r and H the last dimension,
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂)) + dμ/H − dr·r³·(x − μ)/H,   dγ = Σ dy·x̂,   dβ = Σ dy.
 * When the gradient is itself being differentiated (a tape is recording: gradient penalties, GN through
 * an encoder), it is computed in ordinary differentiable ops so gradients of gradients stay exact; the
 * one-call native backward, from the saved μ and r, runs only when nothing records it (native-backward.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeBackward } from '../grad/native-backward.js';
import { registerGradientOnce } from '../grad/register-once.js';

export const LAYER_NORM = 'KexueLayerNorm';
export const LAYER_NORM_GRAD = 'KexueLayerNormGrad';

const gradient: tf.GradConfig = {
  kernelName: LAYER_NORM,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, gamma, savedMean, savedRstd] = saved;
    const [dy, dMean, dRstd] = dys as tf.Tensor[];
    if (nativeBackward(LAYER_NORM_GRAD)) {
      // Run here, not inside the closures: tfjs calls each closure in its own tidy, which would
      // dispose the other two outputs.
      const [dx, dGamma, dBeta] = tf.engine().runKernel(LAYER_NORM_GRAD, {
        dy,
        x,
        gamma,
        mean: savedMean,
        rstd: savedRstd,
        dMean,
        dRstd,
      }) as tf.Tensor[];
      return { x: () => dx, gamma: () => dGamma, beta: () => dBeta };
    }
    // μ and r are recomputed from x rather than saved: tfjs does not link saved outputs into the
    // tape, so gradients of this gradient would miss their dependence on x.
    const { mean, variance } = tf.moments(x, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, attrs.eps as number));
    const h = x.shape[x.rank - 1];
    const centred = () => tf.sub(x, mean);
    const xhat = () => tf.mul(centred(), rstd);
    const rows = Array.from({ length: x.rank - 1 }, (_, i) => i);
    return {
      x: () => {
        const g = tf.mul(dy, gamma);
        const xh = xhat();
        let dx = tf.mul(
          rstd,
          tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), -1, true))),
        );
        dx = tf.add(dx, tf.div(dMean, h));
        const r3 = tf.mul(tf.mul(rstd, rstd), rstd);
        return tf.sub(dx, tf.div(tf.mul(tf.mul(dRstd, r3), centred()), h));
      },
      gamma: () => tf.sum(tf.mul(dy, xhat()), rows),
      beta: () => tf.sum(dy, rows),
    };
  },
};

/**
 * γ·(x − μ)/√(σ² + ε) + β over the last axis of `x`, fused when the active backend has the kernel.
 *
 * @example
 * const x = tf.tensor2d([[1, 2, 3], [2, 4, 6]]);
 * layerNorm(x, tf.ones([3]), tf.zeros([3]), 1e-5); // rows ≈ [−1.22, 0, 1.22]
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  if (x.dtype === 'float32' && tf.getKernel(LAYER_NORM, tf.getBackend())) {
    registerGradientOnce(gradient);
    return tf.tidy(() => {
      const [y] = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { eps }) as tf.Tensor[];
      return y;
    });
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const norm = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(norm, gamma), beta);
  });
}
