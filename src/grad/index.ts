/**
 * Correct, themselves-differentiable gradients for tf.grad-of-tf.grad (gradient penalties, gradient
 * normalization), registered over tfjs-core 4.22's built-ins. Backend-independent: gradients are
 * composed of ordinary ops, so they hold on cpu, wasm and the native backend alike.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's own gradients are registered by tfjs-layers' entry point; load it first so that ours,
// registered afterwards, win.
import '@tensorflow/tfjs-layers';
import { activationGrads } from './activations.js';
import { softmaxGrad } from './softmax.js';
import { structuralGrads } from './structural.js';

export { logSoftmax } from './softmax.js';

let registered = false;

/** Registers kexue's gradient fixes once; later calls do nothing. */
export function registerGradientFixes(): void {
  if (registered) return;
  for (const config of [...activationGrads, softmaxGrad, ...structuralGrads]) tf.registerGradient(config);
  registered = true;
}
