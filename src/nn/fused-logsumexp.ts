/**
 * log Σ exp(x) along one axis as one kernel each way where the backend has it: kexue's 'aten' registers
 * `KexueLogSumExp` (ATen's logsumexp) and `KexueLogSumExpGrad`, dx = dy·exp(x − y) (y the output). tfjs's
 * `tf.logSumExp` is six kernels forward (max, difference, exp, sum, log, sum), each input the tape keeps
 * copied through the engine, and about fifteen backward. An IWAE bound's log-mean-exp over its k samples,
 * CoSENT's loss and a log-softmax are each one of them.
 *
 * Like the other fused kernels, the gradient is one kernel in plain training and differentiable ops (the
 * softmax along the axis, from x) when a tape records it (grad/native-backward.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeBackward } from '../grad/native-backward.js';
import { registerGradientOnce } from '../grad/register-once.js';

export const LOG_SUM_EXP = 'KexueLogSumExp';
export const LOG_SUM_EXP_GRAD = 'KexueLogSumExpGrad';

const gradient: tf.GradConfig = {
  kernelName: LOG_SUM_EXP,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, [x, y], attrs) => ({
    x: () => {
      const { axis, keepDims } = attrs as { axis: number; keepDims: boolean };
      if (nativeBackward(LOG_SUM_EXP_GRAD))
        return tf
          .engine()
          .runKernel(LOG_SUM_EXP_GRAD, { dy: dy as tf.Tensor, x, y }, { axis, keepDims }) as tf.Tensor;
      const kept = keepDims ? (dy as tf.Tensor) : tf.expandDims(dy as tf.Tensor, axis);
      return tf.mul(kept, tf.exp(tf.sub(x, tf.logSumExp(x, axis, true))));
    },
  }),
};

/** The one axis `axis` names in a tensor of `rank`, or null when it names several (or none). */
function singleAxis(axis: number | number[] | null | undefined, rank: number): number | null {
  if (axis == null) return rank === 1 ? 0 : null;
  const list = Array.isArray(axis) ? axis : [axis];
  if (list.length !== 1 || !Number.isInteger(list[0]) || list[0] < -rank || list[0] >= rank) return null;
  return list[0] < 0 ? list[0] + rank : list[0];
}

/**
 * `tf.logSumExp(x, axis, keepDims)`, with the same arguments and result: one fused kernel each way when
 * the active backend has them, x is float32 and non-empty, and `axis` is one axis (or x is 1-D);
 * otherwise `tf.logSumExp` itself. They differ only where tfjs's max-shift breaks: along an axis that is
 * all −∞ the fused value is −∞ (tfjs: NaN), and with a +∞ entry it is +∞ (tfjs: NaN).
 *
 * @example
 * const lse = logSumExp(tf.tensor2d([[0, 0], [1, 2]]), 1);
 * // → [0.6931, 2.3133]: log 2 and log(e + e²)
 */
export function logSumExp<T extends tf.Tensor>(
  x: tf.Tensor,
  axis: number | number[] | null = null,
  keepDims = false,
): T {
  const backend = tf.getBackend();
  const one = singleAxis(axis, x.rank);
  if (
    one === null ||
    x.dtype !== 'float32' ||
    x.size === 0 ||
    !tf.getKernel(LOG_SUM_EXP, backend) ||
    !tf.getKernel(LOG_SUM_EXP_GRAD, backend)
  )
    return tf.logSumExp<T>(x, axis ?? undefined, keepDims);
  registerGradientOnce(gradient);
  return tf.engine().runKernel(LOG_SUM_EXP, { x }, { axis: one, keepDims }) as T;
}
