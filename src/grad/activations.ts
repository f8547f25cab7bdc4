/**
 * Gradients of elementwise activations written so that they can themselves be differentiated.
 *
 * tfjs-core 4.22 computes the gradients of Tanh, Sigmoid, Exp, Elu (and Softmax) from the op's saved
 * *output*. The engine saves that output through a clone taped *before* the op's own node, so when the
 * gradient is differentiated again the path output → input is dropped and second derivatives come out
 * wrong (measured relative errors 0.08–0.6 against central differences). LeakyRelu, Prelu, Selu and
 * Relu6 build masks with Greater/LessEqual, which have no gradient, so double backprop throws.
 * Every gradient below is recomputed from the op's *input* with ordinary differentiable ops; masks
 * come from `step`, whose (zero) gradient is registered. Tanh, Sigmoid and Exp use their saved output
 * only when no tape records the gradient, where the dropped path cannot matter.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { nativeBackward } from './native-backward.js';

/** SELU constants as tfjs-core uses them (backend_util.SELU_SCALE / SELU_SCALEALPHA). */
const SELU_SCALE = 1.0507009873554805;
const SELU_SCALEALPHA = 1.7580993408473768;

/** The single upstream gradient of a one-output op. */
export function one(dy: Tensor | Tensor[]): Tensor {
  if (Array.isArray(dy)) throw new Error('kexue grad: expected a single upstream gradient');
  return dy;
}

/** 1 where x > 0 else 0, as float32, with a zero gradient (Step's registered gradient). */
function positive(x: Tensor): Tensor {
  return tf.step(tf.cast(x, 'float32'));
}

/** exp(min(x, 0)): the negative branch of elu/selu without overflow on the (unused) positive side. */
function expNeg(x: Tensor): Tensor {
  return tf.exp(tf.minimum(tf.cast(x, 'float32'), 0));
}

/** A gradient config for a one-input elementwise op whose derivative is `deriv(x, attrs)`. */
function unary(kernelName: string, deriv: (x: Tensor, attrs: NamedAttrMap) => Tensor): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      return { x: () => tf.mul(one(dy), deriv(x, attrs)) };
    },
  };
}

/** Kernel: tanh's or sigmoid's backward from the output y (attr `activation`). No gradient of its own. */
export const ACTIVATION_GRAD = 'KexueActivationGrad';

/**
 * `unary`, except that when no tape records the gradient (plain training: nothing will differentiate it)
 * the derivative comes from the saved output, in one call on a backend with ACTIVATION_GRAD (kexue's
 * 'aten': ATen's tanh_backward / sigmoid_backward) or by `fallback` elsewhere.
 */
function fromOutput(
  kernelName: string,
  deriv: (x: Tensor) => Tensor,
  activation: 'tanh' | 'sigmoid' | undefined,
  fallback: (dy: Tensor, y: Tensor) => Tensor,
): GradConfig {
  const recomputed = unary(kernelName, deriv);
  return {
    ...recomputed,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const y = saved[1];
      if (activation && nativeBackward(ACTIVATION_GRAD))
        return {
          x: () => tf.engine().runKernel(ACTIVATION_GRAD, { dy: one(dy), y }, { activation }) as Tensor,
        };
      if (!tf.engine().isTapeOn()) return { x: () => fallback(one(dy), y) };
      return recomputed.gradFunc(dy, saved, attrs);
    },
  };
}

const tanh = fromOutput(
  'Tanh',
  (x) => tf.sub(1, tf.square(tf.tanh(x))),
  'tanh',
  (dy, y) => tf.mul(dy, tf.sub(1, tf.square(y))),
);

const sigmoid = fromOutput(
  'Sigmoid',
  (x) => {
    const s = tf.sigmoid(x);
    return tf.mul(s, tf.sub(1, s));
  },
  'sigmoid',
  (dy, y) => tf.mul(dy, tf.mul(y, tf.sub(1, y))),
);

const exp = fromOutput(
  'Exp',
  (x) => tf.exp(x),
  undefined,
  (dy, y) => tf.mul(dy, y),
);

// d elu / dx = 1 for x > 0, exp(x) otherwise (tfjs elu has alpha = 1).
const elu = unary('Elu', (x) => {
  const p = positive(x);
  return tf.add(p, tf.mul(tf.sub(1, p), expNeg(x)));
});

const leakyRelu = unary('LeakyRelu', (x, attrs) => {
  const alpha = attrs.alpha as number;
  return tf.add(alpha, tf.mul(1 - alpha, positive(x)));
});

const selu = unary('Selu', (x) => {
  const p = positive(x);
  return tf.add(tf.mul(SELU_SCALE, p), tf.mul(tf.mul(SELU_SCALEALPHA, tf.sub(1, p)), expNeg(x)));
});

// d relu6 / dx = 1 on 0 < x <= 6, as tfjs-core defines it.
const relu6 = unary('Relu6', (x) => tf.mul(positive(x), tf.sub(1, positive(tf.sub(x, 6)))));

/** Sums `g` down to `shape` (undoing broadcasting), then reshapes to it. */
function reduceTo(g: Tensor, shape: number[]): Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
}

const prelu: GradConfig = {
  kernelName: 'Prelu',
  inputsToSave: ['x', 'alpha'],
  gradFunc: (dy, saved) => {
    const [x, alpha] = saved;
    const g = one(dy);
    const p = positive(x);
    const n = tf.sub(1, p);
    return {
      x: () => tf.mul(g, tf.add(p, tf.mul(n, alpha))),
      alpha: () => reduceTo(tf.mul(tf.mul(g, n), x), alpha.shape),
    };
  },
};

export const activationGrads: readonly GradConfig[] = [
  tanh,
  sigmoid,
  exp,
  elu,
  leakyRelu,
  selu,
  relu6,
  prelu,
];
