/**
 * The Bernoulli log-likelihood Σ x·l − softplus(l) over the last axis (a VAE decoder's log p(x|z) from
 * logits l), as one kernel where the backend has it: kexue's 'aten' registers `KexueBernoulliLogPmf`
 * and its gradient `KexueBernoulliLogPmfGrad`, dl = dy·(x − sigmoid(l)), each one pass over the
 * logits (native/loops.cc). In tfjs ops the value takes four passes (product, softplus, difference, sum)
 * and the gradient three, over what is an IWAE step's largest tensor ([batch, k, pixels]).
 *
 * Like the fused cross-entropy, the gradient is one kernel in plain training and differentiable ops
 * when a tape records it (grad/native-backward.ts). x is data: it gets no gradient (tfjs reports an
 * error if one is asked for), as in the op-by-op form.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeBackward } from '../grad/native-backward.js';
import { registerGradientOnce } from '../grad/register-once.js';

export const BERNOULLI_LOG_PMF = 'KexueBernoulliLogPmf';
export const BERNOULLI_LOG_PMF_GRAD = 'KexueBernoulliLogPmfGrad';

const gradient: tf.GradConfig = {
  kernelName: BERNOULLI_LOG_PMF,
  inputsToSave: ['x', 'logits'],
  gradFunc: (dy, [x, logits]) => ({
    logits: () => {
      if (nativeBackward(BERNOULLI_LOG_PMF_GRAD))
        return tf.engine().runKernel(BERNOULLI_LOG_PMF_GRAD, { dy: dy as tf.Tensor, x, logits }) as tf.Tensor;
      return tf.mul(tf.expandDims(dy as tf.Tensor, -1), tf.sub(x, tf.sigmoid(logits)));
    },
  }),
};

/**
 * Whether `bernoulliLogPmf(x, logits)` can run as the fused kernel: the active backend has both kernels,
 * both tensors are float32, and x broadcasts to the logits' shape (rank ≥ 1).
 */
export function fusedBernoulliLogPmfApplies(x: tf.Tensor, logits: tf.Tensor): boolean {
  const backend = tf.getBackend();
  if (!tf.getKernel(BERNOULLI_LOG_PMF, backend) || !tf.getKernel(BERNOULLI_LOG_PMF_GRAD, backend))
    return false;
  if (x.dtype !== 'float32' || logits.dtype !== 'float32' || logits.rank === 0 || x.rank > logits.rank)
    return false;
  const offset = logits.rank - x.rank;
  return x.shape.every((d, i) => d === logits.shape[offset + i] || d === 1);
}

/** The fused kernel (see `fusedBernoulliLogPmfApplies`): the log-likelihood summed over the last axis. */
export function fusedBernoulliLogPmf(x: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  registerGradientOnce(gradient);
  return tf.engine().runKernel(BERNOULLI_LOG_PMF, { x, logits }) as tf.Tensor;
}
