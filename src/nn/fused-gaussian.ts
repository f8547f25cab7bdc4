/**
 * The Gaussian log-density −½ Σ (log 2π + lv + (x − μ)²·e^(−lv)) over the last axis (a VAE's log q(z|x),
 * log p(z_i|z_{i+1}) or a Gaussian decoder's log p(x|z), with lv the log-variance), as one kernel where the
 * backend has it: kexue's 'aten' registers `KexueGaussianLogPdf` and its gradient
 * `KexueGaussianLogPdfGrad`, which returns all three input gradients, each summed to its input's shape:
 *   dx = −dy·(x − μ)e^(−lv),  dμ = dy·(x − μ)e^(−lv),  dlv = −½·dy·(1 − (x − μ)²e^(−lv)).
 * In tfjs ops the value takes nine kernels and the gradient about twenty, each with the engine's fixed
 * cost and its copies of saved inputs, on tensors of a few thousand elements in an IWAE step.
 *
 * Like the Bernoulli kernel, the gradient is one kernel in plain training and differentiable ops when a
 * tape records it (grad/native-backward.ts). The three shapes broadcast as tfjs ops broadcast them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { reduceTo } from '../grad/arithmetic.js';
import { nativeBackward } from '../grad/native-backward.js';
import { registerGradientOnce } from '../grad/register-once.js';

export const GAUSSIAN_LOG_PDF = 'KexueGaussianLogPdf';
export const GAUSSIAN_LOG_PDF_GRAD = 'KexueGaussianLogPdfGrad';

const gradient: tf.GradConfig = {
  kernelName: GAUSSIAN_LOG_PDF,
  inputsToSave: ['x', 'mean', 'logVar'],
  gradFunc: (dy, [x, mean, logVar]) => {
    const g = dy as tf.Tensor;
    if (nativeBackward(GAUSSIAN_LOG_PDF_GRAD)) {
      // Computed here, outside the per-input thunks (each runs in its own tidy, which would dispose the
      // other two outputs); whichever the tape does not ask for is disposed with the backward pass.
      const [dx, dMean, dLogVar] = tf.engine().runKernel(GAUSSIAN_LOG_PDF_GRAD, {
        dy: g,
        x,
        mean,
        logVar,
      }) as tf.Tensor[];
      return { x: () => dx, mean: () => dMean, logVar: () => dLogVar };
    }
    const e = tf.expandDims(g, -1);
    const d = tf.sub(x, mean);
    const r = tf.mul(tf.mul(d, tf.exp(tf.neg(logVar))), e); // dy·(x − μ)e^(−lv)
    return {
      x: () => reduceTo(tf.neg(r), x.shape),
      mean: () => reduceTo(r, mean.shape),
      logVar: () => reduceTo(tf.mul(tf.sub(e, tf.mul(d, r)), -0.5), logVar.shape),
    };
  },
};

/**
 * Whether `gaussianLogPdf(x, mean, logVar)` can run as the fused kernel: the active backend has both
 * kernels, all three are float32 tensors of rank ≥ 1, and their shapes broadcast.
 */
export function fusedGaussianLogPdfApplies(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor): boolean {
  const backend = tf.getBackend();
  if (!tf.getKernel(GAUSSIAN_LOG_PDF, backend) || !tf.getKernel(GAUSSIAN_LOG_PDF_GRAD, backend)) return false;
  const all = [x, mean, logVar];
  if (all.some((t) => t.dtype !== 'float32' || t.rank === 0)) return false;
  try {
    tf.backend_util.assertAndGetBroadcastShape(
      tf.backend_util.assertAndGetBroadcastShape(x.shape, mean.shape),
      logVar.shape,
    );
    return true;
  } catch {
    return false;
  }
}

/** The fused kernel (see `fusedGaussianLogPdfApplies`): the log-density summed over the last axis. */
export function fusedGaussianLogPdf(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor): tf.Tensor {
  registerGradientOnce(gradient);
  return tf.engine().runKernel(GAUSSIAN_LOG_PDF, { x, mean, logVar }) as tf.Tensor;
}
