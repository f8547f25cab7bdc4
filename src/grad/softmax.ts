/**
 * Softmax's gradient recomputed from the logits (tfjs-core's uses the saved output, which breaks double
 * backprop; see activations.ts), and a log-softmax built from differentiable primitives: tf.logSoftmax
 * is a `customGrad` whose gradient also reads its saved output and cannot be overridden by kernel name.
 * When no tape records the gradient (plain training), the saved output is safe to use, and a backend
 * with `KexueSoftmaxGrad` (kexue's 'aten': ATen's `_softmax_backward_data`) does it in one call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { nativeBackward } from './native-backward.js';

/** Kernel: dy·y − y·Σ(dy·y) along `dim`, from the softmax output y. No gradient of its own. */
export const SOFTMAX_GRAD = 'KexueSoftmaxGrad';

export const softmaxGrad: GradConfig = {
  kernelName: 'Softmax',
  inputsToSave: ['logits'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    if (Array.isArray(dy)) throw new Error('kexue grad: expected a single upstream gradient');
    const [logits, output] = saved;
    const dim = attrs.dim as number;
    if (nativeBackward(SOFTMAX_GRAD))
      return { logits: () => tf.engine().runKernel(SOFTMAX_GRAD, { dy, y: output }, { dim }) as Tensor };
    return {
      logits: () => {
        const y = tf.softmax(logits, dim);
        const dyY = tf.mul(dy, y);
        return tf.sub(dyY, tf.mul(tf.sum(dyY, [dim], true), y));
      },
    };
  },
};

/**
 * log softmax along `axis` (default last) as x − logsumexp(x): differentiable to any order, unlike
 * tf.logSoftmax whose second derivative is wrong in tfjs-core 4.22. Use it in losses that are
 * differentiated twice (parameter-gradient penalties).
 *
 * @example
 * const logp = logSoftmax(logits); // same shape as logits; rows of exp(logp) sum to 1
 * const xent = tf.neg(tf.mean(tf.sum(tf.mul(y, logp), -1))); // cross-entropy with one-hot y
 */
export function logSoftmax(logits: Tensor, axis = -1): Tensor {
  return tf.tidy(() => tf.sub(logits, tf.logSumExp(logits, axis, true)));
}
