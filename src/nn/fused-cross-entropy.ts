/**
 * Softmax cross-entropy against integer class labels, −log softmax(logits)[label] per row, as one kernel
 * where the backend has it (kexue's 'aten' registers `KexueSparseXent` over ATen's log_softmax + nll_loss,
 * and `KexueSparseXentGrad` over nll_loss_backward + _log_softmax_backward_data). tfjs's usual form
 * (one-hot × log-softmax) makes the one-hot matrix and runs about ten kernels over the [rows, classes]
 * logits forward and as many backward; an MLM head's logits (masked positions × vocabulary) are the
 * largest tensor of a small encoder's step.
 *
 * The gradient is dlogits = dy·(softmax(logits) − onehot(label)). Under the rule of
 * grad/native-backward.ts it is one kernel in plain training; when a tape records it (gradient
 * penalties differentiate it again) it is written in differentiable ops from the logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeBackward } from '../grad/native-backward.js';
import { logSoftmax } from '../grad/softmax.js';
import { registerGradientOnce } from '../grad/register-once.js';

export const SPARSE_XENT = 'KexueSparseXent';
export const SPARSE_XENT_GRAD = 'KexueSparseXentGrad';

// The kernel's one output is the loss: the gradient recomputes log-softmax from the saved logits. Were
// the log-probabilities a second output, tfjs would hand the gradient a zeros tensor for it, made in
// JavaScript at the logits' full size, on every step.
const gradient: tf.GradConfig = {
  kernelName: SPARSE_XENT,
  inputsToSave: ['logits', 'labels'],
  gradFunc: (dy, [logits, labels]) => ({
    logits: () => {
      if (nativeBackward(SPARSE_XENT_GRAD))
        return tf.engine().runKernel(SPARSE_XENT_GRAD, { dy: dy as tf.Tensor, logits, labels }) as tf.Tensor;
      const softmaxLessOnehot = tf.sub(
        tf.exp(logSoftmax(logits)),
        tf.oneHot(labels as tf.Tensor1D, logits.shape[1]!),
      );
      return tf.mul(tf.reshape(dy as tf.Tensor, [-1, 1]), softmaxLessOnehot);
    },
  }),
};

/**
 * Per-row cross-entropy −log softmax(logits)[label] of `logits` [rows, classes] against `labels` [rows]
 * (int32 class indices); take `tf.mean` of it for the usual loss. Fused when the active backend has the
 * kernel. A label outside [0, classes) is an error on 'aten' (ATen's "Target … is out of bounds") and
 * gives that row a NaN loss elsewhere, which stops kexue's training loops: never a silently wrong loss.
 *
 * @example
 * const logits = tf.tensor2d([[2, 0, 0], [0, 0, 0]]);
 * const losses = sparseSoftmaxCrossEntropy(logits, tf.tensor1d([0, 2], 'int32'));
 * // → [0.2395, 1.0986]: −log(e²/(e² + 2)) and log 3
 */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor1D {
  if (logits.rank !== 2 || logits.dtype !== 'float32')
    throw new Error(
      `sparseSoftmaxCrossEntropy: logits must be float32 [rows, classes], got ${logits.dtype} [${logits.shape.join(', ')}]`,
    );
  if (labels.rank !== 1 || labels.dtype !== 'int32' || labels.shape[0] !== logits.shape[0])
    throw new Error(
      `sparseSoftmaxCrossEntropy: labels must be int32 [${logits.shape[0]}] (one class index per row), got ${labels.dtype} [${labels.shape.join(', ')}]`,
    );
  if (tf.getKernel(SPARSE_XENT, tf.getBackend()) && tf.getKernel(SPARSE_XENT_GRAD, tf.getBackend())) {
    registerGradientOnce(gradient);
    return tf.engine().runKernel(SPARSE_XENT, { logits, labels }) as tf.Tensor1D;
  }
  return tf.tidy(() => {
    const classes = logits.shape[1]!;
    const loss = tf.neg(tf.sum(tf.mul(tf.oneHot(labels, classes), logSoftmax(logits)), 1));
    // oneHot gives an all-zero row (loss 0) for a label out of range: make that row NaN instead.
    const valid = tf.logicalAnd(tf.greaterEqual(labels, 0), tf.less(labels, classes));
    return tf.where(valid, loss, tf.fill(loss.shape, NaN)) as tf.Tensor1D;
  });
}
