/**
 * A dense layer, act(x·W + b), as one kernel each way where the backend has it: kexue's 'aten' registers
 * `KexueDense` (one matrix product, then the bias and the activation in one pass over it) and
 * `KexueDenseGrad` (dPre = dy·act'(y) and db = Σ_rows dPre in one pass, and dW = xᵀ·dPre; dx = dPre·Wᵀ is
 * a separate product, run only when the tape asks for it, which it does not for a first layer's data). In
 * tfjs ops the forward pass takes three kernels (product, bias, activation), each output saved again
 * through the engine's copies, and the backward pass five or six.
 *
 * Like the other fused kernels, the gradient is one kernel in plain training and differentiable ops when a
 * tape records it (grad/native-backward.ts); those recompute the activation from x, W and b, since tfjs
 * does not link a saved output into the tape. Elsewhere `dense` runs the op-by-op form; both agree within
 * float32 rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeBackward } from '../grad/native-backward.js';
import { registerGradientOnce } from '../grad/register-once.js';

export const DENSE = 'KexueDense';
export const DENSE_GRAD = 'KexueDenseGrad';

/** The activations `dense` fuses, named as tfjs-layers names them. */
export const DENSE_ACTIVATIONS = ['linear', 'relu', 'tanh', 'sigmoid'] as const;
/** One of `DENSE_ACTIVATIONS`. */
export type DenseActivation = (typeof DENSE_ACTIVATIONS)[number];

/** act(pre) in tfjs ops. */
function activate(pre: tf.Tensor, activation: DenseActivation): tf.Tensor {
  switch (activation) {
    case 'linear':
      return pre;
    case 'relu':
      return tf.relu(pre);
    case 'tanh':
      return tf.tanh(pre);
    case 'sigmoid':
      return tf.sigmoid(pre);
  }
}

/** dy·act'(x·W + b), recomputed from the inputs in differentiable ops (for a recorded gradient). */
function throughActivation(
  dy: tf.Tensor,
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor,
  act: DenseActivation,
) {
  if (act === 'linear') return dy;
  const pre = tf.add(tf.matMul(x, kernel), bias);
  if (act === 'relu') return tf.mul(dy, tf.step(pre)); // step's gradient is registered (zero)
  const y = activate(pre, act);
  const deriv = act === 'tanh' ? tf.sub(1, tf.square(y)) : tf.mul(y, tf.sub(1, y));
  return tf.mul(dy, deriv);
}

const gradient: tf.GradConfig = {
  kernelName: DENSE,
  inputsToSave: ['x', 'kernel', 'bias'],
  outputsToSave: [true],
  gradFunc: (dy, [x, kernel, bias, y], attrs) => {
    const g = dy as tf.Tensor;
    const activation = attrs.activation as DenseActivation;
    if (nativeBackward(DENSE_GRAD)) {
      // Run here, not in the per-input closures (each runs in its own tidy, which would dispose the
      // other outputs); whichever the tape does not ask for is disposed with the backward pass.
      const [dPre, dKernel, dBias] = tf
        .engine()
        .runKernel(DENSE_GRAD, { dy: g, x, kernel, y }, { activation }) as tf.Tensor[];
      return { x: () => tf.matMul(dPre, kernel, false, true), kernel: () => dKernel, bias: () => dBias };
    }
    const dPre = throughActivation(g, x, kernel, bias, activation);
    return {
      x: () => tf.matMul(dPre, kernel, false, true),
      kernel: () => tf.matMul(x, dPre, true, false),
      bias: () => tf.sum(dPre, 0),
    };
  },
};

/**
 * act(x·kernel + bias) over the last axis of `x` ([..., in] by [in, out], bias [out]): a dense layer,
 * fused into one kernel each way when the active backend has them (kexue's 'aten'), else tfjs ops.
 * Without a bias it is always the op-by-op form. Throws on mismatched shapes or an unknown activation.
 *
 * @example
 * const x = tf.tensor2d([[1, 2]]);
 * const w = tf.tensor2d([[1, 0, -1], [0, 1, 1]]);
 * dense(x, w, tf.tensor1d([0, 0, -1]), 'relu'); // [[1, 2, 0]]
 */
export function dense(
  x: tf.Tensor,
  kernel: tf.Tensor2D,
  bias?: tf.Tensor1D,
  activation: DenseActivation = 'linear',
): tf.Tensor {
  if (!DENSE_ACTIVATIONS.includes(activation))
    throw new Error(
      `dense: activation '${String(activation)}' is not one of ${DENSE_ACTIVATIONS.join(', ')}`,
    );
  if (x.rank < 2 || kernel.rank !== 2 || x.shape[x.rank - 1] !== kernel.shape[0])
    throw new Error(
      `dense: x ${JSON.stringify(x.shape)} does not fit a kernel ${JSON.stringify(kernel.shape)}`,
    );
  if (bias && (bias.rank !== 1 || bias.shape[0] !== kernel.shape[1]))
    throw new Error(
      `dense: bias ${JSON.stringify(bias.shape)} does not fit a kernel ${JSON.stringify(kernel.shape)}`,
    );
  return tf.tidy(() => {
    const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, kernel.shape[0]]);
    let y: tf.Tensor;
    if (bias && fusedDenseApplies(x, kernel, bias)) {
      registerGradientOnce(gradient);
      y = tf.engine().runKernel(DENSE, { x: x2, kernel, bias }, { activation }) as tf.Tensor;
    } else if (bias && activation === 'linear') {
      y = tf.fused.matMul({ a: x2 as tf.Tensor2D, b: kernel, bias }); // one kernel on webgl and wasm
    } else {
      const product = tf.matMul(x2, kernel);
      y = activate(bias ? tf.add(product, bias) : product, activation);
    }
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1]]);
  });
}

/** Whether the active backend has both kernels and the operands are float32. */
function fusedDenseApplies(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor): boolean {
  const backend = tf.getBackend();
  if (!tf.getKernel(DENSE, backend) || !tf.getKernel(DENSE_GRAD, backend)) return false;
  return [x, kernel, bias].every((t) => t.dtype === 'float32');
}
