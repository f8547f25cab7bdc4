/**
 * Correct, themselves-differentiable gradients for tf.grad-of-tf.grad (gradient penalties, gradient
 * normalization), and the arithmetic ones with tfjs-core's values in fewer kernels (arithmetic.ts),
 * registered over tfjs-core 4.22's built-ins. Backend-independent: gradients are composed of ordinary
 * ops, so they hold on cpu, wasm and the native backend alike.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's own gradients are registered by tfjs-layers' entry point; load it first so that ours,
// registered afterwards, win.
import '@tensorflow/tfjs-layers';
import { activationGrads } from './activations.js';
import { arithmeticGrads } from './arithmetic.js';
import { softmaxGrad } from './softmax.js';
import { structuralGrads } from './structural.js';

export { logSoftmax } from './softmax.js';
export { stopGradient } from './stop-gradient.js';

let registered = false;

/**
 * Registers kexue's gradient fixes over tfjs-core's once; later calls do nothing. Importing kexue (or
 * calling `initBackend`) already does it, so call it only to make the dependency explicit.
 *
 * @example
 * registerGradientFixes();
 * const g = tf.grad((v: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.elu(u)))(v)));
 * g(tf.tensor1d([-1, 0.5])).print(); // ELU's second derivative: [e^-1, 0]
 */
export function registerGradientFixes(): void {
  if (registered) return;
  for (const config of [...activationGrads, ...arithmeticGrads, softmaxGrad, ...structuralGrads])
    tf.registerGradient(config);
  registered = true;
}
